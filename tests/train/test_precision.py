"""The default precision is a fixed rule (bf16 on CUDA, fp32 on a CPU), never a timing; ``--precision auto``
times a fresh probe on a CPU; bf16 counts as native only where oneDNN may use the instructions."""

import pytest
import torch

from ganbench.core.errors import ConfigError
from ganbench.train import precision


def _probe(monkeypatch, *speedups):
    """The probe answers ``speedups`` in turn; returns the list of the answers it gave."""
    calls: list[float] = []
    answers = iter(speedups)

    def measure():
        calls.append(next(answers))
        return calls[-1]

    monkeypatch.setattr(precision, "measure_cpu_bf16_speedup", measure)
    return calls


def test_the_cpu_default_is_fp32_and_never_timed(monkeypatch):
    """Even on a CPU with native bf16 where bf16 would win, the default is fp32 and nothing is measured: the
    same command trains in the same precision (and has the same run key) whatever the load."""
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    calls = _probe(monkeypatch)  # any call would raise StopIteration
    assert precision.default_precision(torch.device("cpu")) == "fp32"
    assert precision.resolve_precision(None, torch.device("cpu")) == "fp32"
    assert calls == []


def test_auto_times_a_fresh_probe_each_time(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    calls = _probe(monkeypatch, 0.6, 3.0)
    choice_slow = precision.resolve_precision("auto", torch.device("cpu"))  # bf16 slower: an AVX512-BF16 VM
    choice_fast = precision.resolve_precision("auto", torch.device("cpu"))  # bf16 pays (e.g. AMX): no cache
    assert (choice_slow, choice_fast) == ("fp32", "bf16") and calls == [0.6, 3.0]
    calls = _probe(monkeypatch, 0.6)
    choice = precision.cpu_precision_choice()
    assert choice["precision"] == "fp32" and choice["bf16_speedup"] == 0.6 and "0.60x" in choice["reason"]


def test_auto_without_native_bf16_is_fp32_untimed(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    calls = _probe(monkeypatch)
    assert precision.resolve_precision("auto", torch.device("cpu")) == "fp32" and calls == []


def test_explicit_precisions_pass_and_unknown_ones_fail():
    assert precision.resolve_precision("fp16", torch.device("cpu")) == "fp16"
    with pytest.raises(ConfigError, match="unknown precision 'fp8': use fp32, bf16, fp16, auto"):
        precision.resolve_precision("fp8", torch.device("cpu"))


@pytest.mark.parametrize(("cap", "native"), [("AVX2", False), ("avx512_core", False), ("AVX512_CORE_BF16", True),
                                             ("AVX512_CORE_AMX", True), (None, True)])
def test_a_onednn_isa_cap_below_bf16_means_emulated(monkeypatch, cap, native):
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    if cap is None:
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    else:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    assert precision.cpu_has_native_bf16() is native


def test_no_bf16_flags_means_emulated(monkeypatch):
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2", "fma"})
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    assert precision.cpu_has_native_bf16() is False


def test_the_probe_measures_a_real_ratio():
    speedup = precision.measure_cpu_bf16_speedup(rounds=1)
    assert 0.05 < speedup < 20


def test_cuda_defaults_to_bf16():
    assert precision.default_precision(torch.device("cuda")) == "bf16"
    assert precision.resolve_precision("auto", torch.device("cuda")) == "bf16"


def test_compile_preflight_names_torch_and_python(monkeypatch):
    def unsupported():
        raise RuntimeError("Python 3.14+ not yet supported for torch.compile")

    monkeypatch.setattr("torch._dynamo.eval_frame.check_if_dynamo_supported", unsupported)
    with pytest.raises(ConfigError, match=r"--compile is not supported by torch .* on Python 3\.\d+"):
        precision.check_compile_supported()


def test_a_plan_with_auto_trains_in_the_probes_answer_and_none_in_fp32(monkeypatch, registry, tmp_path):
    from ganbench.core.request import RunRequest
    from ganbench.grid.plan import plan_comparison

    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    calls = _probe(monkeypatch, 3.0)
    [auto] = plan_comparison(RunRequest(models=["dcgan"], budget="smoke", device="cpu", precision="auto",
                                        results=tmp_path), registry)
    [default] = plan_comparison(RunRequest(models=["dcgan"], budget="smoke", device="cpu", results=tmp_path),
                                registry)
    assert (auto.precision, default.precision, calls) == ("bf16", "fp32", [3.0])
    assert auto.run_key() != default.run_key()
