"""Throughput of one training step per recipe, with batches already in memory (data loading apart), the
data pipeline's own rate, and the device's matrix-product peak measured in the same process, so achieved
FLOP/s read as a share of what this very machine can do."""

from __future__ import annotations

import functools
import time
from typing import Any

import torch

from ganbench.core.budgets import parse_budget
from ganbench.core.config import ConfigFile, resolve_recipe
from ganbench.core.registry import Registry
from ganbench.data.pipeline import TrainSampler
from ganbench.data.synthetic import synthetic_data
from ganbench.train.batches import BatchSource, PhotoBatches, cycle, memory_batches
from ganbench.train.flops import count_flops_per_image
from ganbench.train.machine import device_name
from ganbench.train.precision import cpu_has_native_bf16, resolve_device
from ganbench.train.setup import build_trainer
from ganbench.train.state import peak_rss_mb
from ganbench.train.trainer import Trainer

#: bf16 dense peak (TFLOP/s, no sparsity) of cards whose name contains the key, for model FLOPs utilisation.
#: H100 SXM 989; H100 PCIe 756; H200 989 (same compute as H100 SXM); A100 312; L4 121; A10 125.
PEAK_BF16_TFLOPS = {"H100 PCIe": 756.0, "H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0, "A10": 125.0}


def photo_batches(image_size: int, batch_size: int, device: torch.device, channels_last: bool,
                  seed: int = 0) -> PhotoBatches:
    """The real input path (crop + flip from decoded synthetic photos, host->device copy, Lab on the device)."""
    return PhotoBatches(TrainSampler(synthetic_data(image_size).train, image_size, batch_size, seed), device,
                        channels_last)


def bench_trainer(
    registry: Registry, model: str, image_size: int | None = None, batch_size: int | None = None,
    device: str = "auto", precision: str | None = None, compile: bool = False, sets: dict[str, Any] | None = None,
    budget: str = "cpu", config: ConfigFile | None = None, channels_last: bool | None = None,
) -> Trainer:
    """A trainer of ``model`` as ``ganbench bench`` times it (``build_trainer`` with ``budget``'s image size,
    batch size and hints unless ``image_size``/``batch_size`` are given, and ``precision`` None: the fixed
    default): its batches already in memory, so a step is timed alone, and WGAN's warm-up off (a schedule, not a
    speed)."""
    b = parse_budget(budget)
    image_size, batch_size = image_size or b.image_size, batch_size or b.batch_size
    dev = resolve_device(device)
    channels_last = dev.type == "cuda" if channels_last is None else channels_last
    photos = photo_batches(image_size, batch_size, dev, channels_last)
    n_critic = resolve_recipe(registry, model, config, sets).n_critic
    return build_trainer(registry, model, b, image_size, batch_size,
                         {**(sets or {}), "critic_warmup": 0}, config, str(dev), precision,
                         channels_last=channels_last, batches=cycle(memory_batches(photos, max(2, n_critic + 1))),
                         compile=compile)


def real_photo_batches(registry: Registry, image_size: int, batch_size: int, device: torch.device,
                       channels_last: bool, workers: int, dataset: str = "embedded",
                       options: dict[str, Any] | None = None, seed: int = 0) -> PhotoBatches:
    """The input path of a run over real photos (by default the embedded ones), built by ``workers`` data
    worker processes as a run builds them: what ``bench --with-data`` feeds the steps."""
    from ganbench.data.photos import train_photos

    photos = train_photos(registry, dataset, options or {}, image_size)
    return PhotoBatches(TrainSampler(photos, image_size, batch_size, seed), device, channels_last, workers=workers)


def bench_with_data(
    registry: Registry, model: str, image_size: int, batch_size: int, steps: int, warmup: int, device: str,
    precision: str | None, compile: bool, sets: dict[str, Any] | None, budget: str, config: ConfigFile | None,
    channels_last: bool | None, workers: int | None = None, dataset: str = "embedded",
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Training steps fed by the real pipeline (real photos, ``workers`` data processes, default: as a run
    chooses), timed end to end: ``e2e_*`` beside the in-memory step's numbers. ``data_share`` is the fraction of
    the wall-clock the step loop waited for batches."""
    from ganbench.data.loader import data_workers

    dev = resolve_device(device)
    channels_last = dev.type == "cuda" if channels_last is None else channels_last
    workers = data_workers(dev) if workers is None else workers
    source = real_photo_batches(registry, image_size, batch_size, dev, channels_last, workers, dataset, options)
    trainer = build_trainer(registry, model, parse_budget(budget), image_size, batch_size,
                            {**(sets or {}), "critic_warmup": 0}, config, str(dev), precision,
                            channels_last=channels_last, batches=source, compile=compile)
    try:
        for _ in range(warmup):
            trainer.train_step()
        _sync(dev)
        data0 = trainer.counters.data_seconds
        t0 = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        _sync(dev)
        seconds = time.perf_counter() - t0
        waited = trainer.counters.data_seconds - data0
    finally:
        trainer.close()
    alone = real_photo_batches(registry, image_size, batch_size, dev, channels_last, 0, dataset, options)
    return {"e2e_images_per_s": steps * batch_size / seconds, "e2e_step_ms": 1000 * seconds / steps,
            "data_workers": workers, "data_share": waited / seconds, "data_dataset": dataset,
            # the real photos' batches built in this process alone (what 0 workers feed a step)
            "data_images_per_s": data_pipeline_rate(alone, batch_size, dev, 1.0)}


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def data_pipeline_rate(source: BatchSource, batch_size: int, device: torch.device, seconds: float = 1.0,
                       min_batches: int = 3) -> float:
    """Images/s of a batch source measured on its own (for :class:`PhotoBatches`: what the data side could feed
    the training step)."""
    source(0)  # warm-up
    _sync(device)
    t0, n = time.perf_counter(), 0
    while n < min_batches or time.perf_counter() - t0 < seconds:
        source(n + 1)
        n += 1
    _sync(device)
    return n * batch_size / (time.perf_counter() - t0)


def matmul_peak(device: str | torch.device = "cpu", dtype: torch.dtype = torch.bfloat16, n: int = 2048,
                seconds: float = 0.5, max_seconds: float = 4.0) -> float:
    """Achieved FLOP/s of an n×n matrix product in ``dtype`` on ``device``: the machine's own dense peak, as
    the training step's FLOP/s are compared with (on CPUs with AMX or AVX512-BF16 bf16 is several times fp32).

    Bounded in time whatever the kernel: the size climbs from 128² by doubling (each size timed briefly) while
    one product of the next size is predicted, from the rate just measured, to take at most a tenth of
    ``max_seconds``; the last size reached is timed for about ``seconds`` (at least two products). An emulated
    bf16 product, thousands of times slower than a native one, so costs a fraction of a second at a small size
    instead of minutes at 2048² (a few seconds in all on any device)."""
    dev = torch.device(device)

    def rate(size: int, budget: float) -> float:
        a = torch.randn(size, size, device=dev).to(dtype)
        b = torch.randn(size, size, device=dev).to(dtype)
        torch.mm(a, b)  # warm-up (kernel choice, allocation)
        _sync(dev)
        t0, reps = time.perf_counter(), 0
        while reps < 2 or time.perf_counter() - t0 < budget:
            torch.mm(a, b)
            reps += 1
        _sync(dev)
        return 2 * size**3 * reps / max(time.perf_counter() - t0, 1e-9)

    size = min(n, 128)
    measured = rate(size, 0.0)
    while size < n and 2 * min(2 * size, n) ** 3 / measured <= max_seconds / 10:
        size = min(2 * size, n)
        measured = rate(size, 0.0)
    return max(measured, rate(size, seconds))


def table_peak_tflops(name: str) -> float | None:
    """The bf16 dense peak of a known GPU (datasheet), else None."""
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


@functools.cache
def bf16_peak(device: str) -> tuple[float | None, str | None]:
    """The device's bf16 dense peak in FLOP/s and where it comes from: a known GPU's datasheet value, or on a
    CPU with native bf16 its bf16 matrix product, measured once per process in a few seconds at most (every
    benchmark row shares it). None where bf16 is emulated (its rate is no peak: a share of it would read as
    thousands of per cent), with the reason as the source."""
    dev = torch.device(device)
    if dev.type == "cuda":
        table = table_peak_tflops(device_name(dev))
        return (table * 1e12, "datasheet bf16 dense") if table else (None, None)
    if dev.type == "cpu":
        if not cpu_has_native_bf16():
            return None, "bf16 is emulated on this CPU (no AVX512-BF16/AMX, or oneDNN capped below them)"
        return matmul_peak(dev), "bf16 matmul measured"
    return None, None


def share_of_peak(achieved_flops: float, peak_flops: float) -> float | None:
    """Achieved over peak FLOP/s, or None where the step outran the "peak" (a peak measured low, e.g. under
    load): a share of peak is never above 100 %."""
    share = achieved_flops / peak_flops
    return share if share <= 1.0 else None


def bench_model(
    registry: Registry, model: str, image_size: int | None = None, batch_size: int | None = None, steps: int = 10,
    warmup: int = 3, device: str = "auto", precision: str | None = None, compile: bool = False,
    sets: dict[str, Any] | None = None, budget: str = "cpu", config: ConfigFile | None = None,
    channels_last: bool | None = None, peak_flops: float | None = None, data_seconds: float = 0.5,
    with_data: bool = False, data_workers: int | None = None,
) -> dict[str, Any]:
    """Time ``steps`` training steps after ``warmup`` ones. ``peak_flops``: the device's bf16 dense peak in
    FLOP/s (default: the datasheet value for a known GPU, or on a CPU with native bf16 its bf16 matrix product
    measured now, in seconds; none where bf16 is emulated); ``achieved_share_of_peak`` is the step's counted
    FLOP/s over it (MFU), never above 1. ``image_size``/``batch_size`` None: the budget's. ``with_data``: also
    the same steps fed by the real pipeline (:func:`bench_with_data`, ``data_workers`` processes), beside the
    in-memory ones, and ``serial_images_per_s`` = 1 / (1/step + 1/data): what a run gets when batches are built
    in the training process (0 workers), the bound worker processes exist to beat."""
    trainer = bench_trainer(registry, model, image_size, batch_size, device, precision, compile, sets, budget, config,
                            channels_last)
    dev, image_size, batch_size = trainer.device, trainer.cfg.budget.image_size, trainer.cfg.budget.batch_size
    for _ in range(warmup):
        trainer.train_step()
    _sync(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    _sync(dev)
    seconds = time.perf_counter() - t0
    trainer.flush()
    flops = count_flops_per_image(*trainer.parts, trainer.recipe, image_size)
    ips = steps * batch_size / seconds
    name = device_name(dev)
    out: dict[str, Any] = {
        "model": model, "device": str(dev), "device_name": name, "torch": torch.__version__,
        "precision": trainer.cfg.precision, "compile": compile, "channels_last": trainer.channels_last,
        "image_size": image_size, "batch_size": batch_size, "steps": steps, "images_per_s": ips,
        "step_ms": 1000 * seconds / steps, "generator_steps_per_s": steps / seconds,
        "critic_steps_per_s": steps * trainer.schedule.n_critic / seconds,
        "flops_per_image": flops["train_step"] if flops else None,
        "params": trainer.nets.param_counts(),
        "peak_cpu_rss_mb": peak_rss_mb(),
    }
    if data_seconds > 0:
        photos = photo_batches(image_size, batch_size, dev, trainer.channels_last)
        out["data_images_per_s"] = data_pipeline_rate(photos, batch_size, dev, data_seconds)
    if with_data:
        out.update(bench_with_data(registry, model, image_size, batch_size, steps, warmup, device, precision, compile,
                                   sets, budget, config, channels_last, data_workers))
        if out.get("data_images_per_s"):
            out["serial_images_per_s"] = 1 / (1 / ips + 1 / out["data_images_per_s"])
    if dev.type == "cuda":
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated(dev) / 2**20
    if flops:
        out["achieved_tflops"] = flops["train_step"] * ips / 1e12
    if peak_flops is None:
        peak_flops, out["peak_source"] = bf16_peak(str(dev))
    if peak_flops:
        out["peak_bf16_tflops"] = peak_flops / 1e12
        if flops:
            out["achieved_share_of_peak"] = share_of_peak(flops["train_step"] * ips, peak_flops)
            if out["achieved_share_of_peak"] is None:
                out["peak_source"] = f"{out.get('peak_source') or 'given'}, below the step's own rate: no share"
    return out


__all__ = ["bench_model", "bench_trainer", "bench_with_data", "data_pipeline_rate", "matmul_peak", "photo_batches",
           "real_photo_batches", "share_of_peak"]
