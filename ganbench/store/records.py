"""A run's two records as typed objects: :class:`RunRecord` (``run.json``) and :class:`MetricsRecord`
(``metrics.json``).

The JSON files keep the format they always had: ``to_json`` writes the same keys (an optional one, such as
``divergence`` or ``error``, only when it holds something), ``from_json`` reads a file an older ganbench wrote
(a key it did not write takes its default) and keeps every key it does not know (``extra``), so a record read
and written again loses nothing. Readers ask the record (``record.model``,
``record.images_per_s``, ``metrics.score("model", "psnr")``) instead of looking up nested string keys.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

SCHEMA_VERSION = 1


class RunStatus(StrEnum):
    """A run's ``status`` in ``run.json``. str-valued: it is written, compared and read back as the plain
    string (``RunStatus.COMPLETE == "complete"``), so the JSON is what it always was."""

    RUNNING = "running"
    INTERRUPTED = "interrupted"  # stopped with a checkpoint: resumable
    COMPLETE = "complete"
    DIVERGED = "diverged"  # a loss went non-finite; the last good checkpoint is kept
    FAILED = "failed"  # crashed before its first checkpoint: restartable


def _status(value: Any) -> RunStatus | str:
    """A known status as its enum member; anything else (a foreign or missing value) as the plain string."""
    try:
        return RunStatus(value)
    except ValueError:
        return str(value) if value is not None else "unknown"


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _empty(value: Any) -> bool:
    return value is None or (not isinstance(value, bool) and value in ("", 0)) or value == {} or value == []


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass
class _Record:
    """Shared reading and writing: the dataclass's fields are the file's keys; the rest go to ``extra``."""

    #: Fields written only when they hold something (an older file never had them; a new one need not).
    OPTIONAL: ClassVar[tuple[str, ...]] = ()

    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=True)

    @classmethod
    def _known(cls) -> dict[str, dataclasses.Field]:
        return {f.name: f for f in dataclasses.fields(cls) if f.name != "extra"}

    @classmethod
    def _split(cls, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        known = cls._known()
        return ({k: v for k, v in data.items() if k in known}, {k: v for k, v in data.items() if k not in known})

    def update(self, **changes: Any) -> Any:
        """Set these fields (a key this record type does not know goes to ``extra``); returns the record."""
        known = self._known()
        for name, value in changes.items():
            if name in known:
                setattr(self, name, value)
            else:
                self.extra[name] = value
        return self

    def to_json(self) -> dict[str, Any]:
        """The file's content: every field (the optional ones only when set), then the keys kept in ``extra``."""
        out: dict[str, Any] = {}
        for name in self._known():
            value = getattr(self, name)
            if name in self.OPTIONAL and _empty(value):
                continue
            out[name] = str(value) if isinstance(value, RunStatus) else value
        return {**self.extra, **out}


