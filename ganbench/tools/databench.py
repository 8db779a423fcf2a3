"""``ganbench data bench``: how fast the training input pipeline builds batches from a dataset's real photos, per
worker and in total, at each training size; and what that means next to a training step."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from ganbench.core.registry import Registry
from ganbench.data.loader import ParallelBatches, available_cores
from ganbench.data.photos import train_photos
from ganbench.data.pipeline import ImageSet, TrainSampler


def time_source(source: Callable[[int], torch.Tensor], batch_size: int, seconds: float, min_batches: int = 3,
                start: int = 0) -> float:
    """Images/s of ``source`` over consecutive batch indices after one warm-up batch (for workers: their start)."""
    source(start)
    t0, n = time.perf_counter(), 0
    while n < min_batches or time.perf_counter() - t0 < seconds:
        source(start + 1 + n)
        n += 1
    return n * batch_size / (time.perf_counter() - t0)


def pipeline_rates(images: ImageSet, size: int, batch_size: int, workers: Sequence[int], seconds: float = 2.0,
                   seed: int = 0) -> list[dict[str, Any]]:
    """Images/s of training batches for each worker count: 0 is the sampler in this process on one torch thread
    (one worker's worth, as every run built them before); N > 0 is N worker processes (one thread each)."""
    rows = []
    for n in workers:
        sampler = TrainSampler(images, size, batch_size, seed)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        source = ParallelBatches(sampler, workers=n)
        try:
            rate = time_source(source, batch_size, seconds, min_batches=max(3, 2 * n))
        finally:
            source.close()
            torch.set_num_threads(threads)
        rows.append({"image_size": size, "batch_size": batch_size, "workers": n, "images_per_s": rate,
                     "images_per_s_per_worker": rate / max(1, n), "photos": len(images)})
    return rows


def project(per_worker: float, cores: int, target: float) -> dict[str, Any]:
    """What ``per_worker`` images/s means on a host of ``cores`` cores feeding one GPU (every core but one
    builds batches, scaling linearly: an upper bound) against ``target`` images/s."""
    total = per_worker * max(1, cores - 1)
    return {"cores": cores, "workers": max(1, cores - 1), "images_per_s": total, "target": target,
            "meets_target": total >= target, "workers_needed": -(-target // per_worker) if per_worker else None}


def data_bench(registry: Registry, dataset: str, options: dict[str, Any], sizes: Sequence[int], batch_size: int,
               workers: Sequence[int] | None = None, seconds: float = 2.0, cache_dir: Path | None = None,
               host_cores: int = 16, target: float = 2500.0) -> dict[str, Any]:
    """Rates at each size for 0 workers and for each count in ``workers`` (default: 1 and every core this
    process may use), and the projection to a ``host_cores``-core GPU host at 256² (or the largest size)."""
    cores = available_cores()
    counts = [0, *(workers if workers is not None else sorted({1, cores}))]
    rows: list[dict[str, Any]] = []
    for size in sizes:
        rows += pipeline_rates(train_photos(registry, dataset, options, size, cache_dir), size, batch_size,
                               counts, seconds)
    big = max(sizes)
    one = next(r for r in rows if r["image_size"] == big and r["workers"] == 0)["images_per_s"]
    return {"dataset": dataset, "cores": cores, "batch_size": batch_size, "rows": rows,
            "projection": {"image_size": big, "per_worker": one, **project(one, host_cores, target)}}
