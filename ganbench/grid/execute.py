"""Grids at scale: the planner turns a request into run configs; an *executor* decides where each runs.

Executors are plugins (hook ``register_executors``): ``local`` (this machine, ``--jobs N`` processes) and
``slurm`` (one SLURM job per run through submitit) ship as built-ins; Ray or another engine can be added
by a package. Whatever runs where, the results folder is the source of truth:

- a worker claims a run by its key before training it (:func:`ganbench.store.results.claim_run`), so two
  workers never train the same run; a finished run is skipped and an interrupted one resumed;
- every worker writes only its own run folder, and its output to that folder's ``log.txt``;
- a grid's manifest (``RESULTS/.grid/<id>.json``: run keys, models, seeds, job ids) lets
  ``ganbench status`` show runs that have no folder yet (queued) and ask the scheduler about them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench.core.budgets import Budget, describe
from ganbench.core.config import RunConfig
from ganbench.core.errors import ConfigError, GanbenchError, ResultsError
from ganbench.core.registry import Registry, load_registry
from ganbench.grid.runner import RunOutcome, RunRequest, SilentReporter, plan_comparison, train_planned
from ganbench.store.results import (
    READABLE_SCHEMAS,
    atomic_write_json,
    claim_holder,
    ensure_writable,
    find_existing,
    held_claims,
    iter_runs,
    read_json,
    runs_root,
)
from ganbench.train.trainer import StopFlag, StopRequested

#: States ``ganbench status`` shows. ``interrupted``: stopped with a checkpoint, re-issue to resume.
STATES = ("queued", "running", "complete", "diverged", "failed", "interrupted", "not started")


@dataclass
class GridPlan:
    """A planned grid: every run's config, and the request (results folder, cache, command) they share."""

    request: RunRequest
    configs: list[RunConfig]

    @property
    def budget(self) -> Budget:
        return Budget(**self.configs[0].budget)

    def label(self, cfg: RunConfig) -> str:
        return run_label(cfg)


def run_label(cfg: RunConfig) -> str:
    return f"{cfg.model} (seed {cfg.seed})"


def is_complete(results: Path, cfg: RunConfig) -> bool:
    """A complete run with this key is in the results folder (re-issuing the grid skips it)."""
    existing = find_existing(results, cfg.run_key())
    return existing is not None and existing.record().get("status") == "complete"


class Executor:
    """Where the runs of a grid execute. Subclass it in a plugin and register a factory that takes the
    executor's options as keyword arguments (``--jobs`` for local; ``--slurm-*`` for slurm).

    ``run`` trains (or submits) every run of ``plan`` and returns one :class:`ganbench.grid.runner.RunOutcome`
    per run (status complete, diverged, failed, skipped, claimed, queued or interrupted). Each run must go
    through :func:`run_member` (in whatever process or node), which claims, resumes and logs it.
    """

    name = ""
    #: Whether the runs execute on this machine (its devices are checked while planning).
    runs_here = True

    def target_device(self, requested: str) -> str:
        """The device to plan runs for, from ``--device`` (``auto`` by default)."""
        return requested

    def describe(self, plan: GridPlan) -> list[str]:
        """Lines for ``--dry-run``: where the runs would execute."""
        return [f"executor {self.name}"]

    def slots(self, plan: GridPlan) -> int | None:
        """How many runs execute at once (for the projected time); None when a scheduler decides."""
        return 1

    def run(self, plan: GridPlan, registry: Registry, reporter: Any, stop: StopFlag) -> list[RunOutcome]:
        raise NotImplementedError

    def job_states(self, job_ids: list[str]) -> dict[str, tuple[str, str]]:
        """The scheduler's view of these jobs: id -> (state, reason); jobs it no longer knows are absent."""
        return {}


# ---------------------------------------------------------------------------------------------- planning


#: The command-line flag of each executor option, for errors.
OPTION_FLAGS = {"jobs": "--jobs", "partition": "--slurm-partition", "gpus_per_job": "--slurm-gpus-per-job",
                "time": "--slurm-time", "account": "--slurm-account", "options": "--slurm-option",
                "detach": "--detach"}


def make_executor(registry: Registry, name: str, options: dict[str, Any]) -> Executor:
    """The executor ``name`` built with the options the user set; an option it does not take is a
    one-line error naming the flag."""
    import inspect

    options = {k: v for k, v in options.items() if v is not None}
    factory = registry.get("executor", name).factory
    with contextlib.suppress(TypeError, ValueError):
        params = inspect.signature(factory).parameters.values()
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            known = {p.name for p in params}
            bad = [OPTION_FLAGS.get(k, k) for k in options if k not in known]
            if bad:
                takes = ", ".join(OPTION_FLAGS[k] for k in sorted(known) if k in OPTION_FLAGS) or "no options"
                raise ConfigError(f"{', '.join(bad)} does not apply to executor '{name}' (it takes: {takes})")
    executor = registry.create("executor", name, **options)
    if not isinstance(executor, Executor):
        raise ConfigError(f"executor '{name}' is not a ganbench.grid.Executor")
    return executor


