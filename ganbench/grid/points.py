"""Scales: one comparison per point of a budget axis or a data axis, every point a complete run of its own.

``--scale images=1200,2400,4800,9600`` (any stopping key of ``--budget``: steps, images, epochs, time),
several ``--budget`` values, and ``--scale limit=9,18,36`` (the number of training photos) each turn one
:class:`~ganbench.grid.in_process.RunRequest` into one request per point. A budget axis and a data axis together
give every combination. Each point is a comparison like any other (its own budget, so its own learning-rate
schedule; the same seeds, so the same data order), stored by run key: re-issuing the command skips the
points already done, and a plain ``ganbench run`` at a point's settings reuses or is reused by it. The
report draws the curves across the stored points (:mod:`ganbench.report.curves`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ganbench.core.budgets import parse_budget
from ganbench.core.errors import ConfigError
from ganbench.core.registry import Registry
from ganbench.core.reporting import Reporter, as_reporter
from ganbench.grid.in_process import RunOutcome, RunRequest, plan_comparison, run_comparison
from ganbench.train.signals import StopFlag

#: ``--scale`` keys that vary the budget's length (``--budget`` stopping keys) and the one that varies the data.
STOP_KEYS = ("steps", "images", "epochs", "time")
DATA_KEY = "limit"
_ALIASES = {"seconds": "time"}
_EXAMPLE = "e.g. images=1200,2400,4800,9600 or limit=9,18,36"


@dataclass(frozen=True)
class Axis:
    key: str
    values: tuple[str, ...]


def parse_scale(spec: str) -> Axis:
    """``images=1200,2400`` -> Axis('images', ('1200', '2400')); every value checked now."""
    key, sep, text = str(spec).partition("=")
    key = _ALIASES.get(key.strip().lower(), key.strip().lower())
    values = tuple(v.strip() for v in text.split(","))
    if not sep or not key or not all(values):
        raise ConfigError(f"malformed --scale '{spec}': expected KEY=V1,V2,... ({_EXAMPLE})")
    if key not in (*STOP_KEYS, DATA_KEY):
        raise ConfigError(f"unknown --scale key '{key}': use {', '.join(STOP_KEYS)} (the budget) or limit (the data)")
    if len(set(values)) != len(values):
        raise ConfigError(f"malformed --scale '{spec}': a value is repeated")
    for value in values:
        if key == DATA_KEY:
            if not value.isdigit() or int(value) < 1:
                raise ConfigError(f"malformed --scale limit={value}: expected a whole number of photos >= 1")
        else:
            parse_budget(f"{key}={value}")  # the --budget language's own checks and messages
    return Axis(key, values)


def _without_stop(spec: str | None) -> list[str]:
    """A --budget spec's parts other than its stopping rule (the scale supplies that)."""
    parts = [p.strip() for p in (spec or "").split(",") if p.strip()]
    return [p for p in parts if _ALIASES.get(p.partition("=")[0].strip().lower(),
                                             p.partition("=")[0].strip().lower()) not in STOP_KEYS]


def budget_points(request: RunRequest, axes: list[Axis], budgets: list[str]) -> list[str | None]:
    stop = [a for a in axes if a.key in STOP_KEYS]
    if len(stop) > 1:
        raise ConfigError(f"--scale {stop[0].key}=... and --scale {stop[1].key}=...: one budget axis at a time")
    if stop and len(budgets) > 1:
        raise ConfigError(f"--scale {stop[0].key}=... and several --budget: give one of them")
    if stop:
        base = _without_stop(budgets[0] if budgets else request.budget)
        return [",".join([*base, f"{stop[0].key}={v}"]) for v in stop[0].values]
    return list(budgets) if budgets else [request.budget]


def scale_requests(request: RunRequest, scales: list[str], budgets: list[str] | None = None) -> list[RunRequest]:
    """One request per point, in the order given (budget axis outer, data axis inner)."""
    budgets = list(budgets or [])
    axes = [parse_scale(s) for s in scales]
    keys = [a.key for a in axes]
    if len(set(keys)) != len(keys):
        raise ConfigError("the same --scale key is given twice: put all its values in one --scale KEY=V1,V2")
    data = [a for a in axes if a.key == DATA_KEY]
    if data and request.dataset_options.get("limit") is not None:
        raise ConfigError("--limit and --scale limit=...: give one of them")
    limits = [int(v) for v in data[0].values] if data else [request.dataset_options.get("limit")]
    points = []
    for budget in budget_points(request, axes, budgets):
        for limit in limits:
            options = {k: v for k, v in request.dataset_options.items() if k != "limit"}
            if limit is not None:
                options["limit"] = limit
            points.append(replace(request, budget=budget, dataset_options=options))
    return points


def describe_point(request: RunRequest) -> str:
    limit = request.dataset_options.get("limit")
    return f"budget {request.budget or 'default'}" + (f", {limit} training photos at most" if limit else "")


def run_points(requests: list[RunRequest], registry: Registry, reporter: Reporter | None = None,
              stop: StopFlag | None = None,
              run: Callable[[RunRequest], list[RunOutcome]] | None = None) -> list[RunOutcome]:
    """Plan every point first (a bad value fails before any training), then run them one after another,
    each with ``run`` (default: :func:`~ganbench.grid.in_process.run_comparison` in this process; the CLI passes its
    executor's grid)."""
    reporter = as_reporter(reporter)
    plans = [plan_comparison(r, registry) for r in requests]
    keys = [tuple(c.run_key() for c in plan) for plan in plans]
    if len(set(keys)) != len(keys):
        raise ConfigError("two points of the scale are the same runs: give each budget or limit once")
    outcomes: list[RunOutcome] = []
    for i, request in enumerate(requests, 1):
        if len(requests) > 1:
            reporter.message(f"point {i} of {len(requests)}: {describe_point(request)}")
        outcomes += run(request) if run is not None else run_comparison(request, registry, reporter, stop)
    return outcomes


run_scale = run_points  # its name before the run chain was named one way; kept for code written against it

__all__ = ["Axis", "parse_scale", "scale_requests", "run_points", "run_scale", "describe_point"]
