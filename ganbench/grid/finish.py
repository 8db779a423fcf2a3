"""Steps 4 and 5 for a finished run: score its last and its selected generator on the test crops beside the
gray baseline, and store what it made (history, metrics, per-image scores, weights, samples) and what it
spent, with the provenance of the machine and code it ran on."""

from __future__ import annotations

import csv
import io
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench import __version__
from ganbench.data.pipeline import PreparedData
from ganbench.score.diagnostics import adversary_summary
from ganbench.score.evaluate import (
    evaluate_images,
    gray_uint8,
    image_level,
    metric_record,
    reference_scores,
    score_sets,
    set_info,
    set_reference_scores,
    summarize,
)
from ganbench.store.images import grid, save_png
from ganbench.store.results import RunDir, atomic_torch_save, atomic_write_bytes, atomic_write_json, atomic_write_text
from ganbench.train.flops import flops_spent
from ganbench.train.machine import device_name, kernel_info
from ganbench.train.selection import selection_rule
from ganbench.train.state import TrainResult
from ganbench.train.trainer import Trainer


def provenance(device: torch.device) -> dict[str, Any]:
    commit, dirty = None, None
    src = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
        if out.returncode == 0:
            commit = out.stdout.strip()
            status = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=5, check=False)
            dirty = bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "ganbench_version": __version__, "git_commit": commit, "git_dirty": dirty, "torch_version": torch.__version__,
        "python": platform.python_version(), "platform": platform.platform(), "device": str(device),
        "device_name": device_name(device), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        **kernel_info(device), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def csv_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    buf = io.StringIO()
    fields = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def spent(result: TrainResult, flops: dict[str, float] | None = None) -> dict[str, Any]:
    """What a run spent: steps, images, seconds and FLOPs (``flops``: per image, see ``flops.py``)."""
    c = result.counters
    return {
        "generator_steps": c.step, "critic_steps": c.critic_steps, "images": c.images,
        "critic_images": c.critic_images, "train_seconds": round(c.step_seconds + c.data_seconds, 3),
        "step_seconds": round(c.step_seconds, 3), "data_seconds": round(c.data_seconds, 3),
        "eval_seconds": round(c.eval_seconds, 3),
        "flops": flops_spent(flops, c),
    }


def throughput(result: TrainResult, trainer: Trainer, flops: dict[str, float] | None) -> dict[str, Any]:
    """Training speed (steady images/s after warm-up, steps/s, the data pipeline's rate), parameters, FLOPs
    and peak memory."""
    c = result.counters
    ips = c.steady_images / c.steady_seconds if c.steady_seconds > 0 else (
        c.images / c.step_seconds if c.step_seconds > 0 else None)
    per_step = c.critic_steps / c.step if c.step else trainer.schedule.n_critic  # warm-up included
    out = {
        "images_per_s": ips,
        "generator_steps_per_s": ips / trainer.cfg.batch_size if ips else None,
        "critic_steps_per_s": ips * per_step / trainer.cfg.batch_size if ips else None,
        "data_images_per_s": c.batches * trainer.cfg.batch_size / c.data_seconds if c.data_seconds > 0 else None,
        "params": trainer.nets.param_counts(),
        "flops_per_image": flops,
        **{f"peak_{k}": v for k, v in result.peak_memory.items()},
    }
    spent_flops = flops_spent(flops, c)
    if spent_flops and ips and c.images:
        out["achieved_tflops"] = spent_flops / c.images * ips / 1e12
    return out


def write_history(run: RunDir, result: TrainResult) -> None:
    atomic_write_text(run.path / "history.csv", csv_text(result.history))
    atomic_write_text(run.path / "validation.csv", csv_text(result.val_history))


Scored = tuple[dict[str, Any], torch.Tensor]  # a generator's per-image scores and its uint8 predictions


