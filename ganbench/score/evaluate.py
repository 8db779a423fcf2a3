"""Scoring: colourize fixed test crops, compute per-image metrics and set-level metrics (one score for the whole
test set, ``SetMetric``), and the gray baseline the same way."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, cast

import torch
from torch import nn

from ganbench.core.contract import Metric, MetricBase, SetMetric
from ganbench.data.color import lab_to_net, lab_to_uint8, net_to_lab, uint8_to_lab


@torch.no_grad()
def colorize_uint8(
    generator: nn.Module, images: torch.Tensor, device: torch.device, batch_size: int = 64,
    autocast_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """uint8 RGB (N, H, W, 3) -> uint8 RGB with the input's L and the generator's ab (clip, round)."""
    was_training = generator.training
    generator.eval()
    out = []
    try:
        for start in range(0, images.shape[0], batch_size):
            chunk = images[start : start + batch_size].to(device)
            L, _ = lab_to_net(uint8_to_lab(chunk))
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                ab = generator(L)
            out.append(lab_to_uint8(net_to_lab(L, ab.float().clamp(-1, 1))).cpu())
    finally:
        generator.train(was_training)
    return torch.cat(out) if out else images.clone()


def gray_uint8(images: torch.Tensor) -> torch.Tensor:
    """The gray baseline: same L, a = b = 0, through the same Lab->RGB, clip and round."""
    lab = uint8_to_lab(images)
    lab[:, 1:] = 0.0
    return lab_to_uint8(lab)


def is_set_level(metric: MetricBase) -> bool:
    """Whether a metric scores the whole test set (its declared ``level``)."""
    return getattr(metric, "level", "image") == "set"


def image_level(metrics: Mapping[str, MetricBase]) -> dict[str, Metric]:
    return {n: cast(Metric, m) for n, m in metrics.items() if not is_set_level(m)}


def set_level(metrics: Mapping[str, MetricBase]) -> dict[str, SetMetric]:
    return {n: cast(SetMetric, m) for n, m in metrics.items() if is_set_level(m)}


def score(metrics: Mapping[str, MetricBase], pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image scores for every per-image metric (float64 tensors of length N); set-level ones are skipped."""
    return {name: m.compute(pred, target).to(torch.float64) for name, m in image_level(metrics).items()}


