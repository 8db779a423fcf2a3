"""Where a trainer's batches come from. A batch source is a callable ``source(index) -> (L, ab)``: the
networks' inputs and targets on the device for the ``index``-th batch of the run, a pure function of the
index (a resumed run and every data-parallel rank draw the same batches). Runs use :class:`PhotoBatches`;
benchmarks pass batches already in memory (:func:`cycle`), so the step is timed alone."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ganbench.data.color import lab_to_net, rgb_to_lab
from ganbench.data.loader import ParallelBatches
from ganbench.data.pipeline import TrainSampler

BatchSource = Callable[[int], tuple[torch.Tensor, torch.Tensor]]


class PhotoBatches:
    """Training crops of the decoded photos (``TrainSampler``: random crops and flips), copied to the device
    and converted to Lab there. ``rows``: this data-parallel rank's rows of the global batch (None: all).
    ``workers``: processes building the crops ahead of the step (``ganbench.data.loader``; 0: in this
    process); ``on_failure(message)``: one of them died."""

    def __init__(self, sampler: TrainSampler, device: torch.device, channels_last: bool,
                 rows: slice | None = None, workers: int = 0,
                 on_failure: Callable[[str], None] | None = None) -> None:
        self.sampler, self.device, self.channels_last, self.rows = sampler, device, channels_last, rows
        self.crops = ParallelBatches(sampler, rows, workers, pin=device.type == "cuda", on_failure=on_failure)

    def __call__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rgb = self.crops(index)
        if self.device.type == "cuda":
            rgb = rgb.pin_memory().to(self.device, non_blocking=True)
        if self.channels_last:
            rgb = rgb.contiguous(memory_format=torch.channels_last)
        return lab_to_net(rgb_to_lab(rgb))

    def close(self) -> None:
        """Stop the worker processes (if any)."""
        self.crops.close()


def cycle(batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> BatchSource:
    """Batches already on the device, used in turn."""
    return lambda index: batches[index % len(batches)]


def memory_batches(source: BatchSource, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``n`` batches of ``source``, drawn now (for :func:`cycle`)."""
    return [source(i) for i in range(n)]
