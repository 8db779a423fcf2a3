"""The prepared GPU check runs end to end on the CPU (``--device cpu --quick``): the command that will be run on
a GPU machine is the command tested here."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from benchmark_module import load_benchmark

ROOT = Path(__file__).resolve().parents[2]




@pytest.mark.parametrize("quick", [True, False])
def test_each_phase_ends_before_the_deadline_keeping_time_for_the_next(quick):
    """Phases run in order; each ends when what is left, less what the later ones keep, is spent: on a machine
    so slow that every phase uses all it may, the check still ends by its deadline (plus 1 s per phase stopped
    at once past it), 3 minutes for --quick."""
    check = load_benchmark("gpu_check")
    minutes = check.MINUTES["quick" if quick else "full"]
    assert minutes == (3.0 if quick else 8.0)
    clock = 8.0  # the versions phase
    for phase in ("bench", "real_run", "pytest_cuda"):
        clock += check.phase_seconds(phase, 60 * minutes - clock, quick)  # the slowest machine: all of it
    assert clock <= 60 * minutes
    assert check.phase_seconds("pytest_cuda", -50.0, quick) == 1.0  # past the deadline: stopped at once
    assert check.phase_seconds("real_run", 10_000.0, False) == 240.0  # the full check's run is capped
    assert check.phase_seconds("bench", 180.0, True) == 80.0  # 100 s kept for the real run and the tests


def test_where_bf16_is_emulated_the_quick_tests_take_their_fp32_and_fp16_cases():
    check = load_benchmark("gpu_check")
    native, emulated = check.quick_test_filter(True), check.quick_test_filter(False)
    assert "bf16" in native and "bf16" not in emulated
    assert "fp32" in emulated and "channels_last" in emulated and "penalty and fp16" in emulated


def test_gpu_check_runs_end_to_end_on_the_cpu(tmp_path):
    out = tmp_path / "check"
    # a limit of its own: the suite's machine is shared, and a loaded one may need more than the quick default (3)
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--quick",
                          "--minutes", "14", "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    info = json.loads((out / "versions.json").read_text())
    assert info["torch"] and info["device"] == "cpu" and info["matmul_fp32_tflops_measured"] > 0
    # the bf16 rate only where bf16 is native (an emulated one is no peak)
    if info["cpu_native_bf16"]:
        assert info["matmul_bf16_tflops_measured"] > 0
    else:
        assert info["matmul_bf16_tflops_measured"] is None
    bench = json.loads((out / "bench.json").read_text())
    defaults = {r["model"]: r for r in bench if r["config"] == "default"}
    assert set(defaults) == {"dcgan", "wgan", "wgan-gp"}
    for r in defaults.values():
        assert r["images_per_s"] > 0 and r["flops_per_image"] > 0 and r["data_images_per_s"] > 0
        share = r.get("achieved_share_of_peak")  # counted FLOP/s over the measured bf16 matmul rate
        assert (share is None or 0 < share <= 1) if info["cpu_native_bf16"] else share is None
        assert r["e2e_images_per_s"] > 0 and 0 <= r["data_share"] <= 1  # fed by the real pipeline
    assert "passed" in (out / "pytest-cuda.txt").read_text()
    assert not [line for line in (out / "pytest-cuda.txt").read_text().splitlines() if line.startswith("FAILED")]
    report = json.loads((out / "run" / "report" / "report.json").read_text())
    models = {row["model"] for c in report["comparisons"] for row in c["rows"]}
    assert {"dcgan", "wgan", "wgan-gp", "gray"} <= models
    assert list(out.glob("profile-*.txt"))
    summary = (out / "summary.md").read_text()
    assert "Targets" in summary and "--budget gpu" in summary and "fed by the real pipeline" in summary
    status = json.loads((out / "status.json").read_text())
    assert all(p["ok"] for p in status["phases"].values())
    assert all(p["cpu_seconds"] >= 0 for p in status["phases"].values()) and status["cpu_seconds"] > 0
