"""Every option of ``ganbench run``, declared once: its name (the TOML ``[run]`` key; ``--name-with-dashes`` on
the command line), type, default, help and checks, as a dataclass field made by :func:`option`.

From these fields the rest is derived: the click options (``ganbench.cli.options``), the keys a config file's
``[run]`` table accepts (:data:`RUN_KEYS`), the merge of flags over ``[run]`` over defaults and the checks
(:func:`resolve`, :func:`check`), the fields of :class:`~ganbench.core.request.RunRequest` (which inherits
:class:`RequestOptions` and :class:`RunSettings`) and of :class:`~ganbench.core.config.RunConfig` (which
inherits :class:`RunSettings`), and what the run key leaves out (:func:`outside_run_key`).

To add an option, add one field to the class where its value belongs, then use it:

- :class:`RunSettings`: a setting of each run, carried unchanged from the request into every ``RunConfig`` (and
  its ``run.json``); the trainer reads ``cfg.NAME``. Part of the run key unless ``run_key=False``.
- :class:`RequestOptions`: what the planner (``ganbench/grid/plan.py``) resolves into the configs (models,
  seeds, device, the budget's overrides, ...); the planner reads ``request.NAME``.
- :class:`DatasetOptions`: keyword arguments of the dataset plugin (``request.dataset_options``).
- :class:`PointOptions`: the points a request runs at (``--budget``, ``--scale``).
- :class:`ExecutorOptions`: where the runs execute (``executor="..."``: the executor plugin's own option name).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import MISSING, dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

from ganbench.core.errors import ConfigError

#: The metadata key of a declared option in its dataclass field.
KEY = "ganbench.option"

#: The metrics a run computes unless told otherwise (the one list: runner and report read it from here).
DEFAULT_METRICS = ("psnr", "mae", "ssim", "colorfulness", "ab-swd", "delta-cf")


@dataclass(frozen=True)
class Option:
    """How one option is given and checked (its name and default are its dataclass field's)."""

    help: str
    #: value type: str, int, float, bool (a flag, or ``--x/--no-x`` with ``flag``), Path, or list (of str)
    type: type = str
    #: the long flag when not ``--name-with-dashes`` (``--compile/--no-compile``, ``--slurm-option``)
    flag: str | None = None
    short: str | None = None
    choices: tuple[str, ...] = ()
    #: given several times on the command line (``--budget a --budget b``); in TOML a string or a list
    multiple: bool = False
    metavar: str | None = None
    #: bounds checked for numbers (``below``: exclusive upper bound); ``note`` ends the error message
    minimum: float | None = None
    maximum: float | None = None
    below: float | None = None
    note: str = ""
    #: a raw value (flag text, a TOML value) -> the option's value; raises ConfigError
    parse: Callable[[Any], Any] | None = None
    #: accepted in a config file's ``[run]`` table
    toml: bool = True
    #: part of a run's key (and of what tells a report's rows apart); False for what does not change results
    run_key: bool = True
    #: the executor plugin's own name for it (ExecutorOptions only)
    executor: str | None = None
    #: the click parameter's name when not the field's (kept for commands written before the declaration)
    param: str | None = None
    #: the default as the help shows it, when ``{default}`` should not print the value itself
    shown: str | None = None


def option(default: Any = MISSING, help: str = "", **spec: Any) -> Any:  # noqa: A002 - click's word for it
    """A dataclass field declaring an option; ``help`` may contain ``{default}``. A list default is copied per
    instance; no default: the option is required."""
    meta = {KEY: Option(help=help, **spec)}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Declared:
    """One declared option: its field's name and default, and its :class:`Option`."""

    name: str
    default: Any
    spec: Option

    @property
    def param_name(self) -> str:
        """The click parameter's name (the key of a command's flags)."""
        return self.spec.param or self.name

    @property
    def flag(self) -> str:
        """The command line's name for it (``--checkpoint-every``)."""
        return (self.spec.flag or "--" + self.name.replace("_", "-")).split("/")[0]

    @property
    def help(self) -> str:
        return self.spec.help.format(default=self.spec.shown or show(self.default))

    def check(self, value: Any) -> None:
        """One line naming the flag when ``value`` is out of its bounds or choices."""
        s = self.spec
        if value is None:
            return
        if s.choices and value not in s.choices:
            raise ConfigError(f"unknown {self.flag.lstrip('-')} '{value}': use "
                              f"{', '.join(s.choices[:-1])} or {s.choices[-1]}")
        if s.type in (int, float) and not isinstance(value, bool):
            low = "" if s.minimum is None else f"{s.minimum:g}"
            bad = (s.minimum is not None and value < s.minimum) or (s.maximum is not None and value > s.maximum) \
                or (s.below is not None and value >= s.below) or (s.type is float and not math.isfinite(value))
            if bad:
                if s.maximum is not None or s.below is not None:
                    top = f"{s.maximum:g}]" if s.maximum is not None else f"{s.below:g})"
                    want = f"in [{low}, {top}"
                else:
                    want = f">= {low}"
                note = f" ({s.note})" if s.note else ""
                raise ConfigError(f"{self.flag} must be {want}{note}, got {value:g}")

    def convert(self, raw: Any, where: str) -> Any:
        """A value given on the command line or in ``[run]`` as the option's type (``where`` names the source
        in an error)."""
        s = self.spec
        try:
            if s.parse is not None:
                return s.parse(raw)
            if s.multiple or s.type is list:
                return as_list(raw)
            if s.type is bool:
                if not isinstance(raw, bool):
                    raise ValueError
                return raw
            if s.type is int:
                if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                    raise ValueError
                return int(raw)
            if s.type is float:
                if isinstance(raw, bool):
                    raise ValueError
                return float(raw)
            if s.type is Path:
                return Path(raw)
            if not isinstance(raw, str):
                raise ValueError
            return raw
        except (TypeError, ValueError):
            kind = {int: "a whole number", float: "a number", bool: "true or false", Path: "a path",
                    list: "a list of strings"}.get(list if s.multiple else s.type, "a string")
            raise ConfigError(f"{where} {self.name} = {raw!r}: expected {kind}") from None


def show(value: Any) -> str:
    """A default as the help text shows it: ``off``, ``100``, ``1/3``, ``psnr,mae``."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        frac = Fraction(value).limit_denominator(12)
        return str(frac) if frac.denominator > 1 and float(frac) == value and len(f"{value:g}") > 5 else f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def declared(cls: type) -> list[Declared]:
    """The options declared by ``cls``'s fields (its bases' first), in order."""
    out = []
    for f in fields(cls):
        if KEY in f.metadata:
            default = f.default_factory() if f.default_factory is not MISSING else f.default
            out.append(Declared(f.name, None if default is MISSING else default, f.metadata[KEY]))
    return out


def default(group: type, name: str) -> Any:
    """The declared default of option ``name`` of ``group``."""
    [d] = [d for d in declared(group) if d.name == name]
    return d.default


def settings_of(values: Any) -> dict[str, Any]:
    """The :class:`RunSettings` of a request (or a config), to carry into each run's config."""
    return {d.name: getattr(values, d.name) for d in declared(RunSettings)}


