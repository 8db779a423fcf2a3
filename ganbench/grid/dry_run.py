"""``ganbench run --dry-run``: the grid, its budget, where it would run and how long (from finished runs in the
results folder, or a few steps timed now); nothing starts."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from ganbench.core.budgets import describe
from ganbench.core.config import RunConfig
from ganbench.core.registry import Registry
from ganbench.core.request import RunRequest
from ganbench.data.filelist import open_dataset
from ganbench.grid.executors import Executor, GridPlan, plan_grid, run_label
from ganbench.grid.status import run_records
from ganbench.store.results import runs_root


def dry_run(request: RunRequest, registry: Registry, executor: Executor, measure: bool = True) -> list[str]:
    """``ganbench run --dry-run``: the grid, its budget, where it would run and how long; nothing starts."""
    plan = plan_grid(request, registry, executor)
    threads = getattr(executor, "threads", lambda: None)()
    return dry_run_lines(plan, executor, projected_times(plan, registry, executor.slots(plan), threads, measure))


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
        steps = budget.total_steps(n_train or 0) if (budget.epochs is None or n_train is not None) else None
        seconds = None
        if steps is not None and rate:
            seconds = steps / rate
        if budget.seconds is not None:
            seconds = min(seconds, budget.seconds) if seconds is not None else budget.seconds
            source = source if seconds != budget.seconds else "the time budget"
        proj.seconds[cfg.run_key()], proj.source[cfg.run_key()] = seconds, source
    records = run_records(plan.request.results) if runs_root(plan.request.results).is_dir() else {}
    left = [t for k, t in proj.seconds.items()
            if not any(r.complete for _, r in records.get(k, []))]  # what is left to train
    times = [t for t in left if t is not None]
    if slots and len(times) == len(left):
        lanes = [0.0] * max(1, slots)
        for t in sorted(times, reverse=True):
            lanes[lanes.index(min(lanes))] += t
        proj.wall = max(lanes)
    return proj


def _train_count(plan: GridPlan, registry: Registry) -> int | None:
    cfg = plan.configs[0]
    with contextlib.suppress(Exception):
        return len(open_dataset(registry, cfg.dataset, cfg.dataset_options).train)
    return None


def _step_rate(plan: GridPlan, cfg: RunConfig, registry: Registry, threads: int | None,
               measure: bool) -> tuple[float | None, str]:
    this = cfg.to_dict()
    for path, record in (p for runs in run_records(plan.request.results).values() for p in runs):
        c = record.config
        rate = record.generator_steps_per_s
        if (record.complete and rate and record.model == cfg.model
                and c.get("recipe") == this["recipe"] and c.get("budget") == this["budget"]
                and c.get("device") == cfg.device and c.get("precision") == cfg.precision):
            return float(rate), f"finished run {path.name}"
    if not measure or not plan.request.device_here:
        return None, (f"no finished run of this model, budget and device in the results folder, and {cfg.device} "
                      "is not on this machine to time it")
    import torch

    from ganbench.train.bench import bench_model

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
    sets = {f"generator.{k}": v for k, v in cfg.recipe.generator_options.items()}
    sets.update({f"critic.{k}": v for k, v in cfg.recipe.critic_options.items()})
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
    records = run_records(plan.request.results) if runs_root(plan.request.results).is_dir() else {}
    for cfg in plan.configs:
        key = cfg.run_key()
        found = records.get(key, [])
        state = "complete: skipped" if any(r.complete for _, r in found) else (
            "resumes from its checkpoint" if any((p / "state.pt").exists() for p, _ in found) else "new")
        seconds = projection.seconds.get(key)
        when = f"~{format_seconds(seconds)}" if seconds is not None else "time unknown"
        lines.append(f"  {run_label(cfg):<20} key {key}  {state:<28} {when} ({projection.source.get(key, '')})")
    todo_or_unknown = [projection.seconds.get(c.run_key()) for c in plan.configs
                       if not any(r.complete for _, r in records.get(c.run_key(), []))]
    todo = [t for t in todo_or_unknown if t is not None]
    if len(todo) == len(todo_or_unknown):
        lines.append(f"projected: {format_seconds(sum(todo))} of training for the {len(todo)} runs to do"
                     + (f", about {format_seconds(projection.wall)} wall-clock with {executor.slots(plan)} at once"
                        if projection.wall is not None else " (wall-clock: as the scheduler runs them)")
                     + "; evaluation and scoring not included")
    else:
        lines.append("projected time: unknown for some runs (no finished run to take the rate from)")
    return lines
