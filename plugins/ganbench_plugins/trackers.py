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
        writer = self.writer.file_writer
        assert writer is not None  # the SummaryWriter opened it
        for summary in (exp, ssi, sei):
            writer.add_summary(summary)
        self.hparams_written = True


def tensorboard(run_dir: Path, run_name: str, results: Path, directory: Path | None = None,
                **_: Any) -> TensorBoardTracker:
    if directory is not None:  # a replay (ganbench export tensorboard) says where
        return TensorBoardTracker(Path(directory))
    root = os.environ.get(TENSORBOARD_DIR)
    return TensorBoardTracker(Path(root) / run_name if root else Path(run_dir) / "tensorboard")


class MLflowTracker(Tracker):
    """One MLflow run per ganbench run, in ``$MLFLOW_TRACKING_URI`` if set, else a local file store
    ``RESULTS/mlruns`` (offline): params, metrics by step, sample grids as artifacts, final metrics, status."""

    def __init__(self, results: Path, run_name: str, run_dir: Path) -> None:
        mlflow = require("mlflow", "mlflow")
        from mlflow.tracking import MlflowClient

        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:  # the offline default: a file store (MLflow 3 asks for this opt-in to use one)
            uri = (Path(results).resolve() / "mlruns").as_uri()
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(tracking_uri=uri)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "ganbench")
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(name)
        self.run_id = self.client.create_run(experiment_id, run_name=run_name,
                                             tags={"ganbench.run_dir": str(run_dir)}).info.run_id
        self.uri = uri
        self._entities = mlflow.entities

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        items = [self._entities.Param(k, str(v)[:6000]) for k, v in params.items()]
        for start in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=items[start : start + 100])

    def log_metrics(self, step: int, scalars: dict[str, float]) -> None:
        import time

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[self._entities.Metric(k, float(v), now, int(step))
                                                     for k, v in scalars.items()])

    def log_image(self, step: int, name: str, image: np.ndarray) -> None:
        self.client.log_image(self.run_id, image, artifact_file=f"{name}/step_{step:07d}.png")

    def log_final(self, metrics: dict[str, float]) -> None:
        self.log_metrics(int(metrics.get("test/best_step", 0)), metrics)

    def finish(self, status: str) -> None:
        self.client.set_tag(self.run_id, "ganbench.status", status)
        self.client.set_terminated(self.run_id, "FINISHED" if status == "complete" else "FAILED")


def mlflow(run_dir: Path, run_name: str, results: Path, **_: Any) -> MLflowTracker:
    return MLflowTracker(results, run_name, run_dir)


class WandbTracker(Tracker):
    """One Weights & Biases run per ganbench run, offline in ``RESULTS/wandb`` unless ``WANDB_MODE`` says
    otherwise (``wandb sync`` uploads it later): config, metrics by step, sample grids, summary = final metrics."""

    def __init__(self, results: Path, run_name: str, run_dir: Path) -> None:
        self.wandb = require("wandb", "wandb")
        folder = Path(results) / "wandb"
        folder.mkdir(parents=True, exist_ok=True)
        self.run = self.wandb.init(project=os.environ.get("WANDB_PROJECT", "ganbench"), name=run_name,
                                   dir=str(Path(results).resolve()), mode=os.environ.get("WANDB_MODE", "offline"),
                                   reinit="create_new", config={"ganbench.run_dir": str(run_dir)})

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        self.run.config.update(params, allow_val_change=True)

    def log_metrics(self, step: int, scalars: dict[str, float]) -> None:
        self.run.log({**scalars, "step": step})

    def log_image(self, step: int, name: str, image: np.ndarray) -> None:
        self.run.log({name: self.wandb.Image(image), "step": step})

    def log_final(self, metrics: dict[str, float]) -> None:
        self.run.summary.update(metrics)

    def finish(self, status: str) -> None:
        self.run.summary["ganbench.status"] = status
        self.run.finish(exit_code=0 if status == "complete" else 1)
        self.wandb.teardown()  # stop wandb's service now, not in an exit handler after it is gone


def wandb(run_dir: Path, run_name: str, results: Path, **_: Any) -> WandbTracker:
    return WandbTracker(results, run_name, run_dir)


@hookimpl
def register_trackers(register):
    register("tensorboard", tensorboard, description="TensorBoard event files in RUN/tensorboard (extra [tensorboard])")
    register("mlflow", mlflow, description="MLflow, a local store RESULTS/mlruns unless MLFLOW_TRACKING_URI "
                                           "(extra [mlflow])")
    register("wandb", wandb, description="Weights & Biases, offline in RESULTS/wandb unless WANDB_MODE "
                                         "(extra [wandb])")
