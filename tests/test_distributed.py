"""Data-parallel training: 2 CPU processes with gloo under torchrun, for each recipe."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from ganbench.results import safe_load

TORCHRUN = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or shutil.which("torchrun")


def _run(args, results, nproc=None):
    env = {**os.environ, "GANBENCH_LOAD_PLUGINS": "ganbench", "OMP_NUM_THREADS": "1"}
    base = ["-m", "ganbench", "run", *args, "--results", str(results), "--device", "cpu", "-q"]
    cmd = [TORCHRUN, "--standalone", f"--nproc-per-node={nproc}", *base] if nproc else [sys.executable, *base]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not found")
@pytest.mark.parametrize("model", ["dcgan", "wgan", "wgan-gp"])
def test_two_processes_equal_one_process_with_the_same_global_batch(tmp_path, model):
    # SGD makes the weights after a step a linear function of the gradients: equal weights <=> equal gradients
    args = ["--models", model, "--budget", "smoke,steps=2", "--precision", "fp32",
            "--set", "generator_optimizer.name=sgd", "--set", "critic_optimizer.name=sgd",
            "--set", "generator_optimizer.lr=1e-4", "--set", "critic_optimizer.lr=1e-4",
            "--set", "generator.dropout=0"]  # dropout masks are per process; the gradients are the point here
    _run(args, tmp_path / "one")
    out = _run(args, tmp_path / "two", nproc=2)
    assert model in out.stdout and "gray" in out.stdout  # rank 0 printed the table, once
    assert out.stdout.count("report written") <= 1
    [one] = list((tmp_path / "one" / "runs").iterdir())
    [two] = list((tmp_path / "two" / "runs").iterdir())  # only rank 0 wrote a run folder
    rec = json.loads((two / "run.json").read_text())
    assert rec["status"] == "complete" and rec["spent"]["images"] == 2 * 4  # global images
    assert {"metrics.json", "per_image.csv", "samples.png", "generator.pt"} <= {p.name for p in two.iterdir()}
    wa, wb = safe_load(one / "generator.pt"), safe_load(two / "generator.pt")
    # compare the *updates* from the common initial weights, relative to their size
    from ganbench.registry import load_registry
    from ganbench.trainer import build_models

    w0 = build_models(load_registry(), rec["config"]["recipe"], torch.device("cpu"), 0).generator.state_dict()
    assert wa.keys() == wb.keys() == w0.keys()
    keys = [k for k in wa if wa[k].is_floating_point() and "running" not in k]
    deltas = {k: (wa[k] - w0[k], wb[k] - w0[k]) for k in keys}
    biggest = max(float(da.abs().max()) for da, _ in deltas.values())
    for k, (da, db) in deltas.items():
        # float32 weights of ~0.02 carry updates to ~2e-9: tolerate that rounding, nothing more
        ulp = 4 * torch.finfo(torch.float32).eps * float(w0[k].abs().max())
        assert float((da - db).abs().max()) <= 1e-3 * biggest + ulp, k
    assert biggest > 1e-6  # the step really moved the weights
    for k in wa:  # BatchNorm running statistics: over the global batch in both
        if "running" in k:
            assert torch.allclose(wa[k], wb[k], rtol=1e-4, atol=1e-6), k
    ma = json.loads((one / "metrics.json").read_text())["model"]
    mb = json.loads((two / "metrics.json").read_text())["model"]
    assert ma["psnr"] == pytest.approx(mb["psnr"], abs=1e-3)
