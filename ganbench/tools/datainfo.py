"""``ganbench data info``: what a dataset holds, what is skipped and why, and how fast it decodes."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ganbench.core.registry import Registry
from ganbench.data.filelist import open_dataset
from ganbench.data.pipeline import UnusableImage, prepare


def dataset_info(registry: Registry, dataset: str, options: dict[str, Any], image_size: int,
                 cache_dir: Path | None) -> dict[str, Any]:
    splits = open_dataset(registry, dataset, options)
    items = [*splits.train, *splits.val, *splits.test]
    shorts, longs = [], []
    skipped = [{"file": f, "reason": r} for f, r in splits.skipped]
    t0 = time.perf_counter()
    good = []
    for item in items:
        try:
            arr = item.load()
        except UnusableImage as exc:
            skipped.append({"file": item.key, "reason": str(exc)})
            continue
        h, w = arr.shape[:2]
        shorts.append(min(h, w))
        longs.append(max(h, w))
        good.append(item)
    tmp = Path(tempfile.mkdtemp(prefix="ganbench-info-", dir=cache_dir if cache_dir and cache_dir.exists() else None))
    try:
        t0 = time.perf_counter()
        prepare(good, 2 * image_size, tmp)  # cold: decode, resize, write the cache
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        prepare(good, 2 * image_size, tmp)  # warm: cached pixels only
        warm = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = max(1, len(good))
    return {
        "dataset": dataset, "description": splits.description,
        "counts": {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test),
                   "usable": len(good), "skipped": len(skipped)},
        "sizes": {"short_min": int(min(shorts)), "short_max": int(max(shorts)),
                  "short_median": float(np.median(shorts)), "long_max": int(max(longs))} if shorts else {},
        "skipped": skipped,
        "decode_images_per_s": n / cold if cold > 0 else float("inf"),
        "cached_images_per_s": n / warm if warm > 0 else float("inf"),
    }
