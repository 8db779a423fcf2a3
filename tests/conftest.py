"""Tests load only ganbench's own plugins (never whatever else is installed) and write to tmp folders."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ["GANBENCH_LOAD_PLUGINS"] = "ganbench"
torch.set_num_threads(min(2, os.cpu_count() or 1))


# module- and session-scoped fixtures run before a test's own cache is set: they get a cache folder too
_SESSION_CACHE = Path(tempfile.mkdtemp(prefix="ganbench-test-cache-"))
os.environ["GANBENCH_CACHE"] = str(_SESSION_CACHE)


@pytest.fixture(autouse=True)
def _isolate(monkeypatch, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")  # beside the test's tmp_path: tests list what they write there
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "ganbench")
    monkeypatch.setenv("GANBENCH_CACHE", str(cache))
    # `ganbench run --data-workers/--data-store` keep their value in the environment for the processes a run
    # starts; a test that runs the command in-process must not pass it on to the tests after it
    for name in ("GANBENCH_DATA_WORKERS", "GANBENCH_DATA_STORE"):
        monkeypatch.delenv(name, raising=False)


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
    import shutil

    shutil.rmtree(_SESSION_CACHE, ignore_errors=True)