def plan_grid(request: RunRequest, registry: Registry, executor: Executor) -> GridPlan:
    """Plan every run for where ``executor`` will run it (fails fast, before anything starts)."""
    request.device = executor.target_device(request.device)
    request.device_here = executor.runs_here
    return GridPlan(request, plan_comparison(request, registry))


def execute_grid(request: RunRequest, registry: Registry, executor: Executor, reporter: Any = None,
                 stop: StopFlag | None = None) -> list[RunOutcome]:
    """Plan the grid for ``executor`` and let it run (or submit) every run."""
    plan = plan_grid(request, registry, executor)
    return executor.run(plan, registry, reporter or SilentReporter(), stop if stop is not None else StopFlag())


def dry_run(request: RunRequest, registry: Registry, executor: Executor, measure: bool = True) -> list[str]:
    """``ganbench run --dry-run``: the grid, its budget, where it would run and how long; nothing starts."""
    plan = plan_grid(request, registry, executor)
    threads = getattr(executor, "threads", lambda: None)()
    return dry_run_lines(plan, executor, projected_times(plan, registry, executor.slots(plan), threads, measure))


# ---------------------------------------------------------------------------------------------- manifests


def grid_root(results: Path) -> Path:
    return Path(results) / ".grid"


def write_manifest(plan: GridPlan, executor: Executor, jobs: dict[str, str] | None = None) -> Path:
    """Record the grid (run keys, models, seeds and scheduler job ids) for ``ganbench status``."""
    ensure_writable(plan.request.results)
    root = grid_root(plan.request.results)
    root.mkdir(exist_ok=True)
    name = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
    runs = [{"key": c.run_key(), "model": c.model, "seed": c.seed, "job": (jobs or {}).get(c.run_key())}
            for c in plan.configs]
    path = root / f"{name}.json"
    atomic_write_json(path, {"id": name, "executor": executor.name, "command": plan.request.command,
                             "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "runs": runs})
    return path


def read_manifests(results: Path) -> list[dict[str, Any]]:
    root = grid_root(results)
    out = []
    for path in sorted(root.glob("*.json")) if root.is_dir() else []:
        with contextlib.suppress(ResultsError):
            out.append(read_json(path))
    return out


# ---------------------------------------------------------------------------------------------- workers


class RunLog:
    """Sends this process's stdout and stderr (file descriptors 1 and 2, so native libraries' output
    too) to ``RESULTS/.grid/logs/<key>.log`` until the run has a folder, then to ``<run folder>/log.txt``
    (the earlier lines moved there). :meth:`close` restores the original streams."""

    def __init__(self, results: Path, key: str) -> None:
        logs = grid_root(results) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.pre = logs / f"{key}.log"
        self.path = self.pre
        self._saved = [os.dup(1), os.dup(2)]
        self._switch(self.pre)

    def _switch(self, path: Path) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        self.path = path

    def move_to(self, run_dir: Path) -> None:
        target = run_dir / "log.txt"
        sys.stdout.flush()
        sys.stderr.flush()
        with contextlib.suppress(OSError), open(target, "ab") as out:
            out.write(self.pre.read_bytes())
        self._switch(target)
        with contextlib.suppress(OSError):
            self.pre.unlink()

    def close(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in zip((1, 2), self._saved, strict=True):
            os.dup2(saved, fd)
            os.close(saved)


class WorkerReporter(SilentReporter):
    """A grid worker's reporter: progress events to ``send`` (the parent's display; throttled), every
    message also into the run's log, and the log moved into the run folder once that exists."""

    def __init__(self, label: str, send=None, log: RunLog | None = None, every_s: float = 0.5) -> None:
        super().__init__()
        self.label, self.send, self.log, self.every_s = label, send, log, every_s
        self.run_dir: Path | None = None
        self._last = 0.0

    def _emit(self, *event) -> None:
        if self.send is not None:
            self.send((event[0], self.label, *event[1:]))

    def opened(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        if self.log is not None:
            self.log.move_to(run_dir)
        self._emit("opened", str(run_dir))

    def start(self, label, total):
        print(f"{label}: training, {total} steps", flush=True)
        self._emit("start", total)

    def advance(self, completed, info=""):
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self._emit("advance", completed, info)

    def finish(self, status):
        print(f"{self.label}: {status}", flush=True)
        self._emit("finish", status)

    def message(self, text):
        super().message(text)
        print(text, flush=True)
        self._emit("message", text)


def run_member(request: RunRequest, cfg: RunConfig, send=None, log: bool = True,
               stop: StopFlag | None = None) -> RunOutcome:
    """Train one run of a grid in this process: the body of every executor's worker.

    Claims the run (another live claim: status ``claimed``), skips it when complete, resumes it when
    interrupted, writes its output to its folder's ``log.txt`` and turns an exception into status
    ``failed`` with the reason in ``run.json`` (``error``), so one failed run never stops the others."""
    label = run_label(cfg)
    run_log = RunLog(request.results, cfg.run_key()) if log else None
    reporter = WorkerReporter(label, send, run_log)
    stop = stop if stop is not None else StopFlag()
    try:
        registry = load_registry()
        [outcome] = train_planned(request, [cfg], registry, reporter, stop)
    except StopRequested as exc:
        print(f"interrupted: {exc}", flush=True)
        outcome = RunOutcome(cfg.model, cfg.seed, "interrupted", reporter.run_dir or request.results)
    except BaseException as exc:  # noqa: BLE001 - a worker reports every failure, then the grid goes on
        traceback.print_exc()
        reason = str(exc).splitlines()[0] if isinstance(exc, GanbenchError) else \
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
        if reporter.run_dir is not None:
            with contextlib.suppress(GanbenchError, OSError):
                record = read_json(reporter.run_dir / "run.json")
                record["error"] = reason
                atomic_write_json(reporter.run_dir / "run.json", record)
        outcome = RunOutcome(cfg.model, cfg.seed, "failed", reporter.run_dir or request.results,
                             {"error": reason})
        if isinstance(exc, KeyboardInterrupt):
            raise
    finally:
        if run_log is not None:
            run_log.close()
    if send is not None:
        send(("done", label, outcome.status, str(outcome.run_dir), outcome.metrics))
    return outcome


def install_stop(stop: StopFlag, extra: tuple[int, ...] = ()):
    """SIGINT/SIGTERM (and ``extra`` signals) set ``stop``: the trainer checkpoints and stops. Returns a
    function that restores the previous handlers."""
    restore = stop.install()
    previous = {sig: signal.getsignal(sig) for sig in extra}
    for sig in extra:
        signal.signal(sig, lambda signum, frame: setattr(stop, "signal", signum))

    def undo() -> None:
        restore()
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return undo


# ---------------------------------------------------------------------------------------------- status


def _run_records(results: Path) -> dict[str, list[tuple[Path, dict[str, Any]]]]:
    by_key: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    for run in iter_runs(results):
        try:
            record = run.record()
        except ResultsError:
            continue
        if record.get("schema_version") in READABLE_SCHEMAS and record.get("key"):
            by_key.setdefault(record["key"], []).append((run.path, record))
    return by_key


_RANK = {"complete": 4, "diverged": 3, "running": 2, "interrupted": 1, "failed": 0}


def _last_line(path: Path) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""


def grid_status(results: Path, registry: Registry | None = None) -> list[dict[str, Any]]:
    """One row per run of every grid issued into ``results`` (and every run folder): model, seed, state
    (queued / running / complete / diverged / failed / interrupted / not started), where, reason."""
    results = Path(results)
    if not runs_root(results).is_dir():
        raise ResultsError(f"{results} holds no ganbench runs (no {runs_root(results)})")
    records = _run_records(results)
    rows: dict[str, dict[str, Any]] = {}
    jobs_by_executor: dict[str, set[str]] = {}
    for manifest in read_manifests(results):
        for r in manifest.get("runs", []):
            row = rows.setdefault(r["key"], {"key": r["key"], "model": r["model"], "seed": r["seed"]})
            if r.get("job"):
                row["job"], row["executor"] = r["job"], manifest.get("executor")
                jobs_by_executor.setdefault(manifest.get("executor", ""), set()).add(r["job"])
    for key, found in records.items():
        cfg = found[0][1].get("config", {})
        rows.setdefault(key, {"key": key, "model": cfg.get("model"), "seed": cfg.get("seed")})
    for key, holder in held_claims(results).items():  # being trained, no folder yet (or by a plain run)
        rows.setdefault(key, {"key": key, "model": holder.get("model"), "seed": holder.get("seed")})
    states: dict[str, tuple[str, str]] = {}
    if registry is not None:
        for name, ids in jobs_by_executor.items():
            if name in registry.entries["executor"]:
                with contextlib.suppress(GanbenchError):
                    states.update(make_executor(registry, name, {}).job_states(sorted(ids)))
    for key, row in rows.items():
        row.update(_state_of(results, key, records.get(key, []), states.get(row.get("job", ""))))
    return sorted(rows.values(), key=lambda r: (str(r["model"]), int(r["seed"] or 0)))


def _state_of(results: Path, key: str, found: list[tuple[Path, dict[str, Any]]],
              job: tuple[str, str] | None) -> dict[str, Any]:
    holder = claim_holder(results, key)
    best = max(found, key=lambda f: _RANK.get(f[1].get("status"), -1), default=None)
    status = best[1].get("status") if best else None
    out: dict[str, Any] = {"run_dir": str(best[0]) if best else None, "reason": "", "where": ""}
    if best and status == "complete":
        psnr = _psnr(best[0])
        return {**out, "state": "complete", "reason": f"PSNR {psnr:.2f} dB" if psnr is not None else ""}
    if best and status == "diverged":
        d = best[1].get("divergence") or {}
        return {**out, "state": "diverged",
                "reason": f"step {d.get('step')}: {', '.join(d.get('losses', []))} not finite"}
    if holder is not None:
        where = holder.get("host", "")
        where += f" pid {holder['pid']}" if holder.get("pid") else ""
        where += f" job {holder['job']}" if holder.get("job") else ""
        return {**out, "state": "running", "where": where.strip()}
    if job is not None and job[0] in ("PENDING", "REQUEUED", "CONFIGURING", "RESIZING", "SUSPENDED"):
        return {**out, "state": "queued", "where": "", "reason": job[1]}
    if job is not None and job[0] in ("RUNNING", "COMPLETING"):
        return {**out, "state": "running", "reason": "starting"}
    reason = (best[1].get("error") or "") if best else ""
    if job is not None and job[0] not in ("COMPLETED",):
        reason = reason or f"job {job[0].lower()}{': ' + job[1] if job[1] and job[1] != 'None' else ''}"
    if best is None:
        log = grid_root(results) / "logs" / f"{key}.log"
        if log.exists():
            return {**out, "state": "failed", "reason": reason or _last_line(log)}
        return {**out, "state": "not started", "reason": reason}
    if status == "failed" or best[1].get("error"):
        return {**out, "state": "failed", "reason": reason or _last_line(best[0] / "log.txt")}
    has_state = (best[0] / "state.pt").exists()
    return {**out, "state": "interrupted" if has_state else "failed",
            "reason": reason or ("stopped with a checkpoint: re-issue the grid to resume" if has_state
                                 else _last_line(best[0] / "log.txt") or "stopped before its first checkpoint")}


def _psnr(run_dir: Path) -> float | None:
    try:
        return float(json.loads((run_dir / "metrics.json").read_text())["model"]["psnr"])
    except (OSError, KeyError, ValueError, TypeError):
        return None


# ---------------------------------------------------------------------------------------------- dry run


@dataclass
class Projection:
    """Projected training time of each run (seconds; None when unknown) and where the rate came from."""

    seconds: dict[str, float | None] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)
    wall: float | None = None


def projected_times(plan: GridPlan, registry: Registry, slots: int | None, threads: int | None = None,
                    measure: bool = True) -> Projection:
    """Projected training time per run: steps from the budget times the step time of the same model,
    budget, device and precision, taken from finished runs in the results folder, else measured now
    with a few steps (``ganbench bench``) when the planned device exists here; ``wall``: the makespan of
    the runs not yet complete over ``slots`` runs at once (longest runs first)."""
    budget = plan.budget
    n_train = _train_count(plan, registry) if budget.epochs is not None else None
    proj = Projection()
    rates: dict[str, tuple[float | None, str]] = {}
    for cfg in plan.configs:
        if cfg.model not in rates:
            rates[cfg.model] = _step_rate(plan, cfg, registry, threads, measure)
        rate, source = rates[cfg.model]
        steps = budget.total_steps(n_train) if (budget.epochs is None or n_train is not None) else None
        seconds = None
        if steps is not None and rate:
            seconds = steps / rate
        if budget.seconds is not None:
            seconds = min(seconds, budget.seconds) if seconds is not None else budget.seconds
            source = source if seconds != budget.seconds else "the time budget"
        proj.seconds[cfg.run_key()], proj.source[cfg.run_key()] = seconds, source
    records = _run_records(plan.request.results) if runs_root(plan.request.results).is_dir() else {}
    times = [t for k, t in proj.seconds.items()
             if "complete" not in {r.get("status") for _, r in records.get(k, [])}]  # what is left to train
    if slots and all(t is not None for t in times):
        lanes = [0.0] * max(1, slots)
        for t in sorted(times, reverse=True):
            lanes[lanes.index(min(lanes))] += t
        proj.wall = max(lanes)
    return proj


def _train_count(plan: GridPlan, registry: Registry) -> int | None:
    cfg = plan.configs[0]
    with contextlib.suppress(Exception):
        return len(registry.create("dataset", cfg.dataset, **cfg.dataset_options).train)
    return None


def _step_rate(plan: GridPlan, cfg: RunConfig, registry: Registry, threads: int | None,
               measure: bool) -> tuple[float | None, str]:
    for path, record in (p for runs in _run_records(plan.request.results).values() for p in runs):
        c = record.get("config", {})
        rate = (record.get("throughput") or {}).get("generator_steps_per_s")
        if (record.get("status") == "complete" and rate and c.get("model") == cfg.model
                and c.get("recipe") == cfg.recipe and c.get("budget") == cfg.budget
                and c.get("device") == cfg.device and c.get("precision") == cfg.precision):
            return float(rate), f"finished run {path.name}"
    if not measure or not plan.request.device_here:
        return None, (f"no finished run of this model, budget and device in the results folder, and {cfg.device} "
                      "is not on this machine to time it")
    import torch

    from ganbench.tools.bench import bench_model

    before = torch.get_num_threads()
    try:
        if threads:
            torch.set_num_threads(threads)
        b = plan.budget
        out = bench_model(registry, cfg.model, image_size=b.image_size, batch_size=b.batch_size, steps=2,
                          warmup=1, device=cfg.device, precision=cfg.precision, compile=cfg.compile,
                          sets=_recipe_sets(cfg), budget=b.name.split("+")[0])
    finally:
        torch.set_num_threads(before)
    return out["generator_steps_per_s"], f"measured now (2 steps{f', {threads} threads' if threads else ''})"


def _recipe_sets(cfg: RunConfig) -> dict[str, Any]:
    """The run's network options as --set overrides, so the benchmark times the very same networks."""
    r = cfg.recipe
    sets = {f"generator.{k}": v for k, v in r.get("generator_options", {}).items()}
    sets.update({f"critic.{k}": v for k, v in r.get("critic_options", {}).items()})
    return sets


def format_seconds(s: float | None) -> str:
    if s is None:
        return "unknown"
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def dry_run_lines(plan: GridPlan, executor: Executor, projection: Projection) -> list[str]:
    """What ``ganbench run --dry-run`` prints: the runs, the budget, where they go, the projected time."""
    budget = plan.budget
    cfg0 = plan.configs[0]
    lines = [f"grid: {len(plan.configs)} runs ({len({c.model for c in plan.configs})} models x "
             f"{len({c.seed for c in plan.configs})} seeds), results in {plan.request.results}",
             f"budget {budget.name}: {describe(budget)}, {budget.image_size}px, batch {budget.batch_size}; "
             f"device {cfg0.device}, {cfg0.precision}",
             *executor.describe(plan)]
    records = _run_records(plan.request.results) if runs_root(plan.request.results).is_dir() else {}
    for cfg in plan.configs:
        key = cfg.run_key()
        found = records.get(key, [])
        statuses = {r.get("status") for _, r in found}
        state = "complete: skipped" if "complete" in statuses else (
            "resumes from its checkpoint" if any((p / "state.pt").exists() for p, _ in found) else "new")
        seconds = projection.seconds.get(key)
        when = f"~{format_seconds(seconds)}" if seconds is not None else "time unknown"
        lines.append(f"  {run_label(cfg):<20} key {key}  {state:<28} {when} ({projection.source.get(key, '')})")
    todo = [projection.seconds.get(c.run_key()) for c in plan.configs
            if "complete" not in {r.get("status") for _, r in records.get(c.run_key(), [])}]
    if all(t is not None for t in todo):
        lines.append(f"projected: {format_seconds(sum(todo))} of training for the {len(todo)} runs to do"
                     + (f", about {format_seconds(projection.wall)} wall-clock with {executor.slots(plan)} at once"
                        if projection.wall is not None else " (wall-clock: as the scheduler runs them)")
                     + "; evaluation and scoring not included")
    else:
        lines.append("projected time: unknown for some runs (no finished run to take the rate from)")
    return lines


__all__ = ["Executor", "GridPlan", "make_executor", "plan_grid", "execute_grid", "dry_run", "run_member",
           "grid_status", "write_manifest", "read_manifests", "projected_times", "dry_run_lines", "STATES"]