def as_list(value: Any) -> list[str]:
    """A value that may be one string or a list of them ([run] budget, [run] scale), or a repeated flag."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(value)


def split_list(value: str | None) -> list[str] | None:
    """``"a,b"`` -> ``["a", "b"]``; an empty item is an error."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",")]
    if not all(items):
        raise ConfigError(f"malformed list '{value}': use comma-separated names without empty items")
    return items


def names(value: Any) -> list[str]:
    """A comma-separated list on the command line, a list of strings or that text in ``[run]``."""
    if isinstance(value, str):
        return (split_list(value) or []) if value.strip() else []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ValueError(value)


def parse_seeds(text: str | int | list | None) -> list[int]:
    """``0,1,2`` (these seeds) or ``3`` (seeds 0, 1, 2); None: the declared default."""
    if text is None:
        return list(default(RequestOptions, "seeds"))
    if isinstance(text, list):
        values = text
    elif isinstance(text, int):
        values = [text]
        text = str(text)
    else:
        try:
            values = [int(p) for p in str(text).split(",") if p.strip() != ""]
        except ValueError:
            raise ConfigError(f"malformed --seeds '{text}': use a count (3) or a list (0,1,2)") from None
    if not values or any(not isinstance(v, int) or v < 0 for v in values):
        raise ConfigError(f"malformed --seeds '{text}': use a count >= 1 (3) or non-negative seeds (0,1,2)")
    if "," not in str(text) and len(values) == 1:
        if values[0] < 1:
            raise ConfigError("--seeds as a count must be >= 1")
        return list(range(values[0]))
    if len(set(values)) != len(values):
        raise ConfigError(f"malformed --seeds '{text}': a seed is repeated")
    return values


