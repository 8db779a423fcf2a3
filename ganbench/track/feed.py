"""What a run sends its trackers, in the names the tracker contract documents (``ganbench.api.Tracker``): the
resolved config as flat hyper-parameters, each logged step's statistics with the learning rates and the
throughput, each validation's scores and sample grid, and the scored run's test metrics. The same names serve
the replay of a stored run (``replay.py``)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ganbench.score.diagnostics import RATIO_COLUMN
from ganbench.train.history import STAT_NAMES

#: history.csv column -> tracker scalar
STEP_SCALARS = {**{k: f"loss/{k}" for k in STAT_NAMES if k != "w_estimate"}, "w_estimate": "critic/w_estimate",
                RATIO_COLUMN: f"critic/{RATIO_COLUMN}"}
#: validation.csv column -> tracker scalar
VAL_SCALARS = {"val_psnr": "val/psnr", "gray_val_psnr": "val/gray_psnr", "val_colorfulness": "val/colorfulness",
               "truth_val_colorfulness": "val/truth_colorfulness"}
#: validation crops shown in the trackers' sample grid
VAL_SAMPLES = 4


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str | int | float | bool]:
    """Nested dicts as dotted keys; lists as JSON text; None left out."""
    out: dict[str, str | int | float | bool] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            out[name] = json.dumps(list(value), default=str)
        elif isinstance(value, (bool, int, float, str)):
            out[name] = value
        elif value is not None:
            out[name] = str(value)
    return out


def hyperparams(config: dict[str, Any], key: str = "") -> dict[str, str | int | float | bool]:
    """A run's recorded config (``run.json``'s ``config``) as the trackers' hyper-parameters."""
    config = {k: v for k, v in config.items() if k != "identity"}
    return {**flatten(config), **({"run_key": key} if key else {})}


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def row_scalars(row: dict[str, Any], names: dict[str, str]) -> dict[str, float]:
    """A history or validation row's finite values under the trackers' names."""
    return {tag: v for col, tag in names.items() if (v := _finite(row.get(col))) is not None}


def final_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """``metrics.json`` as the trackers' final metrics (``test/<row>/<metric>``, ``test/best_step``)."""
    out = {f"test/{row}/{name}": v for row in ("model", "last", "gray", "truth")
           for name, value in (summary.get(row) or {}).items() if (v := _finite(value)) is not None}
    if _finite(summary.get("best_step")) is not None:
        out["test/best_step"] = float(summary["best_step"])
    return out


def validation_grid(val: Any, pred: Any) -> np.ndarray:
    """gray input | output | truth for the first validation crops, as one uint8 RGB picture."""
    from ganbench.score.evaluate import gray_uint8
    from ganbench.store.images import grid

    k = pred.shape[0]
    columns = {"gray input": gray_uint8(val[:k]).numpy(), "output": pred.numpy(), "truth": val[:k].numpy()}
    return np.asarray(grid(columns))


def samples_picture(run_dir: Any) -> np.ndarray | None:
    """A run's ``samples.png`` as uint8 RGB, or None when it has none."""
    from pathlib import Path

    from PIL import Image

    path = Path(run_dir) / "samples.png"
    if not path.is_file():
        return None
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


class RunFeed:
    """Sends a training run's progress to a :class:`~ganbench.track.session.TrackerSession`: call
    :meth:`update` after each step (it forwards what is new since the last call) and :meth:`close` at the end.
    Warnings of failed trackers go to ``warn`` (on the training thread)."""

    def __init__(self, session: Any, warn: Callable[[str], None]) -> None:
        self.session, self.warn = session, warn
        self.rows_sent = 0
        self.vals_sent = 0

    def start(self, config: dict[str, Any], key: str, trainer: Any) -> None:
        trainer.validation.keep = VAL_SAMPLES
        self.rows_sent, self.vals_sent = len(trainer.history), len(trainer.val_history)  # a resumed run
        self.session.log_hyperparams(hyperparams(config, key))

    def update(self, trainer: Any) -> None:
        rows = trainer.history
        if len(rows) > self.rows_sent:
            live = self._live(trainer)
            for row in rows[self.rows_sent:]:
                self.session.log_metrics(int(row["step"]), {**row_scalars(row, STEP_SCALARS), **live})
            self.rows_sent = len(rows)
        vals = trainer.val_history
        if len(vals) > self.vals_sent:
            for entry in vals[self.vals_sent:]:
                self.session.log_metrics(int(entry["step"]), row_scalars(entry, VAL_SCALARS))
            samples = trainer.validation.samples
            if samples is not None and samples.shape[0]:
                self.session.log_image(int(vals[-1]["step"]), "samples/validation",
                                       validation_grid(trainer.validation.val, samples))
            self.vals_sent = len(vals)
        self._drain()

    def final(self, summary: dict[str, Any], samples_png: Any = None, step: int = 0) -> None:
        if samples_png is not None:
            self.session.log_image(step, "samples/test", samples_png)
        self.session.log_final(final_metrics(summary))

    def close(self, status: str) -> None:
        for line in self.session.finish(status):
            self.warn(line)

    def _drain(self) -> None:
        for line in self.session.drain_warnings():
            self.warn(line)

    @staticmethod
    def _live(trainer: Any) -> dict[str, float]:
        """The learning rates and the steady training throughput now."""
        nets, c = trainer.nets, trainer.counters
        out = {"lr/generator": float(nets.generator_optimizer.param_groups[0]["lr"])}
        if trainer.schedule.n_critic:
            out["lr/critic"] = float(nets.critic_optimizer.param_groups[0]["lr"])
        if c.steady_seconds > 0:
            out["throughput/images_per_s"] = c.steady_images / c.steady_seconds
        return out
