"""What a user asked for, typed: a :class:`RunRequest` (models, dataset, budget, seeds, device, ...) and where
its grid runs (:class:`GridChoice`), made in one place from the command line's flags over a TOML file's
``[run]`` table (a flag given wins; a setting given in neither takes the default here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench.core import options as opts
from ganbench.core.config import ConfigFile, parse_sets
from ganbench.core.errors import ConfigError
from ganbench.core.options import RequestOptions, RunSettings, as_list, split_list  # noqa: F401 (public here)


@dataclass
class RunRequest(RequestOptions, RunSettings):
    """What a user asked for; the planner (``ganbench.grid.plan``) turns it into validated RunConfigs. Its
    options (models, seeds, device, ..., checkpoint_every, ema, ...) are declared in
    :mod:`ganbench.core.options`; the fields below are what the command adds."""

    dataset_options: dict[str, Any] = field(default_factory=dict)
    #: one point's budget (``--budget`` and ``--scale`` give one request per point: grid/points.py)
    budget: str | None = None
    sets: dict[str, Any] = field(default_factory=dict)
    config: ConfigFile = field(default_factory=ConfigFile)
    command: str = ""
    #: False when an executor runs the grid elsewhere (a SLURM node): ``device`` is then taken as named
    #: (``cuda`` planned on a login node without GPUs), not checked against this machine.
    device_here: bool = True


@dataclass
class GridChoice:
    """Where a request's runs execute and over which points: the executor and the options given for it (only
    those set: an executor rejects the others'), the ``--budget`` values and the ``--scale`` axes."""

    executor: str = opts.default(opts.ExecutorOptions, "executor")
    executor_options: dict[str, Any] = field(default_factory=dict)
    budgets: list[str] = field(default_factory=list)
    scale: list[str] = field(default_factory=list)


#: Executor options by their [run] key (and flag name) -> the executor's own option name.
EXECUTOR_OPTIONS = {d.name: d.spec.executor for d in opts.declared(opts.ExecutorOptions) if d.spec.executor}
DATASET_KEYS = tuple(d.name for d in opts.declared(opts.DatasetOptions))


def dataset_options(**flags: Any) -> dict[str, Any]:
    """The dataset flags that were given (by their click names: ``small`` for the places365 variant), checked
    (``ganbench evaluate`` and ``ganbench data info`` take every declared DatasetOptions flag this way)."""
    return opts.resolve(opts.DatasetOptions, flags)


def run_request(flags: dict[str, Any], config: ConfigFile, sets: tuple[str, ...] = (), command: str = "",
                cache_dir: Path | None = None, rerun: bool | None = None) -> tuple[RunRequest, GridChoice]:
    """The request and grid choice of ``ganbench run``: ``flags`` by their click parameter names (None or ():
    not given on the command line), ``config``'s [run] beneath them, ``config``'s [set] beneath ``sets``
    (``--set`` items); what neither gives takes the declared default (:mod:`ganbench.core.options`)."""
    flags = {**flags, **({"cache_dir": cache_dir} if cache_dir is not None else {}),
             **({"rerun": rerun} if rerun is not None else {})}
    rc = config.run
    given = {**opts.resolve(RunSettings, flags, rc), **opts.resolve(RequestOptions, flags, rc)}
    if not given.get("models"):
        raise ConfigError("no models given: use --models dcgan,wgan,wgan-gp")
    request = RunRequest(**given, dataset_options=opts.resolve(opts.DatasetOptions, flags, rc),
                         sets={**config.sets, **parse_sets(sets)}, config=config, command=command)
    points = opts.resolve(opts.PointOptions, flags, rc)
    where = opts.resolve(opts.ExecutorOptions, flags, rc)
    choice = GridChoice(budgets=points.get("budget", []), scale=points.get("scale", []),
                        **({"executor": where.pop("executor")} if "executor" in where else {}),
                        executor_options={EXECUTOR_OPTIONS[k]: v for k, v in where.items()})
    return request, choice
