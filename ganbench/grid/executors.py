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
import os
import secrets
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.core.budgets import Budget
from ganbench.core.config import RunConfig
from ganbench.core.errors import ConfigError, GanbenchError, ResultsError
from ganbench.core.options import ExecutorOptions, declared
from ganbench.core.registry import Registry, load_registry
from ganbench.core.reporting import SilentReporter, as_reporter
from ganbench.core.request import RunRequest
from ganbench.grid.in_process import RunOutcome, run_configs
from ganbench.grid.plan import plan_comparison
from ganbench.store.results import (
    RunDir,
    atomic_write_json,
    ensure_writable,
    find_existing,
    read_json,
)
from ganbench.train.signals import StopFlag, StopRequested

#: States ``ganbench status`` shows. ``interrupted``: stopped with a checkpoint, re-issue to resume.
STATES = ("queued", "running", "complete", "diverged", "failed", "interrupted", "not started")


@dataclass
class GridPlan:
    """A planned grid: every run's config, and the request (results folder, cache, command) they share."""

    request: RunRequest
    configs: list[RunConfig]

    @property
    def budget(self) -> Budget:
        return self.configs[0].budget

    def label(self, cfg: RunConfig) -> str:
        return run_label(cfg)


def run_label(cfg: RunConfig) -> str:
    return f"{cfg.model} (seed {cfg.seed})"


def is_complete(results: Path, cfg: RunConfig) -> bool:
    """A complete run with this key is in the results folder (re-issuing the grid skips it)."""
    existing = find_existing(results, cfg.run_key())
    return existing is not None and existing.record().complete


class Executor:
    """Where the runs of a grid execute. Subclass it in a plugin and register a factory that takes the
    executor's options as keyword arguments (``--jobs`` for local; ``--slurm-*`` for slurm).

    ``run`` trains (or submits) every run of ``plan`` and returns one :class:`ganbench.grid.in_process.RunOutcome`
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
OPTION_FLAGS = {d.spec.executor: d.flag for d in declared(ExecutorOptions) if d.spec.executor}


def make_executor(registry: Registry, name: str, options: dict[str, Any]) -> Executor:
    """The executor ``name`` built with the options the user set; an option it does not take is a
    one-line error naming the flag."""
    import inspect

    options = {k: v for k, v in options.items() if v is not None}
    known: set[str] | None = None
    declared = registry.declared_options("executor", name)  # register(name, cls, accepts=(...))
    if declared is not None:
        known = set(declared)
    else:  # an executor registered before accepts=: guessed from its signature (**kwargs takes anything)
        if options:
            registry.warn_guessed("executor", name)
        with contextlib.suppress(TypeError, ValueError):
            params = inspect.signature(registry.get("executor", name).factory).parameters.values()
            if not any(p.kind is p.VAR_KEYWORD for p in params):
                known = {p.name for p in params}
    if known is not None:
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


def run_grid(request: RunRequest, registry: Registry, executor: Executor, reporter: Any = None,
             stop: StopFlag | None = None) -> list[RunOutcome]:
    """Plan the grid for ``executor`` and let it run (or submit) every run."""
    plan = plan_grid(request, registry, executor)
    return executor.run(plan, registry, as_reporter(reporter), stop if stop is not None else StopFlag())


execute_grid = run_grid  # its name before the run chain was named one way; kept for code written against it


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
        [outcome] = run_configs(request, [cfg], registry, reporter, stop)
    except StopRequested as exc:
        print(f"interrupted: {exc}", flush=True)
        outcome = RunOutcome(cfg.model, cfg.seed, "interrupted", reporter.run_dir or request.results)
    except BaseException as exc:  # noqa: BLE001 - a worker reports every failure, then the grid goes on
        traceback.print_exc()
        reason = str(exc).splitlines()[0] if isinstance(exc, GanbenchError) else \
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
        if reporter.run_dir is not None:
            with contextlib.suppress(GanbenchError, OSError):
                RunDir(reporter.run_dir).update_record(error=reason)
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
