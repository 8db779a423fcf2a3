"""Interruption and resume, divergence, atomic and concurrent results, safe checkpoints."""

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
from procs import run_bounded

from ganbench.api import AdversarialLoss
from ganbench.cli import cli
from ganbench.core.errors import ResultsError
from ganbench.core.request import RunRequest
from ganbench.grid.in_process import SilentReporter, resume_run, run_comparison
from ganbench.store.results import atomic_write_bytes, safe_load
from ganbench.testing import plugin
from ganbench.train.signals import StopFlag, StopRequested


def _weights(run_dir: Path) -> dict:
    return safe_load(run_dir / "generator.pt")


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class StopAtStep(SilentReporter):
    """Simulates SIGTERM arriving during step ``at``."""

    def __init__(self, stop: StopFlag, at: int):
        super().__init__()
        self.stop, self.at = stop, at

    def advance(self, completed, info=""):
        if completed == self.at:
            self.stop.signal = signal.SIGTERM


@pytest.mark.parametrize("model", ["wgan-gp"])  # dcgan: the falling-curve resume test below
def test_interrupted_then_resumed_equals_uninterrupted(registry, tmp_path, model):
    def request(results):
        return RunRequest(models=[model], budget="smoke,steps=8", results=results, device="cpu",
                          checkpoint_every=3)

    [full] = run_comparison(request(tmp_path / "a"), registry)
    stop = StopFlag()
    with pytest.raises(StopRequested):
        run_comparison(request(tmp_path / "b"), registry, StopAtStep(stop, 5), stop)
    [run_b] = list((tmp_path / "b" / "runs").iterdir())
    assert json.loads((run_b / "run.json").read_text())["status"] == "interrupted"
    assert safe_load(run_b / "state.pt")["counters"]["step"] == 5  # checkpointed at the signal, not at 3
    reporter = SilentReporter()
    [resumed] = run_comparison(request(tmp_path / "b"), registry, reporter)
    assert resumed.run_dir == run_b and any("resuming" in m for m in reporter.messages)
    assert _same_weights(_weights(full.run_dir), _weights(run_b))
    ma = json.loads((full.run_dir / "metrics.json").read_text())
    mb = json.loads((run_b / "metrics.json").read_text())
    assert ma["model"] == mb["model"] and ma["best_step"] == mb["best_step"]



def test_resume_restores_the_ema_and_the_best_so_far_pick_on_a_falling_validation_curve(registry, tmp_path):
    """A run whose validation PSNR falls after its first evaluation (no L1 term, a large generator learning
    rate: the generator wanders off the gray start), with EMA weights: interrupted after the best
    evaluation and resumed, it must pick the same earlier generator and end with the same EMA weights."""
    def request(results):
        return RunRequest(models=["dcgan"], budget="smoke,steps=8", results=results, device="cpu",
                          checkpoint_every=3, eval_every=2, ema=0.5, colorfulness_floor=0.0,
                          sets={"l1_weight": 0, "generator_optimizer.lr": 0.01, "lr_decay": 0})

    def val_psnr(run):
        lines = (run / "validation.csv").read_text().splitlines()
        col = lines[0].split(",").index("val_psnr")
        return [float(line.split(",")[col]) for line in lines[1:]]

    [full] = run_comparison(request(tmp_path / "a"), registry)
    curve = val_psnr(full.run_dir)
    assert len(curve) == 4 and curve[0] > max(curve[1:])  # steps 2, 4, 6, 8: the best is the first
    stop = StopFlag()
    with pytest.raises(StopRequested):
        run_comparison(request(tmp_path / "b"), registry, StopAtStep(stop, 5), stop)
    [run_b] = list((tmp_path / "b" / "runs").iterdir())
    assert safe_load(run_b / "state.pt")["counters"]["step"] == 5  # after the best evaluation (step 2)
    reporter = SilentReporter()
    [resumed] = run_comparison(request(tmp_path / "b"), registry, reporter)
    assert resumed.run_dir == run_b and any("resuming" in m for m in reporter.messages)
    ma = json.loads((full.run_dir / "metrics.json").read_text())
    mb = json.loads((resumed.run_dir / "metrics.json").read_text())
    assert ma["selected"] == mb["selected"] == "best" and ma["best_step"] == mb["best_step"] == 2
    assert ma["model"] == mb["model"] and ma["last"] == mb["last"]
    assert val_psnr(resumed.run_dir) == curve
    assert _same_weights(_weights(full.run_dir), _weights(resumed.run_dir))  # the step-2 pick
    last = "generator_last.pt"  # the EMA weights after the last step
    assert _same_weights(safe_load(full.run_dir / last), safe_load(resumed.run_dir / last))

