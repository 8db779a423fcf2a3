"""The prepared GPU check runs end to end on the CPU (``--device cpu --quick``): the command that will be run on
a GPU machine is the command tested here."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_runs_end_to_end_on_the_cpu(tmp_path):
    out = tmp_path / "check"
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--quick",
                          "--out", str(out)], capture_output=True, text=True, timeout=900)
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
