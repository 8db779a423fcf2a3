"""Grids: the executor seam, --jobs N local processes, atomic run claims, --dry-run and status."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from ganbench.cli import cli
from ganbench.core.request import RunRequest
from ganbench.grid.executors import execute_grid, make_executor
from ganbench.grid.in_process import run_comparison
from ganbench.grid.plan import plan_comparison
from ganbench.grid.status import grid_status
from ganbench.store.results import claim_run, safe_load

GRID = dict(models=["l1", "dcgan"], seeds=[0, 1], budget="smoke", device="cpu", checkpoint_every=2)
THREADS = max(1, (os.cpu_count() or 1) // 2)  # what each of 2 local jobs gets: the cores divided


def _by_run(results: Path) -> dict[tuple[str, int], Path]:
    out = {}
    for run in (results / "runs").iterdir():
        if run.name.startswith("."):
            continue
        cfg = json.loads((run / "run.json").read_text())["config"]
        assert (cfg["model"], cfg["seed"]) not in out, "a run was trained twice"
        out[(cfg["model"], cfg["seed"])] = run
    return out


def _same_weights(a: Path, b: Path) -> bool:
    wa, wb = safe_load(a / "generator.pt"), safe_load(b / "generator.pt")
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.fixture(scope="module")
def grids(tmp_path_factory, registry):
    """The same 2x2 grid (2 models x 2 seeds) run one after another in this process and with --jobs 2
    (the sequential run with the thread count of one job, so the kernels are the same)."""
    root = tmp_path_factory.mktemp("grids")
    seq, par = root / "sequential", root / "jobs2"
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        run_comparison(RunRequest(**GRID, results=seq), registry)
    finally:
        torch.set_num_threads(before)
    outcomes = execute_grid(RunRequest(**GRID, results=par), registry, make_executor(registry, "local", {"jobs": 2}))
    return seq, par, outcomes


def test_jobs_2_gives_the_same_per_run_numbers_as_sequential(grids):
    seq, par, outcomes = grids
    assert sorted((o.model, o.seed, o.status) for o in outcomes) == [
        ("dcgan", 0, "complete"), ("dcgan", 1, "complete"), ("l1", 0, "complete"), ("l1", 1, "complete")]
    a, b = _by_run(seq), _by_run(par)
    assert a.keys() == b.keys() and len(a) == 4
    for run in a:
        ma = json.loads((a[run] / "metrics.json").read_text())
        mb = json.loads((b[run] / "metrics.json").read_text())
        assert ma["model"] == mb["model"] and ma["best_step"] == mb["best_step"], run
        assert _same_weights(a[run], b[run]), run
        assert json.loads((b[run] / "run.json").read_text())["provenance"]["torch_threads"] == THREADS
        log = (b[run] / "log.txt").read_text()  # each run's log in its own folder
        assert f"{run[0]} (seed {run[1]}): complete" in log


def test_status_reports_the_grid(grids, registry):
    _, par, _ = grids
    rows = grid_status(par, registry)
    assert [(r["model"], r["seed"], r["state"]) for r in rows] == [
        ("dcgan", 0, "complete"), ("dcgan", 1, "complete"), ("l1", 0, "complete"), ("l1", 1, "complete")]
    assert all(r["reason"].startswith("PSNR ") for r in rows)
    out = CliRunner().invoke(cli, ["status", str(par), "--json"])
    assert out.exit_code == 0 and len(json.loads(out.output)) == 4


def test_a_claimed_run_is_left_to_its_holder_and_status_says_where(registry, tmp_path):
    """Two workers never train the same run: the second finds the key claimed and leaves it."""
    req = RunRequest(models=["l1"], budget="smoke", device="cpu", results=tmp_path)
    [cfg] = plan_comparison(req, registry)
    claim = claim_run(tmp_path, cfg.run_key(), {"host": "node7", "pid": 4242, "job": "99_1", "model": "l1",
                                                       "seed": 0})
    try:
        [outcome] = run_comparison(req, registry)
        assert outcome.status == "claimed"
        assert [p.name for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")] == []
        [row] = grid_status(tmp_path, registry)
        assert row["state"] == "running" and row["where"] == "node7 pid 4242 job 99_1"
    finally:
        claim.release()
    [outcome] = run_comparison(req, registry)  # released: now this process trains it
    assert outcome.status == "complete"


def test_status_names_failed_interrupted_and_not_started_runs(registry, tmp_path):
    from ganbench.grid.executors import GridPlan, write_manifest
    from ganbench.store.records import RunRecord
    from ganbench.store.results import create_run

    req = RunRequest(models=["l1"], seeds=[0, 1, 2], budget="smoke", device="cpu", results=tmp_path)
    configs = plan_comparison(req, registry)
    write_manifest(GridPlan(req, configs), make_executor(registry, "local", {}))
    failed = create_run(tmp_path, "l1", 0, RunRecord(key=configs[0].run_key(), config=configs[0].to_dict()))
    failed.update_record(status="failed", error="CUDA out of memory")
    failed.unlock()
    stopped = create_run(tmp_path, "l1", 1, RunRecord(key=configs[1].run_key(), config=configs[1].to_dict()))
    stopped.update_record(status="interrupted")
    (stopped.path / "state.pt").write_bytes(b"")
    stopped.unlock()
    rows = {r["seed"]: r for r in grid_status(tmp_path, registry)}
    assert (rows[0]["state"], rows[0]["reason"]) == ("failed", "CUDA out of memory")
    assert rows[1]["state"] == "interrupted" and "re-issue" in rows[1]["reason"]
    assert rows[2]["state"] == "not started"


def test_killing_one_worker_leaves_the_others_and_a_reissue_finishes_the_grid(tmp_path):
    cmd = [sys.executable, "-m", "ganbench", "run", "--models", "l1", "--seeds", "2", "--budget", "smoke,steps=100",
           "--checkpoint-every", "10", "--device", "cpu", "--jobs", "2", "-q", "--results", str(tmp_path)]
    env = {**os.environ, "GANBENCH_LOAD_PLUGINS": "ganbench"}
    grid = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim, deadline = None, time.time() + 120
    while victim is None and time.time() < deadline:  # the worker of a run that has checkpointed
        for state in (tmp_path / "runs").glob("*-s*/state.pt"):
            key = json.loads((state.parent / "run.json").read_text())["key"]
            holder = (tmp_path / ".claims" / f"{key}.lock").read_text().strip()
            if holder:
                victim = json.loads(holder)["pid"]
                break
        time.sleep(0.05)
    assert victim is not None, "no worker checkpointed"
    os.kill(victim, signal.SIGKILL)
    out, err = grid.communicate(timeout=300)
    assert grid.returncode == 6, err  # one run failed ...
    assert "worker process ended" in err and "signal 9" in err
    states = sorted(r["state"] for r in grid_status(tmp_path))
    assert states == ["complete", "interrupted"]  # ... the other finished
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stderr and "already complete" in again.stderr
    runs = _by_run(tmp_path)
    assert len(runs) == 2 and all(json.loads((r / "run.json").read_text())["status"] == "complete"
                                  for r in runs.values())


def test_dry_run_prints_the_grid_and_starts_nothing(tmp_path):
    out = CliRunner().invoke(cli, ["run", "--models", "l1,dcgan", "--seeds", "2", "--budget", "smoke", "--device",
                                   "cpu", "--jobs", "2", "--dry-run", "--results", str(tmp_path)])
    assert out.exit_code == 0, out.output
    text = out.output
    assert "grid: 4 runs (2 models x 2 seeds)" in text and "budget smoke: 4 steps, 32px, batch 4" in text
    assert "2 processes at once on cpu" in text and "projected:" in text
    assert text.count(" new ") == 4 and "measured now" in text
    assert not (tmp_path / "runs").exists() or not [p for p in (tmp_path / "runs").iterdir()
                                                     if not p.name.startswith(".")]


@pytest.mark.parametrize("args, needle", [
    (["--executor", "ray"], "unknown executor 'ray'"),
    (["--slurm-partition", "gpu"], "--slurm-partition does not apply to executor 'local' (it takes: --jobs)"),
    (["--jobs", "0"], "--jobs must be a whole number >= 1"),
    (["--executor", "slurm", "--jobs", "2"], "--jobs does not apply to executor 'slurm'"),
    (["--jobs", "2", "--device", "cuda:1"], "--device cuda"),
])
def test_executor_mistakes_are_one_line(tmp_path, args, needle):
    out = CliRunner().invoke(cli, ["run", "--models", "l1", "--budget", "smoke", "--results", str(tmp_path), *args])
    assert out.exit_code == 2 and out.output.startswith("error: ") and needle in out.output, out.output
    assert out.output.count("\n") == 1


def test_executor_in_the_config_file(tmp_path):
    cfg = tmp_path / "grid.toml"
    cfg.write_text('[run]\nmodels = ["l1"]\nseeds = 2\nbudget = "smoke"\ndevice = "cpu"\nexecutor = "local"\n'
                   'jobs = 2\n')
    out = CliRunner().invoke(cli, ["run", "--config", str(cfg), "--dry-run", "--results", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "2 processes at once" in out.output


def test_local_jobs_pin_one_gpu_per_process(monkeypatch, registry):
    """On an 8-GPU node, --jobs 8 puts process i on GPU i alone (CUDA_VISIBLE_DEVICES), the CPU threads as
    they are; more jobs than GPUs share them round-robin; an outer CUDA_VISIBLE_DEVICES is respected."""
    import ganbench_plugins.executors as executors
    from ganbench.grid.executors import GridPlan

    req = RunRequest(models=["l1"], seeds=[0, 1], budget="smoke", device="cpu")
    plan = GridPlan(req, plan_comparison(req, registry))
    for cfg in plan.configs:
        cfg.device = "cuda"  # as planned on a GPU node
    monkeypatch.setattr(executors, "_gpu_count", lambda: 8)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    places = make_executor(registry, "local", {"jobs": 8}).placements(plan)
    assert [p for p, _ in places] == [f"cuda:{i}" for i in range(8)]
    assert [env for _, env in places] == [{"CUDA_VISIBLE_DEVICES": str(i)} for i in range(8)]
    places = make_executor(registry, "local", {"jobs": 10}).placements(plan)
    assert [env["CUDA_VISIBLE_DEVICES"] for _, env in places] == [*map(str, range(8)), "0", "1"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7,0,1,2,3")
    places = make_executor(registry, "local", {"jobs": 8}).placements(plan)
    assert [env["CUDA_VISIBLE_DEVICES"] for _, env in places] == ["4", "5", "6", "7", "0", "1", "2", "3"]