def _batches(pred: torch.Tensor, target: torch.Tensor, size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for start in range(0, pred.shape[0], max(1, int(size))):
        yield pred[start : start + size], target[start : start + size]


def score_set(metric: SetMetric, pred: torch.Tensor, target: torch.Tensor) -> float:
    """One set-level score: ``reset()``, ``update`` on consecutive batches of ``metric.batch_size`` crops,
    ``compute()`` (the calls docs/plugins.md promises)."""
    if pred.shape[0] != target.shape[0]:
        raise ValueError(f"{metric.name}: {pred.shape[0]} predictions for {target.shape[0]} targets")
    metric.reset()
    for p, t in _batches(pred, target, metric.batch_size):
        metric.update(p, t)
    return float(metric.compute())


def score_sets(metrics: Mapping[str, MetricBase], pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Every set-level metric on one set of predictions."""
    return {name: score_set(m, pred, target) for name, m in set_level(metrics).items()}


#: The crop suffix the core adds to a photo's key (ganbench.data.pipeline.eval_crops).
_CROP = re.compile(r"#(center|q\d+)$")
#: Below this many test photos per half the report hides the truth's split-half value (table, JSON, the
#: perception–distortion plot): there it is one draw of which photos fell in which half, as wide as the gaps it
#: should be a yardstick for (docs/metrics.md, "When the split-half value is shown"). metrics.json keeps it.
SPLIT_HALF_MIN_PHOTOS = 50


def split_halves(keys: list[str]) -> tuple[list[int], list[int]]:
    """Crop indices of two disjoint halves of the test photos, alternating photos in their stable order (every
    crop of a photo on one side); with an odd number of photos the last is left out, so both halves hold the
    same number of photos."""
    photos = list(dict.fromkeys(_CROP.sub("", k) for k in keys))
    pairs = len(photos) // 2
    side = {p: i % 2 for i, p in enumerate(photos[: 2 * pairs])}
    a = [i for i, k in enumerate(keys) if side.get(_CROP.sub("", k)) == 0]
    b = [i for i, k in enumerate(keys) if side.get(_CROP.sub("", k)) == 1]
    return a, b


def set_reference_scores(metrics: Mapping[str, MetricBase], images: torch.Tensor, keys: list[str]) -> dict[str, Any]:
    """Set-level scores of the gray baseline, and of the truth's split-half (one half of the test photos as
    the "prediction", the other as the "truth") for metrics that declare it meaningful; the numbers of crops."""
    sets = set_level(metrics)
    gray = score_sets(sets, gray_uint8(images), images) if sets else {}
    a, b = split_halves(keys)
    truth = {}
    if a and len(a) == len(b):
        truth = {n: score_set(m, images[a], images[b]) for n, m in sets.items() if m.split_half}
    photos = len({_CROP.sub("", keys[i]) for i in a})
    return {"gray": gray, "truth": truth, "n_images": int(images.shape[0]), "n_split_half": len(a),
            "split_half_photos": photos}


def split_half_shown(info: Mapping[str, Any]) -> bool:
    """Whether the report shows the truth's split-half value of a set-level metric, from its ``set_level`` record
    (photos per half; a record from before they were counted gives its crops per half)."""
    per_half = info.get("split_half_photos", info.get("n_split_half"))
    return isinstance(per_half, int) and per_half >= SPLIT_HALF_MIN_PHOTOS


def metric_record(m: MetricBase) -> dict[str, Any]:
    """What metrics.json ``metrics[name]`` says of a metric, so the report needs no plugin to read it."""
    out: dict[str, Any] = {"higher_is_better": m.higher_is_better, "unit": m.unit, "reference_free": m.reference_free,
                           "level": "set" if is_set_level(m) else "image", "ceiling": getattr(m, "ceiling", None)}
    if is_set_level(m):
        out.update(tested=bool(getattr(m, "tested", True)), split_half=bool(getattr(m, "split_half", True)))
    return out


def set_info(metrics: Mapping[str, MetricBase], n_images: int, n_split_half: int,
             split_half_photos: int | None = None) -> dict[str, dict[str, Any]]:
    """What metrics.json records of each set-level metric: N, and the split-half floor's N per half (crops, and
    photos when given)."""
    out: dict[str, dict[str, Any]] = {}
    for n, m in set_level(metrics).items():
        out[n] = {"n_images": n_images, "n_split_half": n_split_half if m.split_half else None}
        if split_half_photos is not None:
            out[n]["split_half_photos"] = split_half_photos if m.split_half else None
        details = getattr(m, "details", None)  # e.g. library versions, feature network, resize, a warning
        if isinstance(details, dict):
            out[n].update(details)
    return out


def summarize(per_image: dict[str, torch.Tensor]) -> dict[str, float]:
    return {name: float(v.mean()) for name, v in per_image.items()}


def evaluate_images(
    generator: nn.Module, images: torch.Tensor, metrics: Mapping[str, MetricBase], device: torch.device,
    autocast_dtype: torch.dtype | None = None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    pred = colorize_uint8(generator, images, device, autocast_dtype=autocast_dtype)
    return score(metrics, pred, images), pred


def reference_scores(metrics: Mapping[str, MetricBase], images: torch.Tensor) -> dict[str, Any]:
    """The gray baseline's per-image scores, and reference-free metrics of the ground truth itself."""
    gray = score(metrics, gray_uint8(images), images)
    truth = {n: m.compute(images, images).to(torch.float64) for n, m in image_level(metrics).items()
             if m.reference_free}
    return {"gray": gray, "truth": truth}