def variant(value: Any) -> str:
    """``--small`` / ``--large`` (True / False) or ``variant = "small"`` in ``[run]``."""
    if isinstance(value, bool):
        return "small" if value else "large"
    if isinstance(value, str):
        return value
    raise ValueError(value)


# ------------------------------------------------------------------------------------------ the declaration


@dataclass(kw_only=True)
class RunSettings:
    """Settings of each run, carried unchanged from the request into every RunConfig (and its run.json)."""

    compile: bool = option(False, "torch.compile the generator and the critic (default {default}).",
                           type=bool, flag="--compile/--no-compile")
    checkpoint_every: int = option(100, "Checkpoint every N steps (default {default}).", type=int, minimum=0,
                                   run_key=False)
    ema: float = option(0.0, "EMA decay of generator weights (0 = off).", type=float, minimum=0, below=1,
                        note="a decay; 0 = off")
    #: checkpoint selection: validation colourfulness must reach this fraction of the photos' own
    colorfulness_floor: float = option(
        1 / 3, "Checkpoint selection: validation colourfulness must reach this fraction of the photos' own "
               "(default {default}; 0 = best validation PSNR alone).", type=float, minimum=0, maximum=1)
    samples: int = option(8, "Held-out photos shown in each run's sample grid (samples.png, samples.npz; default "
                             "{default}).", type=int, minimum=1, run_key=False)


@dataclass(kw_only=True)
class RequestOptions:
    """What the planner resolves into one RunConfig per (model, seed)."""

    models: list[str] = option(help="Comma-separated model names, e.g. dcgan,wgan,wgan-gp.", short="-m",
                               parse=names)
    seeds: list[int] = option([0], "A count (3 = seeds 0,1,2) or a list (0,1,2).", parse=parse_seeds)
    device: str = option("auto", "cpu, cuda, cuda:N or auto (default).")
    precision: str | None = option(
        None, "Autocast precision (default: bf16 on CUDA, fp32 on a CPU; auto: on a CPU, bf16 where a probe "
              "timed now measures it faster than fp32).", choices=("fp32", "bf16", "fp16", "auto"))
    results: Path = option(Path("results"), "Results folder (./{default}).", type=Path)
    image_size: int | None = option(None, "Override the budget's image size.", type=int)
    batch_size: int | None = option(None, "Override the budget's batch size.", type=int)
    eval_every: int | None = option(None, "Validate every N generator steps.", type=int, minimum=0)
    metrics: list[str] | None = option(None, "Comma-separated metrics (default {default}).", parse=names,
                                       shown=",".join(DEFAULT_METRICS))
    cache_dir: Path | None = option(None, "Decoded-image cache (default: $GANBENCH_CACHE or ~/.cache/ganbench).",
                                    type=Path, toml=False)
    #: experiment trackers that watch each run; not in RunConfig, so never part of a run's key
    trackers: list[str] = option([], "Watch each run in an experiment tracker: tensorboard, mlflow, wandb or a "
                                     "plugin's (repeatable).", flag="--tracker", multiple=True, metavar="NAME")
    #: how batches are built and where decoded photos live: never part of a run's key (same batches either way);
    #: kept in the environment for this process and the grid workers it starts (ganbench/data/loader.py, store.py)
    data_workers: str | None = option(None, "Processes building training batches ahead of the step (default auto: on "
                                            "a GPU every core of the process's share but one; on a CPU none below 8 "
                                            "cores). 0: in the training process.", metavar="N|auto", toml=False)
    data_store: str | None = option(None, "Where decoded training photos live: memory, disk (a store in the cache "
                                          "folder, read per batch: datasets larger than memory) or auto (default: "
                                          "disk above 4 GiB of decoded pixels).", choices=("auto", "memory", "disk"),
                                    toml=False)
    #: train afresh even where a complete run with the same key exists (the old one stays on disk)
    rerun: bool = option(False, "Train afresh even where a complete run with the same settings and plugins "
                                "exists.", type=bool, toml=False)
    #: the dataset plugin (its options: DatasetOptions)
    dataset: str = option("embedded", "Dataset plugin (default: embedded photos).")


