"""Benchmarks: ``pytest benchmarks --benchmark-enable --benchmark-json results/benchmarks/NAME.json``."""

import os

import pytest
import torch

os.environ.setdefault("GANBENCH_LOAD_PLUGINS", "ganbench")


@pytest.fixture(scope="session")
def registry():
    from ganbench.core.registry import load_registry

    return load_registry()


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["torch"] = torch.__version__
    machine_info["torch_threads"] = torch.get_num_threads()
    machine_info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
