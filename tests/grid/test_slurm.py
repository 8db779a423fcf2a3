"""The slurm executor against a REAL single-node SLURM, not a mock: `.ci/slurm-up` (run as root by `.ci/run`)
installs Debian's slurm-wlm and munge and starts the daemons. Without a SLURM that answers, the test skips
and says why."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from ganbench.cli import cli
from ganbench.core.request import RunRequest
from ganbench.grid.in_process import run_comparison
from ganbench.store.results import safe_load

BUDGET = "smoke,steps=100"


def _why_no_slurm() -> str | None:
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return "SLURM is not installed here (no sbatch/sinfo on PATH); `.ci/slurm-up` (as root) installs and starts it"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed: {exc}"
    if out.returncode != 0:
        return f"the SLURM controller does not answer: {out.stderr.strip()[:200]}"
    states = out.stdout.split()
    if not any(s.rstrip("*") in ("idle", "mixed", "allocated", "completing") for s in states):
        return f"no SLURM node is up (node states: {states or 'none'})"
    return None


def _status(results: Path) -> list[dict]:
    out = CliRunner().invoke(cli, ["status", str(results), "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def _job_field(job: str, name: str) -> str:
    out = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True, timeout=20).stdout
    m = re.search(rf"\b{name}=(\S+)", out)
    return m.group(1) if m else ""


def test_a_grid_on_slurm_is_submitted_preempted_requeued_resumed_and_reported(tmp_path, registry):
    reason = _why_no_slurm()
    if reason:
        pytest.skip(reason)
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "ganbench", "run", "--models", "l1", "--seeds", "2", "--budget", BUDGET,
           "--checkpoint-every", "10", "--device", "cpu", "--precision", "fp32", "--executor", "slurm",
           "--slurm-option", "cpus-per-task=1", "--slurm-time", "20m", "-q", "--results", str(results)]
    env = {**os.environ, "GANBENCH_LOAD_PLUGINS": "ganbench"}
    grid = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # waits

    # preempt the job of the first run that has a checkpoint: the USR2 that SLURM sends before a time limit
    job, deadline = None, time.time() + 300
    while job is None and time.time() < deadline:
        for state in results.glob("runs/*/state.pt"):
            key = json.loads((state.parent / "run.json").read_text())["key"]
            holder = (results / ".claims" / f"{key}.lock").read_text().strip()
            if holder:
                job, preempted = json.loads(holder)["job"], state.parent
                break
        time.sleep(0.05)
    assert job, f"no run checkpointed: {_status(results)}"
    subprocess.run(["scancel", "--signal=USR2", job], check=True, timeout=20)

    # submitit requeues it; SLURM holds a requeued job ~2 minutes (BeginTime), time for the old instance to
    # end: release it sooner, once the old one has surely ended (KillWait is 5 s in .ci/slurm-up's slurm.conf)
    deadline, held_since = time.time() + 600, None
    while time.time() < deadline:
        if _job_field(job, "JobState") == "PENDING" and _job_field(job, "Reason") == "BeginTime":
            held_since = held_since or time.time()
            if time.time() - held_since > 10:
                subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], timeout=20)
        rows = _status(results)
        if all(r["state"] in ("complete", "diverged", "failed") for r in rows) or (
                _job_field(job, "JobState") in ("FAILED", "CANCELLED")):
            break
        time.sleep(1)
    assert [(r["seed"], r["state"]) for r in rows] == [(0, "complete"), (1, "complete")], rows
    out, err = grid.communicate(timeout=120)  # the waiting command reports as the runs finish, then the table
    assert grid.returncode == 0, err
    assert "submitted 2 SLURM job(s)" in err and "l1 (seed 0): complete" in err and "l1 (seed 1): complete" in err
    assert "l1" in out and (results / "report" / "report.md").exists()
    assert int(_job_field(job, "Restarts") or 0) >= 1  # really requeued by SLURM
    record = json.loads((preempted / "run.json").read_text())
    assert record["resumed"] == 1 and "resuming" in (preempted / "log.txt").read_text()

    # bit-exact: the preempted run ends with the weights of the same run trained here in one go
    seed = record["config"]["seed"]
    before = torch.get_num_threads()
    torch.set_num_threads(record["provenance"]["torch_threads"])
    try:
        [ref] = run_comparison(RunRequest(models=["l1"], seeds=[seed], budget=BUDGET, device="cpu", precision="fp32",
                                          checkpoint_every=10, results=tmp_path / "ref"), registry)
    finally:
        torch.set_num_threads(before)
    a, b = safe_load(ref.run_dir / "generator.pt"), safe_load(preempted / "generator.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    # re-issuing the grid skips both complete runs: no job submitted
    again = subprocess.run([*cmd, "--detach"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "submitted 0 SLURM job(s); 2 run(s) already complete" in again.stderr and "ganbench status" in again.stderr