@dataclass(kw_only=True)
class DatasetOptions:
    """The dataset plugin's keyword arguments (``RunRequest.dataset_options``): only those given."""

    data_root: Path | None = option(None, "Data folder (folder, places365).", type=Path)
    test_root: Path | None = option(None, "Separate test folder (folder).", type=Path)
    limit: int | None = option(None, "Deterministic subset of N training images.", type=int, minimum=1)
    split: str | None = option(None, "places365: train-standard | train-challenge | val.")
    variant: str | None = option(None, "places365: 256px or large images.", flag="--small/--large", type=bool,
                                 parse=variant, param="small")
    file_list: Path | None = option(None, "Only the photos this file names, one per line (a published split), on any "
                                          "dataset.", type=Path)


@dataclass(kw_only=True)
class PointOptions:
    """The points a request is run at: one comparison per budget, or per value of a --scale axis."""

    budget: list[str] = option(
        [], "Named budget (smoke, cpu, seed, gpu) and/or steps=N, images=N, epochs=N, time=10m; given several "
            "times: one comparison per budget, and curves across them in the report.", short="-b", multiple=True)
    scale: list[str] = option(
        [], "One comparison per value, curves across them in the report: a budget axis (images=1200,2400,4800,"
            "9600; also steps, epochs, time) and/or a data axis (limit=9,18,36).", multiple=True,
        metavar="KEY=V1,V2,...")


@dataclass(kw_only=True)
class ExecutorOptions:
    """Where the runs of a grid execute (ganbench/grid/executors.py): the executor plugin and its options."""

    executor: str = option("local", "Where runs execute: local (default) or slurm, or a plugin's.")
    jobs: int | None = option(None, "local: N runs at once, one process each (cuda:0..N-1, or the CPU cores "
                                    "divided).", type=int, short="-j", executor="jobs")
    slurm_partition: str | None = option(None, "slurm: partition.", executor="partition")
    slurm_gpus_per_job: int | None = option(None, "slurm: GPUs per run (default 0).", type=int,
                                            executor="gpus_per_job")
    slurm_time: str | None = option(None, "slurm: time limit per job, e.g. 4h (default 1h; a run that hits it is "
                                          "requeued and resumes from its checkpoint).", executor="time")
    slurm_account: str | None = option(None, "slurm: account to charge.", executor="account")
    slurm_options: list[str] = option([], "slurm: any other sbatch option, e.g. qos=high, constraint=h100 "
                                          "(repeatable).", flag="--slurm-option", multiple=True,
                                      metavar="KEY=VALUE", executor="options")
    detach: bool | None = option(None, "slurm: return once submitted; follow with `ganbench status RESULTS`.",
                                 type=bool, executor="detach")


#: Every option of ``ganbench run``, in the order ``--help`` lists them.
GROUPS: tuple[type, ...] = (RequestOptions, DatasetOptions, PointOptions, RunSettings, ExecutorOptions)


def run_options() -> Iterator[Declared]:
    for group in GROUPS:
        yield from declared(group)


#: The keys a config file's ``[run]`` table accepts.
RUN_KEYS = frozenset(d.name for d in run_options() if d.spec.toml)


def resolve(group: type, flags: dict[str, Any], table: dict[str, Any] | None = None,
            where: str = "[run]") -> dict[str, Any]:
    """The options of ``group`` that were given, converted and checked: a flag (None or an empty tuple: not
    given) over ``table`` (a config file's ``[run]``). Those given in neither are left out (the dataclass's
    default applies)."""
    table = table or {}
    out = {}
    for d in declared(group):
        raw = flags.get(d.param_name)
        if raw is not None and raw != ():
            value = d.convert(raw, "option")
        elif d.spec.toml and d.name in table:
            value = d.convert(table[d.name], where)
        else:
            continue
        d.check(value)
        out[d.name] = value
    return out


def check(values: Any) -> None:
    """Check every declared option of a dataclass instance (a RunRequest built in code, not from flags)."""
    for d in declared(type(values)):
        d.check(getattr(values, d.name))


def outside_run_key() -> tuple[str, ...]:
    """The RunConfig fields that do not change a run's results: left out of its key and of what tells rows
    apart in a report."""
    return tuple(d.name for d in declared(RunSettings) if not d.spec.run_key)
