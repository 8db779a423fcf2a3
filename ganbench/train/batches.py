"""Where a trainer's batches come from. A batch source is a callable ``source(index) -> (L, ab)``: the
networks' inputs and targets on the device for the ``index``-th batch of the run, a pure function of the
index (a resumed run and every data-parallel rank draw the same batches). Runs use :class:`PhotoBatches`;
benchmarks pass batches already in memory (:func:`cycle`), so the step is timed alone."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ganbench.data.color import lab_to_net, rgb_to_lab
from ganbench.data.pipeline import TrainSampler

BatchSource = Callable[[int], tuple[torch.Tensor, torch.Tensor]]


class PhotoBatches:
    """Training crops of the decoded photos (``TrainSampler``: random crops and flips), copied to the device
    and converted to Lab there. ``rows``: this data-parallel rank's rows of the global batch (None: all)."""

    def __init__(self, sampler: TrainSampler, device: torch.device, channels_last: bool,
                 rows: slice | None = None) -> None:
        self.sampler, self.device, self.channels_last, self.rows = sampler, device, channels_last, rows

    def __call__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rgb = self.sampler.batch(index, self.rows)
        if self.device.type == "cuda":
            rgb = rgb.pin_memory().to(self.device, non_blocking=True)
        if self.channels_last:
            rgb = rgb.contiguous(memory_format=torch.channels_last)
        return lab_to_net(rgb_to_lab(rgb))


def cycle(batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> BatchSource:
    """Batches already on the device, used in turn."""
    return lambda index: batches[index % len(batches)]


def memory_batches(source: BatchSource, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``n`` batches of ``source``, drawn now (for :func:`cycle`)."""
    return [source(i) for i in range(n)]