def write_scores(run: RunDir, data: PreparedData, metrics, model: Scored, last: Scored, refs: dict[str, Any],
                 selected: str) -> dict[str, Any]:
    """The scores of a run's selected (``model``) and last generator beside gray's and the truth's: per-image
    means and set-level scores (one per set: model, last, best, gray, the truth's split-half) under the same
    keys of metrics.json; writes per_image.csv (per-image metrics only) and returns metrics.json's score part.
    Used when a run finishes and when a changed metric re-scores it (``rerun.rescore``)."""
    (scores, pred), (last_scores, last_pred) = model, last
    last_set = score_sets(metrics, last_pred, data.test)
    model_set = last_set if pred is last_pred else score_sets(metrics, pred, data.test)
    set_refs = set_reference_scores(metrics, data.test, data.test_keys)
    rows = []
    for i, key in enumerate(data.test_keys):
        row: dict[str, Any] = {"image": key}
        for name in image_level(metrics):
            row[f"model_{name}"] = float(scores[name][i])
            row[f"last_{name}"] = float(last_scores[name][i])
            row[f"gray_{name}"] = float(refs["gray"][name][i])
        for name, values in refs["truth"].items():
            row[f"truth_{name}"] = float(values[i])
        rows.append(row)
    atomic_write_text(run.path / "per_image.csv", csv_text(rows))
    model_summary = {**summarize(scores), **model_set}
    last_summary = {**summarize(last_scores), **last_set}
    return {
        "model": model_summary,
        "last": last_summary,
        "best": model_summary if selected == "best" else last_summary,
        "gray": {**summarize(refs["gray"]), **set_refs["gray"]},
        "truth": {**summarize(refs["truth"]), **set_refs["truth"]},
        "n_test_images": int(data.test.shape[0]),
        "set_level": set_info(metrics, set_refs["n_images"], set_refs["n_split_half"],
                          set_refs["split_half_photos"]),
        "metrics": {n: metric_record(m) for n, m in metrics.items()},
    }


def finish(run: RunDir, trainer: Trainer, result: TrainResult, data: PreparedData, metrics, device) -> dict:
    """Score the last and the selected (``selection.py``) generator on the test crops; write metrics,
    per-image scores, weights and the sample grid."""
    gen = trainer.eval_generator
    last_state = {k: v.detach().cpu().clone() for k, v in gen.state_dict().items()}
    last_scores, last_pred = evaluate_images(gen, data.test, metrics, device)
    refs = reference_scores(metrics, data.test)
    selected, best_step = "last", result.counters.step
    scores, pred, state = last_scores, last_pred, last_state
    if result.best is not None and result.best["step"] != result.counters.step:
        gen.load_state_dict(result.best["state"])
        best_scores, best_pred = evaluate_images(gen, data.test, metrics, device)
        gen.load_state_dict(last_state)
        selected, best_step = "best", result.best["step"]
        scores, pred, state = best_scores, best_pred, result.best["state"]
    summary = {
        "selected": selected,
        "selection_rule": selection_rule(trainer.validation.floor),
        "best_step": best_step,
        "best_meets_floor": None if result.best is None else bool(result.best.get("meets_floor", True)),
        **write_scores(run, data, metrics, (scores, pred), (last_scores, last_pred), refs, selected),
        "adversary": adversary_summary(result.history),
    }
    atomic_torch_save(run.path / "generator.pt", state)
    atomic_torch_save(run.path / "generator_last.pt", last_state)
    k = min(trainer.cfg.samples, data.test.shape[0])  # the first test crops, in the dataset's stable order
    columns = {"gray input": gray_uint8(data.test[:k]).numpy(), trainer.cfg.model: pred[:k].numpy(),
               "truth": data.test[:k].numpy()}
    save_png(grid(columns), run.path / "samples.png")
    # the same crops as plain arrays, so the report can put every model side by side (no pickle)
    buf = io.BytesIO()
    np.savez_compressed(buf, gray=columns["gray input"], pred=columns[trainer.cfg.model], truth=columns["truth"],
                        keys=np.array(data.test_keys[:k]))
    atomic_write_bytes(run.path / "samples.npz", buf.getvalue())
    atomic_write_json(run.path / "metrics.json", summary)
    return summary
