"""The built-in experiment trackers: ``tensorboard`` (``torch.utils.tensorboard``, extra ``[tensorboard]``),
``mlflow`` (a local store, extra ``[mlflow]``) and ``wandb`` (Weights & Biases, extra ``[wandb]``).

Each is a ``ganbench.api.Tracker``; its package is imported when a run opens it, so a missing one switches
that tracker off for the run with one line naming the extra to install (``ganbench.api.require``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ganbench.api import Tracker, hookimpl, require

#: Environment variables that move a tracker's files away from its default place.
TENSORBOARD_DIR = "GANBENCH_TENSORBOARD_DIR"


class TensorBoardTracker(Tracker):
    """Event files in ``RUN/tensorboard/`` (or ``$GANBENCH_TENSORBOARD_DIR/<run name>``): scalars, sample grids
    as images, and the hyper-parameters with the final metrics (the HParams view).
    ``tensorboard --logdir RESULTS/runs`` shows every run of a results folder side by side."""

    def __init__(self, logdir: Path) -> None:
        require("tensorboard", "tensorboard")
        from torch.utils.tensorboard import SummaryWriter

        self.logdir = Path(logdir)
        self.writer = SummaryWriter(log_dir=str(self.logdir), flush_secs=10)
        self.params: dict[str, Any] = {}
        self.hparams_written = False

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        self.params = {k: v for k, v in params.items() if isinstance(v, (bool, int, float, str))}
        self.writer.add_text("config", "\n".join(f"    {k} = {v}" for k, v in sorted(self.params.items())), 0)

    def log_metrics(self, step: int, scalars: dict[str, float]) -> None:
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, step)

    def log_image(self, step: int, name: str, image: np.ndarray) -> None:
        self.writer.add_image(name, np.ascontiguousarray(image), step, dataformats="HWC")

    def log_final(self, metrics: dict[str, float]) -> None:
        self._write_hparams(metrics)
        step = int(metrics.get("test/best_step", 0))
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, step)

    def finish(self, status: str) -> None:
        if not self.hparams_written and self.params:
            self._write_hparams({})  # the hyper-parameters of a run that was not scored, without metrics
        self.writer.add_text("status", status, 0)
        self.writer.close()

    def _write_hparams(self, metrics: dict[str, float]) -> None:
        """The HParams plugin's three summaries in this run's own event file (``SummaryWriter.add_hparams``
        would open a new sub-folder per call)."""
        from torch.utils.tensorboard.summary import hparams

        exp, ssi, sei = hparams(self.params, {k: v for k, v in metrics.items() if k != "test/best_step"})
        for summary in (exp, ssi, sei):
            self.writer.file_writer.add_summary(summary)
        self.hparams_written = True


def tensorboard(run_dir: Path, run_name: str, results: Path, **_: Any) -> TensorBoardTracker:
    root = os.environ.get(TENSORBOARD_DIR)
    return TensorBoardTracker(Path(root) / run_name if root else Path(run_dir) / "tensorboard")


@hookimpl
def register_trackers(register):
    register("tensorboard", tensorboard, description="TensorBoard event files in RUN/tensorboard (extra [tensorboard])")
