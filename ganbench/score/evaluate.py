"""Scoring: colourize fixed test crops, compute per-image metrics, and the gray baseline the same way."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganbench.core.contract import Metric
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


def score(metrics: dict[str, Metric], pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image scores for every metric (float64 tensors of length N)."""
    return {name: m.compute(pred, target).to(torch.float64) for name, m in metrics.items()}


def summarize(per_image: dict[str, torch.Tensor]) -> dict[str, float]:
    return {name: float(v.mean()) for name, v in per_image.items()}


def evaluate_images(
    generator: nn.Module, images: torch.Tensor, metrics: dict[str, Metric], device: torch.device,
    autocast_dtype: torch.dtype | None = None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    pred = colorize_uint8(generator, images, device, autocast_dtype=autocast_dtype)
    return score(metrics, pred, images), pred


def reference_scores(metrics: dict[str, Metric], images: torch.Tensor) -> dict[str, Any]:
    """The gray baseline's per-image scores, and reference-free metrics of the ground truth itself."""
    gray = score(metrics, gray_uint8(images), images)
    truth = {n: m.compute(images, images).to(torch.float64) for n, m in metrics.items() if m.reference_free}
    return {"gray": gray, "truth": truth}
