"""Driving the runs of a planned comparison in this process: each run claimed by its key, skipped when
complete, resumed when interrupted, else trained (data -> train), then scored and stored (``finish.py``).

``ganbench run`` reaches :func:`run_configs` through an executor (``ganbench.grid.executors.run_grid``:
``local`` calls it in this process for ``--jobs 1``, each grid worker through ``run_member``);
:func:`run_comparison` (plan, then train here) is the same without the executor, for tests and library use;
``ganbench run --resume RUN_DIR`` is :func:`resume_run`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganbench.core.config import RunConfig, scoring_identity
from ganbench.core.contract import DatasetSplits
from ganbench.core.errors import GanbenchError, ResultsError
from ganbench.core.registry import Registry
from ganbench.core.reporting import Reporter, SilentReporter, as_reporter
from ganbench.core.request import RunRequest
from ganbench.data.filelist import open_dataset
from ganbench.data.pipeline import PreparedData, prepare_splits
from ganbench.grid.finish import finish, provenance, spent, throughput, write_history
from ganbench.grid.plan import plan_comparison
from ganbench.grid.rerun import rescore, scoring_changes, why_trains_again
from ganbench.store.results import (
    RunDir,
    RunRecord,
    RunStatus,
    atomic_torch_save,
    claim_run,
    create_run,
    ensure_writable,
    find_existing,
    open_run,
    safe_load,
    who,
)
from ganbench.track import RunFeed, TrackerSession
from ganbench.track.feed import samples_picture
from ganbench.train.distributed import barrier, broadcast_object
from ganbench.train.distributed import info as dist_info
from ganbench.train.flops import count_flops_per_image
from ganbench.train.signals import StopFlag, StopRequested
from ganbench.train.trainer import Trainer


@dataclass
class RunOutcome:
    model: str
    seed: int
    #: complete | diverged | interrupted (stopped, resumable) | failed | skipped (already complete) | claimed
    #: (another process trains it) | queued (submitted to a scheduler, not finished: --detach)
    status: str
    run_dir: Path
    metrics: dict[str, Any] | None = None


def load_data(registry: Registry, cfg: RunConfig, cache_dir: Path | None, reporter: Reporter) -> PreparedData:
    splits = _dataset_splits(registry, cfg.dataset, cfg.dataset_options)
    return prepare_splits(splits, cfg.image_size, cache_dir=cache_dir, warn=reporter.message)


def _dataset_splits(registry: Registry, dataset: str, options: dict[str, Any]) -> DatasetSplits:
    return open_dataset(registry, dataset, options)  # a dataset's OSError is a DataError there


def run_comparison(
    request: RunRequest, registry: Registry, reporter: Reporter | None = None, stop: StopFlag | None = None
) -> list[RunOutcome]:
    """Train and score every (model, seed). A finished run with the same settings is skipped, an
    interrupted one resumed. A diverged model does not stop the comparison."""
    return run_configs(request, plan_comparison(request, registry), registry, reporter, stop)


def run_configs(
    request: RunRequest, configs: list[RunConfig], registry: Registry, reporter: Reporter | None = None,
    stop: StopFlag | None = None,
) -> list[RunOutcome]:
    """Train these planned runs one after another in this process (a grid worker passes one).

    Each run is first claimed by its key (:func:`ganbench.store.results.claim_run`): a run another process is
    training right now is left to it (status ``claimed``), so two workers never train the same run."""
    reporter = as_reporter(reporter)
    di = dist_info()
    if di.is_main:
        ensure_writable(request.results)
    data = load_data(registry, configs[0], request.cache_dir, reporter)
    record_base = RunRecord(command=request.command, comparison=configs[0].comparison_key(),
                            dataset_description=data.description,
                            data={"train_images": len(data.train), "val_crops": int(data.val.shape[0]),
                                  "test_crops": int(data.test.shape[0]),
                                  "skipped": [{"file": f, "reason": r} for f, r in data.skipped]})
    outcomes = []
    for cfg in configs:
        decision: tuple[str, str | None] | None = None
        claim = None
        if di.is_main:  # only rank 0 looks at (and writes) the results folder; the others follow it
            claim = claim_run(request.results, cfg.run_key(), who(model=cfg.model, seed=cfg.seed))
            existing = find_existing(request.results, cfg.run_key()) if claim and not request.rerun else None
            if claim is None:
                decision = ("claimed", None)
            elif existing is not None and existing.record().complete:
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
                if changed and existing is not None:  # a metric plugin changed since it was scored: re-score it
                    reporter.message(f"{cfg.model} seed {cfg.seed}: already trained in {path}; metric "
                                     f"{', '.join(changed)} changed since it was scored: re-scoring its generators")
                    rescore(existing, registry, cfg, data, scoring_identity(registry, cfg.metrics),
                            torch.device(cfg.device))
                else:
                    reporter.message(f"{cfg.model} seed {cfg.seed}: already complete in {path}, skipped")
            finally:
                if claim:
                    claim.release()
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
            outcomes.append(run_one(cfg, registry, data, request.results, reporter, record_base, stop,
                                        resume=resume, trackers=request.trackers))
        except (StopRequested, KeyboardInterrupt, ResultsError):
            raise  # an interruption, or a results folder that cannot take any run (disk full): exit 130 / 5
        except Exception as exc:
            if di.enabled:  # the other ranks are inside the same run: stop them all
                raise
            # one failed run never stops the others (as under --jobs N): the reason is in its run.json
            reason = failure_reason(exc)
            reporter.message(f"{cfg.model} seed {cfg.seed}: failed: {reason}")
            outcomes.append(RunOutcome(cfg.model, cfg.seed, "failed", getattr(exc, "run_dir", request.results),
                                       {"error": reason}))
        finally:
            if claim:
                claim.release()
        barrier()
    return outcomes


def resume_run(path: Path, registry: Registry, reporter: Reporter | None = None,
               stop: StopFlag | None = None, cache_dir: Path | None = None,
               trackers: list[str] | tuple[str, ...] = ()) -> RunOutcome:
    """``ganbench run --resume RUN_DIR``: continue a run from its last checkpoint (``trackers`` watch it)."""
    reporter = as_reporter(reporter)
    run = open_run(path)
    record = run.record()
    if record.complete:
        reporter.message(f"{path} is already complete")
        return RunOutcome(record.model, record.seed, "skipped", run.path)
    if dist_info().is_main and not run.lock():  # data-parallel: rank 0 holds the lock for every rank
        raise ResultsError(f"{path} is being trained by another process right now")
    if not has_checkpoint(run):
        reporter.message(restart_message(record.config, run.path))
    cfg = RunConfig.from_dict(record.config)
    data = load_data(registry, cfg, cache_dir, reporter)
    base = RunRecord(command=record.command, comparison=record.comparison,
                     dataset_description=record.dataset_description, data=record.data)
    return run_one(cfg, registry, data, run.path.parent.parent, reporter, base, stop, resume=run,
                   trackers=trackers)


def failure_reason(exc: BaseException) -> str:
    """One line for run.json ``error``: a ganbench error's own message, else the exception's type and first
    line (a plugin's error keeps its message)."""
    if isinstance(exc, GanbenchError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first}".rstrip(": ")


def has_checkpoint(run: RunDir) -> bool:
    return (run.path / "state.pt").exists()


def restart_message(config: dict[str, Any], path: Path) -> str:
    return (f"{config['model']} seed {config['seed']}: {path} stopped before its first checkpoint; starting it "
            "again from step 0 (same seed and settings, so the same numbers)")


def run_one(
    cfg: RunConfig, registry: Registry, data: PreparedData, results: Path, reporter: Reporter,
    record_base: RunRecord, stop: StopFlag | None, resume: RunDir | None = None,
    trackers: list[str] | tuple[str, ...] = (),
) -> RunOutcome:
    """One run, start to end: train it (from its checkpoint when ``resume`` has one), then score and store it
    (``finish.py``); on a data-parallel rank other than 0, the same steps without files. The named
    ``trackers`` watch it; they are no part of the run's key and never change what it computes."""
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
            record.update(status=RunStatus.RUNNING, resumed=record.resumed + 1)
        else:  # stopped before its first checkpoint: start again from step 0, in place
            record.update(status=RunStatus.RUNNING, restarted=record.restarted + 1, provenance=provenance(device))
        run.write_record(record)
    else:
        record = dataclasses.replace(
            record_base, extra=dict(record_base.extra), key=cfg.run_key(), identity=cfg.identity,
            config=cfg.to_dict(), scoring=scoring_identity(registry, cfg.metrics), provenance=provenance(device),
            budget={**budget.to_dict(), "total_steps": total})
        run = create_run(results, cfg.model, cfg.seed, record)

    def checkpoint(state: dict[str, Any]) -> None:
        atomic_torch_save(run.path / "state.pt", state)

    feed = None
    if trackers:
        session = TrackerSession(registry, list(trackers), run.path, f"{run.path.name}", results)
        feed = RunFeed(session, reporter.message)

    def on_step(tr: Trainer) -> None:
        if feed is not None:
            feed.update(tr)
        info = ""
        if tr.history:
            h = tr.history[-1]
            info = "  ".join(f"{label} {h[k]:.{digits}f}" for label, k, digits in
                             (("critic", "d_loss", 3), ("adv", "g_adv", 3), ("L1", "g_l1", 4)) if h[k] is not None)
        if tr.val_history:
            info += f"  val {tr.val_history[-1]['val_psnr']:.2f} dB"
        reporter.advance(tr.counters.step, info)

    reporter.opened(run.path)  # a grid worker writes this run's log into its folder
    try:
        trainer = Trainer(cfg, registry, data, device, metrics, on_step=on_step, stop=stop, checkpoint=checkpoint)
        if resume is not None and has_checkpoint(resume):
            trainer.load_state_dict(safe_load(run.path / "state.pt"))
        if feed is not None:
            feed.start(cfg.to_dict(), cfg.run_key(), trainer)
        reporter.start(label, total)
        reporter.advance(trainer.counters.step)
        result = trainer.train(total, budget.seconds, cfg.eval_every, cfg.checkpoint_every)
    except BaseException as exc:
        reporter.finish("failed")
        stopped = isinstance(exc, (KeyboardInterrupt, StopRequested))
        with contextlib.suppress(GanbenchError):
            run.update_record(status=RunStatus.INTERRUPTED if (run.path / "state.pt").exists() else RunStatus.FAILED,
                              error=None if stopped else failure_reason(exc))
        run.unlock()
        if feed is not None:
            feed.close("failed")
        with contextlib.suppress(AttributeError):
            exc.run_dir = run.path  # type: ignore[attr-defined]  # where run_configs' outcome points
        raise
    reporter.finish(result.status)
    if feed is not None:
        feed.update(trainer)  # the last rows and the final validation
    status = result.status
    try:
        if result.status == "interrupted":
            run.update_record(status=RunStatus.INTERRUPTED, spent=spent(result))
            raise StopRequested(f"{label}: interrupted at step {result.counters.step}; checkpoint in {run.path}")
        write_history(run, result)
        if result.status == "diverged":
            divergence = result.divergence or {}
            run.update_record(status=RunStatus.DIVERGED, divergence=result.divergence,
                              spent=spent(result))
            reporter.message(f"{label}: diverged at step {divergence.get('step')} "
                             f"({', '.join(divergence.get('losses', []))} not finite); last good checkpoint kept")
            return RunOutcome(cfg.model, cfg.seed, "diverged", run.path)
        flops = count_flops_per_image(*trainer.parts, trainer.recipe, trainer.cfg.image_size)
        summary = finish(run, trainer, result, data, metrics, device)
        if feed is not None:
            feed.final(summary.to_json(), samples_picture(run.path), result.counters.step)
        record = run.record()
        record.update(status=RunStatus.COMPLETE, spent=spent(result, flops),
                      throughput=throughput(result, trainer, flops), set_level=summary.set_level,
                      finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        run.write_record(record)  # last: a run is complete only when everything else is on disk
        (run.path / "state.pt").unlink(missing_ok=True)
        return RunOutcome(cfg.model, cfg.seed, "complete", run.path, summary.to_json())
    except BaseException as exc:
        status = "failed" if status == "complete" else status
        # scoring or writing failed (a metric plugin, a full disk): say so in run.json
        if isinstance(exc, Exception) and not isinstance(exc, StopRequested):
            with contextlib.suppress(GanbenchError, OSError):
                run.update_record(status=RunStatus.FAILED, error=failure_reason(exc))
            with contextlib.suppress(AttributeError):
                exc.run_dir = run.path  # type: ignore[attr-defined]
        raise
    finally:
        run.unlock()
        if feed is not None:
            feed.close(status)


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


#: The names these functions had before the run chain was named one way (run_points > run_grid > run_configs >
#: run_member > run_one); kept so that code written against them still works.
train_planned = run_configs
execute_run = run_one

__all__ = ["RunOutcome", "Reporter", "SilentReporter", "run_comparison", "run_configs", "run_one",
           "train_planned", "execute_run", "resume_run"]
