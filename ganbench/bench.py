"""Throughput of one training step per recipe, with batches already in memory (data loading apart)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import torch

from ganbench.budgets import parse_budget
from ganbench.color import lab_to_net, rgb_to_lab
from ganbench.config import ConfigFile, RunConfig, resolve_recipe
from ganbench.data import ImageSet, PreparedData
from ganbench.registry import Registry
from ganbench.runner import check_shapes
from ganbench.trainer import (
    Trainer,
    _peak_rss_mb,
    count_flops_per_image,
    default_precision,
    resolve_device,
)

#: bf16 dense peak (TFLOP/s) of cards whose name contains the key, for model FLOPs utilisation.
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0, "A10": 125.0}


def synthetic_data(size: int, n: int = 8, seed: int = 0) -> PreparedData:
    """Smooth random colour images (enough to exercise every code path; content does not affect speed)."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 4, 4, generator=g)
    imgs = torch.nn.functional.interpolate(low, size=(size * 2, size * 2), mode="bicubic", align_corners=False)
    arr = (imgs.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
    crops = arr[:, :size, :size].contiguous()
    train = ImageSet([f"synthetic{i}" for i in range(n)], [a.numpy() for a in arr])
    keys = [f"synthetic{i}" for i in range(n)]
    return PreparedData(train, crops, keys, crops, keys, "synthetic", [])


def bench_model(
    registry: Registry, model: str, image_size: int = 64, batch_size: int = 16, steps: int = 10,
    warmup: int = 3, device: str = "auto", precision: str | None = None, compile: bool = False,
    sets: dict[str, Any] | None = None, budget: str = "cpu", config: ConfigFile | None = None,
) -> dict[str, Any]:
    dev = resolve_device(device)
    precision = precision or default_precision(dev)
    b = replace(parse_budget(budget), image_size=image_size, batch_size=batch_size)
    recipe = resolve_recipe(registry, model, config or ConfigFile(), b, sets or {})
    check_shapes(registry, recipe, image_size, model)
    cfg = RunConfig(model=model, recipe=recipe, dataset="synthetic", dataset_options={}, budget=b.to_dict(),
                    device=str(dev), precision=precision, compile=compile)
    data = synthetic_data(image_size)
    trainer = Trainer(cfg, registry, data, dev, metrics={})
    n_batches = max(2, trainer.n_critic + 1)
    batches = []
    for i in range(n_batches):
        rgb = trainer.sampler.batch(i).to(dev)
        if dev.type == "cuda":
            rgb = rgb.contiguous(memory_format=torch.channels_last)
        batches.append(lab_to_net(rgb_to_lab(rgb)))
    counter = iter(range(10**9))
    trainer.next_batch = lambda: batches[next(counter) % n_batches]  # in memory: the step alone

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    for _ in range(warmup):
        trainer.train_step()
    sync()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    sync()
    seconds = time.perf_counter() - t0
    trainer.flush()
    flops = count_flops_per_image(trainer)
    ips = steps * batch_size / seconds
    out: dict[str, Any] = {
        "model": model, "device": str(dev), "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda"
        else "cpu", "precision": precision, "compile": compile, "image_size": image_size,
        "batch_size": batch_size, "steps": steps, "images_per_s": ips, "step_ms": 1000 * seconds / steps,
        "generator_steps_per_s": steps / seconds,
        "critic_steps_per_s": steps * trainer.critic_steps_per_step / seconds,
        "flops_per_image": flops["train_step"] if flops else None,
        "params": trainer.param_counts(),
        "peak_cpu_rss_mb": _peak_rss_mb(),
    }
    if dev.type == "cuda":
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated(dev) / 2**20
        name = out["device_name"]
        peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
        if peak and flops and precision in ("bf16", "fp16"):
            out["mfu"] = flops["train_step"] * ips / (peak * 1e12)
    if flops:
        out["achieved_tflops"] = flops["train_step"] * ips / 1e12
    return out


__all__ = ["bench_model", "synthetic_data"]
