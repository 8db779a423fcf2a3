"""The training input pipeline alone: images/s of training batches built from real photos (scikit-image's
natural colour photos, decoded and kept at short side 2·size as a run keeps them), per worker and in total.

    OMP_NUM_THREADS=1 python -m pytest benchmarks/test_data_pipeline.py --benchmark-enable \
        --benchmark-json results/benchmarks/data-pipeline-NAME.json

``extra_info["images_per_s"]`` is each row's rate (images per second of the round's mean); ``workers`` 0 is the
sampler in the training process itself (what every run did before the parallel pipeline), 1 and 2 are worker
processes feeding it (``ganbench.data.loader``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganbench.data.pipeline import ImageItem, ImageSet, TrainSampler, prepare

PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "motorcycle_left"]
BATCH = 64
SIZES = [64, 256]


def real_photos(short: int) -> ImageSet:
    """scikit-image's colour photos (512² and 600×800-ish), resized to short side ``short`` like a run's."""
    import skimage.data

    def loader(name: str):
        def load() -> np.ndarray:
            arr = skimage.data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(skimage.data, name)()
            return np.ascontiguousarray(arr[..., :3])

        return load

    return prepare([ImageItem(key=n, load=loader(n)) for n in PHOTOS], short)


@pytest.fixture(scope="module", params=SIZES, ids=lambda s: f"{s}px")
def sampler(request) -> TrainSampler:
    size = request.param
    return TrainSampler(real_photos(2 * size), size, BATCH, seed=0)


def test_sampler_in_process(benchmark, sampler):
    """Today's path: ``TrainSampler.batch`` in the training process, one torch thread (one worker's worth)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    counter = iter(range(10**9))
    try:
        benchmark.group = f"data pipeline {sampler.size}px b{BATCH}"
        benchmark.pedantic(lambda: sampler.batch(next(counter)), rounds=5, iterations=1, warmup_rounds=1)
    finally:
        torch.set_num_threads(threads)
    benchmark.extra_info.update(size=sampler.size, batch=BATCH, workers=0,
                                images_per_s=BATCH / benchmark.stats.stats.mean)


@pytest.mark.parametrize("workers", [1, 2])
def test_parallel_pipeline(benchmark, sampler, workers):
    """The parallel pipeline: ``workers`` processes build batches ahead; a round is one batch taken from them
    (steady state: after warm-up rounds, the queue is as full as the workers keep it)."""
    from ganbench.data.loader import ParallelBatches

    source = ParallelBatches(sampler, workers=workers)
    counter = iter(range(10**9))
    try:
        benchmark.group = f"data pipeline {sampler.size}px b{BATCH}"
        benchmark.pedantic(lambda: source(next(counter)), rounds=4 * workers + 4, iterations=1,
                           warmup_rounds=2 * workers)
    finally:
        source.close()
    rate = BATCH / benchmark.stats.stats.mean
    benchmark.extra_info.update(size=sampler.size, batch=BATCH, workers=workers, images_per_s=rate,
                                images_per_s_per_worker=rate / workers)