@dataclass
class RunRecord(_Record):
    """``run.json``: what a run is (config, key, identity), what it ran on and spent, and where it stands."""

    OPTIONAL: ClassVar[tuple[str, ...]] = (
        "identity", "scoring", "provenance", "budget", "data", "spent", "throughput", "set_level", "divergence",
        "error", "resumed", "restarted", "finished")

    config: dict[str, Any] = field(default_factory=dict)
    status: RunStatus | str = RunStatus.RUNNING
    schema_version: int | None = SCHEMA_VERSION
    key: str = ""
    comparison: str = ""
    command: str | None = None
    dataset_description: str = ""
    #: the recipe's hash and what built each part (``ganbench.grid.rerun.identity_changes``)
    identity: dict[str, Any] = field(default_factory=dict)
    #: per metric, the plugin that scored it
    scoring: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)
    #: train_images, val_crops, test_crops, skipped
    data: dict[str, Any] = field(default_factory=dict)
    #: steps, images, seconds, FLOPs (``ganbench.grid.finish.spent``)
    spent: dict[str, Any] = field(default_factory=dict)
    throughput: dict[str, Any] = field(default_factory=dict)
    set_level: dict[str, Any] = field(default_factory=dict)
    divergence: dict[str, Any] | None = None
    error: str | None = None
    resumed: int = 0
    restarted: int = 0
    finished: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        """A ``run.json`` as read; keys an older ganbench did not write take their defaults."""
        known, extra = cls._split(data)
        rec = cls(extra=extra)
        for name in ("config", "identity", "scoring", "provenance", "budget", "data", "spent", "throughput",
                     "set_level"):
            if name in known:
                setattr(rec, name, _dict(known[name]))
        rec.status = _status(known.get("status", "unknown"))
        rec.schema_version = known.get("schema_version")
        rec.key = str(known.get("key") or "")
        rec.comparison = str(known.get("comparison") or "")
        rec.command = known.get("command")
        rec.dataset_description = str(known.get("dataset_description") or "")
        rec.divergence = known.get("divergence") if isinstance(known.get("divergence"), dict) else None
        rec.error = known.get("error")
        rec.resumed = int(known.get("resumed") or 0)
        rec.restarted = int(known.get("restarted") or 0)
        rec.finished = known.get("finished")
        return rec

    def update(self, **changes: Any) -> RunRecord:
        super().update(**changes)
        self.status = _status(self.status)
        return self

    # --- what readers ask --------------------------------------------------------------------------------
    @property
    def model(self) -> str:
        return str(self.config.get("model", ""))

    @property
    def seed(self) -> int:
        return int(self.config.get("seed") or 0)

    @property
    def recipe(self) -> dict[str, Any]:
        return _dict(self.config.get("recipe"))

    @property
    def dataset(self) -> str:
        return str(self.config.get("dataset", ""))

    @property
    def device(self) -> str:
        return str(self.config.get("device", ""))

    @property
    def complete(self) -> bool:
        return self.status == RunStatus.COMPLETE

    @property
    def uses_critic(self) -> bool:
        """False for the regression baseline: generator steps and no critic step."""
        return not (bool(self.spent.get("generator_steps")) and not self.spent.get("critic_steps"))

    @property
    def images_per_s(self) -> float | None:
        return _number(self.throughput.get("images_per_s"))

    @property
    def generator_steps_per_s(self) -> float | None:
        return _number(self.throughput.get("generator_steps_per_s"))

    @property
    def peak_mem_mb(self) -> float | None:
        """Peak CUDA memory allocated where it was measured, else the process's peak RSS."""
        return _number(self.throughput.get("peak_cuda_max_allocated_mb")) or _number(
            self.throughput.get("peak_cpu_rss_mb"))

    @property
    def images_seen(self) -> float | None:
        return _number(self.spent.get("images"))

    @property
    def train_images(self) -> float | None:
        return _number(self.data.get("train_images"))


@dataclass
class MetricsRecord(_Record):
    """``metrics.json``: the test scores of the selected (``model``), ``last`` and ``best`` generator beside the
    ``gray`` baseline and the ground ``truth`` (metric name -> mean over the test crops, or the set's score),
    how the generator was selected, and what each metric is (``metrics``)."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("adversary", "last", "best", "truth", "set_level", "metrics",
                                           "n_test_images", "selection_rule", "best_meets_floor")

    selected: str = "last"
    selection_rule: str = ""
    best_step: int | None = None
    best_meets_floor: bool | None = None
    model: dict[str, Any] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)
    best: dict[str, Any] = field(default_factory=dict)
    gray: dict[str, Any] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)
    n_test_images: int | None = None
    #: per set-level metric: n_images, n_split_half
    set_level: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: per metric, what it is: higher_is_better, unit, reference_free, level, tested, ceiling
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    adversary: dict[str, Any] | None = None

    ROWS: ClassVar[tuple[str, ...]] = ("model", "last", "best", "gray", "truth")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MetricsRecord:
        """A ``metrics.json`` as read; keys an older ganbench did not write take their defaults."""
        known, extra = cls._split(data)
        rec = cls(extra=extra)
        for name in (*cls.ROWS, "set_level", "metrics"):
            if name in known:
                setattr(rec, name, _dict(known[name]))
        rec.selected = str(known.get("selected") or "last")
        rec.selection_rule = str(known.get("selection_rule") or "")
        rec.best_step = known.get("best_step")
        rec.best_meets_floor = known.get("best_meets_floor")
        rec.n_test_images = known.get("n_test_images")
        rec.adversary = known.get("adversary") if isinstance(known.get("adversary"), dict) else None
        return rec

    def score(self, row: str, metric: str) -> float | None:
        """One score (``row``: model, last, best, gray or truth), None when it was not recorded or not finite."""
        return _number(_dict(getattr(self, row)).get(metric))

    def scores(self, row: str) -> dict[str, float]:
        """A row's recorded numbers by metric (a ``<metric>_null_reason`` note beside a null is left out)."""
        return {k: float(v) for k, v in _dict(getattr(self, row)).items() if _number(v) is not None}


__all__ = ["SCHEMA_VERSION", "MetricsRecord", "RunRecord", "RunStatus"]
