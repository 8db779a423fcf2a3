"""Stored runs replayed into a tracker (``ganbench export tensorboard RESULTS``): each run folder's ``run.json``
(hyper-parameters), ``history.csv`` and ``validation.csv`` (scalars by step), ``samples.png`` and
``metrics.json`` (final metrics) sent as the run itself sent them while training, so the results folder stays
the source of truth and runs trained without a tracker can be compared in its UI."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

from ganbench.core.errors import PluginError, ResultsError
from ganbench.core.registry import Registry
from ganbench.store.results import RunDir, iter_runs
from ganbench.track.feed import STEP_SCALARS, VAL_SCALARS, final_metrics, hyperparams, row_scalars, samples_picture


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def replay_run(run_dir: Path, tracker: Any) -> None:
    """Send one stored run to ``tracker`` (a ``ganbench.api.Tracker``), in the order a training run does."""
    run_dir = Path(run_dir)
    run = RunDir(run_dir)
    record = run.record()
    tracker.log_hyperparams(hyperparams(record.config, record.key))
    for row in _rows(run_dir / "history.csv"):
        tracker.log_metrics(int(row["step"]), row_scalars(row, STEP_SCALARS))
    for row in _rows(run_dir / "validation.csv"):
        tracker.log_metrics(int(row["step"]), row_scalars(row, VAL_SCALARS))
    picture = samples_picture(run_dir)
    last_step = int(record.spent.get("generator_steps") or 0)
    if picture is not None:
        tracker.log_image(last_step, "samples/test", picture)
    if run.metrics_path.is_file():
        tracker.log_final(final_metrics(run.metrics().to_json()))
    tracker.finish(str(record.status))


def replay_results(registry: Registry, results: Path, tracker: str, out_dir: Path | None = None) -> list[Path]:
    """Replay every run of ``results`` into the tracker ``tracker``, each into ``out_dir/<run name>`` (default
    ``RESULTS/<tracker>``), which is emptied first so a replay rewrites it. Returns the folders written."""
    results = Path(results)
    if not (results / "runs").is_dir():
        raise ResultsError(f"{results} is not a ganbench results folder (no runs/ inside)")
    entry = registry.get("tracker", tracker)
    out_dir = Path(out_dir) if out_dir is not None else results / tracker
    written = []
    for run in iter_runs(results):
        if not (run.path / "run.json").is_file():
            continue
        target = out_dir / run.path.name
        if target.exists():
            shutil.rmtree(target)
        try:
            target.mkdir(parents=True)
            instance = entry.factory(run_dir=run.path, run_name=run.path.name, results=results, directory=target)
            replay_run(run.path, instance)
        except (OSError, ResultsError) as exc:
            raise ResultsError(f"cannot replay {run.path} into {target}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the tracker's own failure, named
            message = " ".join(str(exc).split())
            raise PluginError(f"plugin {entry.plugin}: tracker '{tracker}' failed replaying {run.path.name}: "
                              f"{type(exc).__name__}: {message}") from None
        written.append(target)
    return written
