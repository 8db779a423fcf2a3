"""Data-parallel training: 2 CPU processes with gloo under torchrun, for each recipe."""

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import torch
from dist_worker import SpyPlugin, spy_sets
from procs import run_bounded

from ganbench.core.config import RunConfig
from ganbench.testing import plugin
from ganbench.train.networks import build_networks

TORCHRUN = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or shutil.which("torchrun")
WORKER = str(Path(__file__).parents[1] / "dist_worker.py")


def _run(args, results, nproc=None):
    """``ganbench run`` in 1 or ``nproc`` processes; every process saves its final networks in ``results``."""
    env = {**os.environ, "GANBENCH_LOAD_PLUGINS": "ganbench", "OMP_NUM_THREADS": "1"}
    results.mkdir(parents=True)
    base = [WORKER, str(results), "run", *args, "--results", str(results), "--device", "cpu", "-q"]
    cmd = [TORCHRUN, "--standalone", f"--nproc-per-node={nproc}", *base] if nproc else [sys.executable, *base]
    res = run_bounded(cmd, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def _float_keys(state):
    return [k for k, v in state.items() if v.is_floating_point()]


def assert_equal_within_one_step(a, b, w0, rtol=1e-3):
    """``a`` and ``b`` moved from ``w0`` by the same update: per tensor, they differ by at most ``rtol`` of
    that tensor's own update (plus float32 rounding, and 1e-6 of the network's largest update for tensors
    whose gradient is zero, such as the last bias of a Wasserstein critic), and the update is not zero."""
    assert a.keys() == b.keys() == w0.keys()
    biggest = max(float((a[k] - w0[k]).abs().max()) for k in _float_keys(w0))
    moved = 0
    for k in _float_keys(w0):
        da, db = a[k] - w0[k], b[k] - w0[k]
        ulp = 4 * torch.finfo(torch.float32).eps * max(float(w0[k].abs().max()), float(a[k].abs().max()))
        tol = rtol * float(da.abs().max()) + ulp + 1e-6 * biggest
        assert float((da - db).abs().max()) <= tol, f"{k}: {float((da - db).abs().max()):.3g} > {tol:.3g}"
        moved += float(da.abs().max()) > 100 * ulp
    assert moved >= len(_float_keys(w0)) // 2  # most tensors really moved: the comparison is not vacuous


#: stylegan-r1 (non-saturating BCE + R1 every 16th critic step, in an optimiser step of its own, through the
#: plain critic) with pix2pixHD's feature matching on a spectral-norm critic: the generator's loss sees the
#: critic's intermediate features of the fake (with gradients) and of the real batch (detached), gathered over
#: the global batch under torchrun; the lazy R1 step's gradients are averaged over the ranks
FEATURE_MATCHING = ("--set", "critic.features=true", "--set", "critic.spectral_norm=true",
                    "--set", "loss.feature_matching=10")


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not found")
@pytest.mark.parametrize(("model", "extra"), [("dcgan", ()), ("wgan", ()), ("wgan-gp", ()),
                                              ("stylegan-r1", FEATURE_MATCHING)],
                         ids=["dcgan", "wgan", "wgan-gp", "feature-matching-lazy-r1-spectral-norm"])
def test_two_processes_equal_one_process_with_the_same_global_batch(tmp_path, model, extra):
    # SGD makes the weights after a step a linear function of the gradients: equal weights <=> equal gradients
    args = ["--models", model, "--budget", "smoke,steps=2", "--precision", "fp32", *spy_sets(model), *extra,
            "--set", "generator_optimizer.name=sgd", "--set", "critic_optimizer.name=sgd",
            "--set", "generator_optimizer.lr=1e-4", "--set", "critic_optimizer.lr=1e-4",
            "--set", "generator.dropout=0"]  # dropout masks are per process; the gradients are the point here
    one_out = _run(args, tmp_path / "one")
    out = _run(args, tmp_path / "two", nproc=2)
    # only rank 0 reports: the table (stdout) and the closing line (stderr) appear as often as in one process
    assert model in out.stdout and "gray" in out.stdout
    assert out.stdout.count("gray") == one_out.stdout.count("gray")
    assert out.stderr.count("report written") == one_out.stderr.count("report written") == 1
    [one] = list((tmp_path / "one" / "runs").iterdir())
    [two] = list((tmp_path / "two" / "runs").iterdir())  # only rank 0 wrote a run folder
    rec = json.loads((two / "run.json").read_text())
    assert rec["status"] == "complete" and rec["spent"]["images"] == 2 * 4  # global images
    if extra:  # the recipe really trained with feature matching on a feature-returning critic, and lazy R1
        recipe = rec["config"]["recipe"]
        assert recipe["loss_options"]["feature_matching"] == 10 and recipe["critic_options"]["features"] is True
        assert recipe["regularizers"] == [{"name": "r1", "gamma": 10.0, "every": 16}]
        assert float((two / "history.csv").read_text().splitlines()[1].split(",")[
            (two / "history.csv").read_text().splitlines()[0].split(",").index("d_reg")]) > 0  # due at step 0
    assert {"metrics.json", "per_image.csv", "samples.png", "generator.pt"} <= {p.name for p in two.iterdir()}

    single = torch.load(tmp_path / "one" / "rank0.pt")
    ranks = [torch.load(tmp_path / "two" / f"rank{r}.pt") for r in (0, 1)]
    with plugin(SpyPlugin(), name="spy") as registry:
        init = build_networks(registry, RunConfig.from_dict(rec["config"]), torch.device("cpu"), channels_last=False)
    for net in ("generator", "critic"):
        w0 = getattr(init, net).state_dict()
        for r, state in enumerate(ranks):  # each rank, BatchNorm running statistics included
            try:
                assert_equal_within_one_step(single[net], state[net], w0)
            except AssertionError as exc:
                raise AssertionError(f"{net} of rank {r}: {exc}") from None
    ma = json.loads((one / "metrics.json").read_text())["model"]
    mb = json.loads((two / "metrics.json").read_text())["model"]
    assert ma["psnr"] == pytest.approx(mb["psnr"], abs=1e-3)
