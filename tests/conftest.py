"""Tests load only ganbench's own plugins (never whatever else is installed) and write to tmp folders."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ["GANBENCH_LOAD_PLUGINS"] = "ganbench"
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _isolate(monkeypatch, tmp_path):
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "ganbench")
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def registry():
    from ganbench.core.registry import load_registry

    return load_registry()


@pytest.fixture(scope="session")
def photos():
    """Real photos that ship with the dependencies, uint8 RGB."""
    import skimage.data
    from sklearn.datasets import load_sample_image

    return {
        "astronaut": skimage.data.astronaut(),
        "coffee": skimage.data.coffee(),
        "chelsea": skimage.data.chelsea(),
        "flower": np.array(load_sample_image("flower.jpg")),
    }


@pytest.fixture(scope="session")
def dcgan_with_loss():
    """A plugin registering ``loss`` under ``loss_name`` and a DCGAN recipe that uses it as ``model_name``."""
    from ganbench.core.hookspecs import hookimpl

    def make(loss_name, loss, model_name):
        class LossPlugin:
            @hookimpl
            def register_losses(self, register):
                register(loss_name, loss)

            @hookimpl
            def register_models(self, register):
                from ganbench_plugins.recipes import dcgan

                def recipe():
                    r = dcgan()
                    r.loss = loss_name
                    return r

                register(model_name, recipe)

        return LossPlugin()

    return make


def pytest_sessionfinish(session):
    """No process a test started outlives the suite: a leftover (a stuck data-parallel worker, a grid a
    failed test did not wait for) would keep pytest from exiting, and CI would run into its time limit."""
    from procs import descendants, kill

    leftovers = descendants(os.getpid())  # every level below pytest: one scan of /proc, one kill each
    kill(leftovers)
    if leftovers:
        print(f"\nconftest: killed {len(leftovers)} process(es) the tests left running: {leftovers}")
