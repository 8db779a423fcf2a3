"""The default precision on a CPU is the faster one as measured on this machine, chosen once and cached."""

import json

import torch

from ganbench.train import precision


def test_cpu_without_bf16_instructions_defaults_to_fp32(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(precision, "measure_cpu_bf16_speedup", lambda: (_ for _ in ()).throw(AssertionError))
    assert precision.default_precision(torch.device("cpu")) == "fp32"


def test_bf16_only_where_measured_faster_and_the_choice_is_cached(monkeypatch, tmp_path):
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    calls = []

    def probe(speedup):
        def measure():
            calls.append(speedup)
            return speedup
        return measure

    monkeypatch.setattr(precision, "measure_cpu_bf16_speedup", probe(0.6))  # bf16 slower: an AVX512-BF16 VM
    choice = precision.cpu_precision_choice()
    assert choice["precision"] == "fp32" and choice["bf16_speedup"] == 0.6 and "0.60x" in choice["reason"]
    monkeypatch.setattr(precision, "measure_cpu_bf16_speedup", probe(3.0))
    assert precision.default_precision(torch.device("cpu")) == "fp32"  # cached: the machine's choice is stable
    assert calls == [0.6]
    (tmp_path / "cpu-precision.json").unlink()
    assert precision.default_precision(torch.device("cpu")) == "bf16"  # a CPU where bf16 pays (e.g. AMX)
    assert calls == [0.6, 3.0]
    assert list(json.loads((tmp_path / "cpu-precision.json").read_text()).values()) == [3.0]


def test_the_probe_measures_a_real_ratio():
    speedup = precision.measure_cpu_bf16_speedup(rounds=1)
    assert 0.05 < speedup < 20


def test_cuda_defaults_to_bf16():
    assert precision.default_precision(torch.device("cuda")) == "bf16"


def test_compile_preflight_names_torch_and_python(monkeypatch):
    import pytest

    from ganbench.core.errors import ConfigError

    def unsupported():
        raise RuntimeError("Python 3.14+ not yet supported for torch.compile")

    monkeypatch.setattr("torch._dynamo.eval_frame.check_if_dynamo_supported", unsupported)
    with pytest.raises(ConfigError, match=r"--compile is not supported by torch .* on Python 3\.\d+"):
        precision.check_compile_supported()