def test_sigkill_mid_run_then_rerun_resumes_to_identical_weights(tmp_path):
    cmd = [sys.executable, "-m", "ganbench", "run", "--models", "wgan", "--budget", "smoke,steps=60",
           "--checkpoint-every", "4", "--device", "cpu", "-q"]
    env = {**os.environ, "GANBENCH_LOAD_PLUGINS": "ganbench", "OMP_NUM_THREADS": "1"}
    ref = run_bounded([*cmd, "--results", str(tmp_path / "ref")], env=env, timeout=600)
    assert ref.returncode == 0, ref.stderr
    proc = subprocess.Popen([*cmd, "--results", str(tmp_path / "killed")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    state = None
    while time.time() < deadline and state is None:
        found = list((tmp_path / "killed").glob("runs/*/state.pt"))
        state = found[0] if found else None
        time.sleep(0.01)
    assert state is not None, "no checkpoint appeared"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    record = json.loads((state.parent / "run.json").read_text())
    assert record["status"] == "running"  # really killed mid-way, not after finishing
    again = run_bounded([*cmd, "--results", str(tmp_path / "killed")], env=env, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stderr
    runs = list((tmp_path / "killed" / "runs").iterdir())
    assert runs == [state.parent]  # resumed in place, no second folder
    [ref_run] = list((tmp_path / "ref" / "runs").iterdir())
    assert _same_weights(_weights(ref_run), _weights(state.parent))
    m_ref = json.loads((ref_run / "metrics.json").read_text())["model"]
    m_res = json.loads((state.parent / "metrics.json").read_text())["model"]
    assert m_ref == m_res


def test_comparison_resumes_the_second_model_without_redoing_the_first(registry, tmp_path):
    req = RunRequest(models=["dcgan", "wgan", "wgan-gp"], budget="smoke,steps=6", results=tmp_path,
                     device="cpu", checkpoint_every=2)
    stop = StopFlag()

    class StopInWgan(SilentReporter):
        label = ""

        def start(self, label, total):
            self.label = label

        def advance(self, completed, info=""):
            if self.label.startswith("wgan ") and completed == 3:
                stop.signal = signal.SIGINT

    with pytest.raises(StopRequested):
        run_comparison(req, registry, StopInWgan(), stop)
    first = next((tmp_path / "runs").glob("*-dcgan-*"))
    mtime = (first / "metrics.json").stat().st_mtime_ns
    reporter = SilentReporter()
    outcomes = run_comparison(req, registry, reporter)
    assert [o.status for o in outcomes] == ["skipped", "complete", "complete"]
    assert (first / "metrics.json").stat().st_mtime_ns == mtime
    assert len(list((tmp_path / "runs").iterdir())) == 3


class NanAfter(AdversarialLoss):
    """A loss that turns NaN at its 4th critic call: a stand-in for WGAN blowing up."""

    def __init__(self):
        self.calls = 0

    def critic_loss(self, real, fake):
        self.calls += 1
        out = fake.mean() - real.mean()
        return out * float("nan") if self.calls >= 4 else out

    def generator_loss(self, fake):
        return -fake.mean()


class RaisesAt3(AdversarialLoss):
    """A plugin loss with a bug: it raises at its 3rd critic call."""

    def __init__(self):
        self.calls = 0

    def critic_loss(self, real, fake):
        self.calls += 1
        if self.calls >= 3:
            raise ValueError("hinge margin must be positive")
        return fake.mean() - real.mean()

    def generator_loss(self, fake):
        return -fake.mean()


def test_a_failing_run_under_jobs_1_is_isolated_and_recorded(tmp_path, dcgan_with_loss):
    """Issue 28: --jobs 1 (the default) used to end the comparison with a traceback, exit 1, the other models
    never trained and run.json error null; now as under --jobs N: reason recorded, the others complete, exit 6."""
    with plugin(dcgan_with_loss("raises-at-3", RaisesAt3, "buggy"), name="buggy-plugin"):
        out = CliRunner().invoke(cli, ["run", "--models", "buggy,l1", "--budget", "smoke,steps=4",
                                       "--results", str(tmp_path), "-q", "--jobs", "1"])
    assert out.exit_code == 6, out.output
    bad = json.loads(next((tmp_path / "runs").glob("*-buggy-*")).joinpath("run.json").read_text())
    assert bad["status"] in ("failed", "interrupted") and bad["error"] == "ValueError: hinge margin must be positive"
    good = json.loads(next((tmp_path / "runs").glob("*-l1-*")).joinpath("run.json").read_text())
    assert good["status"] == "complete"
    assert "Traceback" not in out.output


def test_divergence_marks_the_run_and_the_comparison_continues(tmp_path, dcgan_with_loss):
    with plugin(dcgan_with_loss("nan-after-3", NanAfter, "blows-up"), name="nan-plugin"):
        out = CliRunner().invoke(cli, ["run", "--models", "blows-up,dcgan", "--budget", "smoke,steps=6",
                                       "--checkpoint-every", "1", "--results", str(tmp_path), "-q"])
    assert out.exit_code == 6, out.output
    bad = next((tmp_path / "runs").glob("*-blows-up-*"))
    rec = json.loads((bad / "run.json").read_text())
    assert rec["status"] == "diverged"
    assert rec["divergence"]["step"] == 4 and "d_loss" in rec["divergence"]["losses"]
    assert rec["divergence"]["last_finite"]["step"] == 3
    assert safe_load(bad / "state.pt")["counters"]["step"] == 3  # the last good checkpoint is kept
    good = next((tmp_path / "runs").glob("*-dcgan-*"))
    assert json.loads((good / "run.json").read_text())["status"] == "complete"
    report = CliRunner().invoke(cli, ["report", "--results", str(tmp_path)])
    assert report.exit_code == 0
    md = (tmp_path / "report" / "report.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| blows-up"))
    assert "diverged at step 4" in row and "—" in row


def test_report_flags_incomplete_and_unknown_schema(registry, tmp_path):
    run_comparison(RunRequest(models=["dcgan"], budget="smoke", results=tmp_path, device="cpu"), registry)
    runs = tmp_path / "runs"
    half = runs / "20990101-000000-half-s0-aaaaaa"
    half.mkdir()
    (half / "run.json").write_text('{"schema_version": 1, "status": "running", "con')  # torn write
    future = runs / "20990101-000000-future-s0-bbbbbb"
    future.mkdir()
    (future / "run.json").write_text(json.dumps({"schema_version": 99, "status": "complete"}))
    out = CliRunner().invoke(cli, ["report", "--results", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "not valid JSON" in out.output and "schema version 99" in out.output
    assert "dcgan" in out.output


def test_atomic_write_keeps_the_previous_file_when_disk_is_full(tmp_path, monkeypatch):
    target = tmp_path / "state.pt"
    atomic_write_bytes(target, b"previous")
    import errno

    real_open = open

    class FullFile:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.fh.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    def fake_open(path, mode="r", *a, **kw):
        fh = real_open(path, mode, *a, **kw)
        return FullFile(fh) if "w" in mode and str(path).endswith(".tmp") else fh

    monkeypatch.setattr("builtins.open", fake_open)
    with pytest.raises(ResultsError, match="disk full"):
        atomic_write_bytes(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["state.pt"]  # no temp file left behind


def test_disk_full_during_training_is_one_line_exit_5(tmp_path, monkeypatch):
    """The disk fills up when the first checkpoint is written, mid-training (the run folder and its
    run.json were written fine): one line, exit 5, no temporary file left, the run marked failed."""
    import errno

    real_open = open
    checkpoints = []

    def fake_open(path, mode="r", *a, **kw):
        if "w" in mode and Path(path).name.startswith(".state.pt."):  # atomic_write_bytes' temporary file
            checkpoints.append(Path(path))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, mode, *a, **kw)

    monkeypatch.setattr("builtins.open", fake_open)
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--budget", "smoke", "--checkpoint-every", "2",
                                   "--results", str(tmp_path), "-q"])
    monkeypatch.undo()
    assert out.exit_code == 5, out.output
    assert out.output.startswith("error: disk full while writing") and out.output.count("\n") == 1
    assert "state.pt" in out.output and "Traceback" not in out.output
    [run] = list((tmp_path / "runs").iterdir())
    assert [p.parent for p in checkpoints] == [run]  # it failed at the first checkpoint, inside the run
    assert json.loads((run / "run.json").read_text())["status"] == "failed"
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith(".lock")) == ["run.json"]


def test_a_second_command_on_a_shared_results_folder_leaves_a_run_in_training_alone(registry, tmp_path):
    """While a run trains, the same command is started on the same results folder (deterministically: from
    the first run's step 2). Both succeed and the run is trained once: one run folder per key."""
    cmd = [sys.executable, "-m", "ganbench", "run", "--models", "dcgan", "--budget", "smoke", "--device", "cpu",
           "-q", "--results", str(tmp_path)]
    env = {**os.environ, "GANBENCH_LOAD_PLUGINS": "ganbench", "OMP_NUM_THREADS": "1"}

    class SecondCommandMidway(SilentReporter):
        second = None

        def advance(self, completed, info=""):
            if completed == 2 and self.second is None:
                self.second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)

    reporter = SecondCommandMidway()
    [first] = run_comparison(RunRequest(models=["dcgan"], budget="smoke", results=tmp_path, device="cpu"),
                             registry, reporter)
    assert reporter.second is not None and reporter.second.returncode == 0, reporter.second.stderr[-2000:]
    runs = list((tmp_path / "runs").iterdir())
    assert runs == [first.run_dir]  # one run per key
    assert json.loads((first.run_dir / "run.json").read_text())["status"] == "complete"


def test_checkpoints_refuse_pickled_objects(tmp_path):
    evil = tmp_path / "generator.pt"

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"x": Boom()}, evil)
    with pytest.raises(ResultsError, match="refusing to load"):
        safe_load(evil)


def test_resume_cli_continues_a_run(registry, tmp_path):
    stop = StopFlag()
    req = RunRequest(models=["dcgan"], budget="smoke,steps=6", results=tmp_path, device="cpu", checkpoint_every=2)
    with pytest.raises(StopRequested):
        run_comparison(req, registry, StopAtStep(stop, 3), stop)
    [run] = list((tmp_path / "runs").iterdir())
    out = CliRunner().invoke(cli, ["run", "--resume", str(run), "-q"])
    assert out.exit_code == 0, out.output
    assert json.loads((run / "run.json").read_text())["status"] == "complete"
    with pytest.raises(ResultsError):
        resume_run(tmp_path, registry)
