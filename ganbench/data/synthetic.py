"""Synthetic photos for benchmarks and tests: smooth random colour images that exercise every code path of
the data pipeline and the trainer (their content does not affect speed)."""

from __future__ import annotations

import torch

from ganbench.data.pipeline import ImageSet, PreparedData


def synthetic_data(size: int, n: int = 8, seed: int = 0) -> PreparedData:
    """``n`` smooth random colour images of 2·size pixels for training, their size² corners as the
    validation and test crops."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 4, 4, generator=g)
    imgs = torch.nn.functional.interpolate(low, size=(size * 2, size * 2), mode="bicubic", align_corners=False)
    arr = (imgs.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
    crops = arr[:, :size, :size].contiguous()
    train = ImageSet([f"synthetic{i}" for i in range(n)], [a.numpy() for a in arr])
    keys = [f"synthetic{i}" for i in range(n)]
    return PreparedData(train, crops, keys, crops, keys, "synthetic", [])
