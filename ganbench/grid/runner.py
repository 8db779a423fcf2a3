"""Driving the runs of a planned comparison in this process: each run claimed by its key, skipped when
complete, resumed when interrupted, else trained (data -> train), then scored and stored (``finish.py``).

The CLI is a thin layer over :func:`~ganbench.grid.plan.plan_comparison` and :func:`run_comparison`; tests call
them directly.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from ganbench.core.config import RunConfig, scoring_identity
from ganbench.core.contract import DatasetSplits
from ganbench.core.errors import GanbenchError, ResultsError
from ganbench.core.registry import Registry
from ganbench.core.request import RunRequest
from ganbench.data.pipeline import PreparedData, prepare_splits
from ganbench.grid.finish import finish, provenance, spent, throughput, write_history
from ganbench.grid.plan import plan_comparison
from ganbench.grid.rerun import rescore, scoring_changes, why_trains_again
from ganbench.store.results import (
    RunDir,
    atomic_torch_save,
    claim_run,
    create_run,
    ensure_writable,
    find_existing,
    open_run,
    safe_load,
    who,
)
from ganbench.train.distributed import barrier, broadcast_object
from ganbench.train.distributed import info as dist_info
from ganbench.train.flops import count_flops_per_image
from ganbench.train.signals import StopFlag, StopRequested
from ganbench.train.trainer import Trainer


class Reporter(Protocol):
    def start(self, label: str, total: int | None) -> None: ...
    def advance(self, completed: int, info: str = "") -> None: ...
    def finish(self, status: str) -> None: ...
    def message(self, text: str) -> None: ...


class SilentReporter:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def start(self, label, total):
        pass

    def advance(self, completed, info=""):
        pass

    def finish(self, status):
        pass

    def message(self, text):
        self.messages.append(text)


@dataclass
class RunOutcome:
    model: str
    seed: int
    status: str  # complete | diverged | skipped (already complete) | claimed (another process trains it)
    run_dir: Path
    metrics: dict[str, Any] | None = None


def load_data(registry: Registry, cfg: RunConfig, cache_dir: Path | None, reporter: Reporter) -> PreparedData:
    splits = _dataset_splits(registry, cfg.dataset, cfg.dataset_options)
    return prepare_splits(splits, cfg.image_size, cache_dir=cache_dir, warn=reporter.message)


def _dataset_splits(registry: Registry, dataset: str, options: dict[str, Any]) -> DatasetSplits:
    return registry.create("dataset", dataset, **options)  # a dataset's OSError is a DataError there


def run_comparison(
    request: RunRequest, registry: Registry, reporter: Reporter | None = None, stop: StopFlag | None = None
) -> list[RunOutcome]:
    """Train and score every (model, seed). A finished run with the same settings is skipped, an
    interrupted one resumed. A diverged model does not stop the comparison."""
    return train_planned(request, plan_comparison(request, registry), registry, reporter, stop)


def train_planned(
    request: RunRequest, configs: list[RunConfig], registry: Registry, reporter: Reporter | None = None,
    stop: StopFlag | None = None,
) -> list[RunOutcome]:
    """Train these planned runs one after another in this process (a grid worker passes one).

    Each run is first claimed by its key (:func:`ganbench.store.results.claim_run`): a run another process is
    training right now is left to it (status ``claimed``), so two workers never train the same run."""
    reporter = reporter or SilentReporter()
    di = dist_info()
    if di.is_main:
        ensure_writable(request.results)
    data = load_data(registry, configs[0], request.cache_dir, reporter)
    record_base = {"command": request.command, "comparison": configs[0].comparison_key(),
                   "dataset_description": data.description,
                   "data": {"train_images": len(data.train), "val_crops": int(data.val.shape[0]),
                            "test_crops": int(data.test.shape[0]),
                            "skipped": [{"file": f, "reason": r} for f, r in data.skipped]}}
    outcomes = []
    for cfg in configs:
        decision, claim = None, None
        if di.is_main:  # only rank 0 looks at (and writes) the results folder; the others follow it
            claim = claim_run(request.results, cfg.run_key(), who(model=cfg.model, seed=cfg.seed))
            existing = find_existing(request.results, cfg.run_key()) if claim and not request.rerun else None
            if claim is None:
                decision = ("claimed", None)
            elif existing is not None and existing.record().get("status") == "complete":
                decision = ("skip", str(existing.path))
            elif existing is not None and existing.lock():
                decision = ("resume", str(existing.path))
            else:
                decision = ("new", None)
        kind, path = broadcast_object(decision)
        if kind == "claimed":
            reporter.message(f"{cfg.model} seed {cfg.seed}: another process is training it right now; left to it")
            outcomes.append(RunOutcome(cfg.model, cfg.seed, "claimed", request.results))
            continue
        if kind == "skip":
            try:
                changed = scoring_changes(existing.record(), scoring_identity(registry, cfg.metrics)) \
                    if di.is_main and existing is not None else []
                if changed:  # a metric plugin changed since it was scored: score it again, do not train it
                    reporter.message(f"{cfg.model} seed {cfg.seed}: already trained in {path}; metric "
                                     f"{', '.join(changed)} changed since it was scored: re-scoring its generators")
                    rescore(existing, registry, cfg, data, scoring_identity(registry, cfg.metrics),
                            torch.device(cfg.device))
                else:
                    reporter.message(f"{cfg.model} seed {cfg.seed}: already complete in {path}, skipped")
            finally:
                claim and claim.release()
            outcomes.append(RunOutcome(cfg.model, cfg.seed, "skipped", Path(path)))
            continue
        if kind == "new" and di.is_main and not request.rerun:
            why = why_trains_again(request.results, cfg)
            if why:
                reporter.message(f"{cfg.model} seed {cfg.seed}: {why}")
        if kind == "resume":
            reporter.message(f"{cfg.model} seed {cfg.seed}: resuming {path}" if has_checkpoint(RunDir(Path(path)))
                             else restart_message(cfg.to_dict(), Path(path)))
        resume = RunDir(Path(path)) if kind == "resume" else None
        if resume is not None and di.is_main:
            resume = existing  # holds the lock
        try:
            outcomes.append(execute_run(cfg, registry, data, request.results, reporter, record_base, stop,
                                        resume=resume))
        finally:
            claim and claim.release()
        barrier()
    return outcomes


def resume_run(path: Path, registry: Registry, reporter: Reporter | None = None,
               stop: StopFlag | None = None, cache_dir: Path | None = None) -> RunOutcome:
    """``ganbench run --resume RUN_DIR``: continue a run from its last checkpoint."""
    reporter = reporter or SilentReporter()
    run = open_run(path)
    record = run.record()
    if record.get("status") == "complete":
        reporter.message(f"{path} is already complete")
        return RunOutcome(record["config"]["model"], record["config"]["seed"], "skipped", run.path)
    if dist_info().is_main and not run.lock():  # data-parallel: rank 0 holds the lock for every rank
        raise ResultsError(f"{path} is being trained by another process right now")
    if not has_checkpoint(run):
        reporter.message(restart_message(record["config"], run.path))
    cfg = RunConfig.from_dict(record["config"])
    data = load_data(registry, cfg, cache_dir, reporter)
    base = {k: record[k] for k in ("command", "comparison", "dataset_description", "data") if k in record}
    return execute_run(cfg, registry, data, run.path.parent.parent, reporter, base, stop, resume=run)


def has_checkpoint(run: RunDir) -> bool:
    return (run.path / "state.pt").exists()


def restart_message(config: dict[str, Any], path: Path) -> str:
    return (f"{config['model']} seed {config['seed']}: {path} stopped before its first checkpoint; starting it "
            "again from step 0 (same seed and settings, so the same numbers)")


def execute_run(
    cfg: RunConfig, registry: Registry, data: PreparedData, results: Path, reporter: Reporter,
    record_base: dict[str, Any], stop: StopFlag | None, resume: RunDir | None = None,
) -> RunOutcome:
    device = torch.device(cfg.device)
    torch.manual_seed(cfg.seed)
    metrics = {name: registry.create("metric", name) for name in cfg.metrics}
    budget = cfg.budget
    total = budget.total_steps(len(data.train))
    label = f"{cfg.model} (seed {cfg.seed})"
    if not dist_info().is_main:
        return _follow_run(cfg, registry, data, metrics, device, budget, total, stop, resume)
    if resume is not None:
        run = resume
        record = run.record()
        if has_checkpoint(run):
            record.update(status="running", resumed=record.get("resumed", 0) + 1)
        else:  # stopped before its first checkpoint: start again from step 0, in place
            record.update(status="running", restarted=record.get("restarted", 0) + 1, provenance=provenance(device))
        run.write_record(record)
    else:
        record = {**record_base, "key": cfg.run_key(), "identity": cfg.identity, "config": cfg.to_dict(),
                  "scoring": scoring_identity(registry, cfg.metrics), "provenance": provenance(device),
                  "budget": {**budget.to_dict(), "total_steps": total}}
        run = create_run(results, cfg.model, cfg.seed, record)

    def checkpoint(state: dict[str, Any]) -> None:
        atomic_torch_save(run.path / "state.pt", state)

    def on_step(tr: Trainer) -> None:
        info = ""
        if tr.history:
            h = tr.history[-1]
            info = "  ".join(f"{label} {h[k]:.{digits}f}" for label, k, digits in
                             (("critic", "d_loss", 3), ("adv", "g_adv", 3), ("L1", "g_l1", 4)) if h[k] is not None)
        if tr.val_history:
            info += f"  val {tr.val_history[-1]['val_psnr']:.2f} dB"
        reporter.advance(tr.counters.step, info)

    trainer = Trainer(cfg, registry, data, device, metrics, on_step=on_step, stop=stop, checkpoint=checkpoint)
    if resume is not None and has_checkpoint(resume):
        trainer.load_state_dict(safe_load(run.path / "state.pt"))
    if hasattr(reporter, "opened"):  # a grid worker writes this run's log into its folder
        reporter.opened(run.path)
    reporter.start(label, total)
    reporter.advance(trainer.counters.step)
    try:
        result = trainer.train(total, budget.seconds, cfg.eval_every, cfg.checkpoint_every)
    except BaseException:
        reporter.finish("failed")
        with contextlib.suppress(GanbenchError):
            run.update_record(status="interrupted" if (run.path / "state.pt").exists() else "failed")
        run.unlock()
        raise
    reporter.finish(result.status)
    try:
        if result.status == "interrupted":
            run.update_record(status="interrupted", spent=spent(result))
            raise StopRequested(f"{label}: interrupted at step {result.counters.step}; checkpoint in {run.path}")
        write_history(run, result)
        if result.status == "diverged":
            run.update_record(status="diverged", divergence=result.divergence,
                              spent=spent(result))
            reporter.message(f"{label}: diverged at step {result.divergence['step']} "
                             f"({', '.join(result.divergence['losses'])} not finite); last good checkpoint kept")
            return RunOutcome(cfg.model, cfg.seed, "diverged", run.path)
        flops = count_flops_per_image(*trainer.parts, trainer.recipe, trainer.cfg.image_size)
        summary = finish(run, trainer, result, data, metrics, device)
        record = run.record()
        record.update(status="complete", spent=spent(result, flops), throughput=throughput(result, trainer, flops),
                      finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        run.write_record(record)  # last: a run is complete only when everything else is on disk
        (run.path / "state.pt").unlink(missing_ok=True)
        return RunOutcome(cfg.model, cfg.seed, "complete", run.path, summary)
    finally:
        run.unlock()


def _follow_run(cfg: RunConfig, registry: Registry, data: PreparedData, metrics, device, budget,
                total: int | None, stop: StopFlag | None, resume: RunDir | None) -> RunOutcome:
    """A data-parallel rank other than 0: the same training steps, no files written."""
    trainer = Trainer(cfg, registry, data, device, metrics, stop=stop)
    if resume is not None and has_checkpoint(resume):
        trainer.load_state_dict(safe_load(resume.path / "state.pt"))
    result = trainer.train(total, budget.seconds, cfg.eval_every, cfg.checkpoint_every, validate=False)
    if result.status == "interrupted":
        raise StopRequested(f"{cfg.model}: interrupted at step {result.counters.step}")
    return RunOutcome(cfg.model, cfg.seed, result.status, resume.path if resume else Path("."))


__all__ = ["RunOutcome", "Reporter", "SilentReporter", "run_comparison",
           "train_planned", "resume_run"]
