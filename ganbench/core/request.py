"""What a user asked for, typed: a :class:`RunRequest` (models, dataset, budget, seeds, device, ...) and where
its grid runs (:class:`GridChoice`), made in one place from the command line's flags over a TOML file's
``[run]`` table (a flag given wins; a setting given in neither takes the default here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench.core.config import ConfigFile, parse_seeds, parse_sets
from ganbench.core.errors import ConfigError


@dataclass
class RunRequest:
    """What a user asked for; the planner (``ganbench.grid.plan``) turns it into validated RunConfigs."""

    models: list[str]
    dataset: str = "embedded"
    dataset_options: dict[str, Any] = field(default_factory=dict)
    budget: str | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    device: str = "auto"
    precision: str | None = None
    compile: bool = False
    sets: dict[str, Any] = field(default_factory=dict)
    config: ConfigFile = field(default_factory=ConfigFile)
    results: Path = Path("results")
    eval_every: int | None = None
    checkpoint_every: int = 100
    metrics: list[str] | None = None
    ema: float = 0.0
    colorfulness_floor: float = 1 / 3
    image_size: int | None = None
    batch_size: int | None = None
    cache_dir: Path | None = None
    command: str = ""
    #: False when an executor runs the grid elsewhere (a SLURM node): ``device`` is then taken as named
    #: (``cuda`` planned on a login node without GPUs), not checked against this machine.
    device_here: bool = True
    #: train afresh even where a complete run with the same key exists (the old one stays on disk)
    rerun: bool = False


@dataclass
class GridChoice:
    """Where a request's runs execute and over which points: the executor and the options given for it (only
    those set: an executor rejects the others'), the ``--budget`` values and the ``--scale`` axes."""

    executor: str = "local"
    executor_options: dict[str, Any] = field(default_factory=dict)
    budgets: list[str] = field(default_factory=list)
    scale: list[str] = field(default_factory=list)


#: Executor options by their [run] key (and flag name) -> the executor's own option name.
EXECUTOR_OPTIONS = {"jobs": "jobs", "slurm_partition": "partition", "slurm_gpus_per_job": "gpus_per_job",
                    "slurm_time": "time", "slurm_account": "account", "slurm_options": "options",
                    "detach": "detach"}
DATASET_KEYS = ("data_root", "test_root", "limit", "split", "variant", "file_list")


def split_list(value: str | None) -> list[str] | None:
    """``"a,b"`` -> ``["a", "b"]``; an empty item is an error."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",")]
    if not all(items):
        raise ConfigError(f"malformed list '{value}': use comma-separated names without empty items")
    return items


def as_list(value: Any) -> list[str]:
    """A config value that may be one string or a list of them ([run] budget, [run] scale)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ConfigError(f"malformed config value {value!r}: expected a string or a list of strings")


def dataset_options(data_root=None, test_root=None, limit=None, split=None, small=None,
                    file_list=None) -> dict[str, Any]:
    """The dataset flags that were given (``small``: the places365 variant; ``file_list``: any dataset's)."""
    opts: dict[str, Any] = {"data_root": data_root, "test_root": test_root, "limit": limit, "split": split,
                            "variant": None if small is None else ("small" if small else "large"),
                            "file_list": file_list}
    return {k: v for k, v in opts.items() if v is not None}


def run_request(flags: dict[str, Any], config: ConfigFile, sets: tuple[str, ...] = (), command: str = "",
                cache_dir: Path | None = None, rerun: bool = False) -> tuple[RunRequest, GridChoice]:
    """The request and grid choice of ``ganbench run``: ``flags`` by their [run] key (None: not given on the
    command line), ``config``'s [run] beneath them, ``config``'s [set] beneath ``sets`` (``--set`` items)."""
    rc = config.run

    def pick(key: str, default: Any = None) -> Any:
        value = flags.get(key)
        return value if value is not None else rc.get(key, default)

    models = split_list(flags["models"]) if flags.get("models") else rc.get("models")
    if isinstance(models, str):
        models = split_list(models)
    if not models:
        raise ConfigError("no models given: use --models dcgan,wgan,wgan-gp")
    options = {k: rc[k] for k in DATASET_KEYS if k in rc}
    options.update({k: flags[k] for k in DATASET_KEYS if flags.get(k) is not None})
    request = RunRequest(
        models=models, dataset=pick("dataset", "embedded"), dataset_options=options, budget=None,
        seeds=parse_seeds(pick("seeds")), device=pick("device", "auto"), precision=pick("precision"),
        compile=bool(pick("compile", False)), sets={**config.sets, **parse_sets(sets)}, config=config,
        results=Path(pick("results", "results")), eval_every=pick("eval_every"),
        checkpoint_every=int(pick("checkpoint_every", 100)),
        metrics=split_list(flags["metrics"]) if flags.get("metrics") else rc.get("metrics"),
        ema=float(pick("ema", 0.0)), colorfulness_floor=float(pick("colorfulness_floor", 1 / 3)),
        image_size=pick("image_size"), batch_size=pick("batch_size"), cache_dir=cache_dir, rerun=rerun,
        command=command,
    )
    executor_options = {name: pick(key) for key, name in EXECUTOR_OPTIONS.items()}
    executor_options["options"] = list(flags.get("slurm_options") or ()) or rc.get("slurm_options")
    grid = GridChoice(executor=pick("executor", "local"),
                      executor_options={k: v for k, v in executor_options.items() if v is not None},
                      budgets=list(flags.get("budget") or ()) or as_list(rc.get("budget")),
                      scale=list(flags.get("scale") or ()) or as_list(rc.get("scale")))
    return request, grid
