"""Devices and precision: which device a name means, which autocast dtype a precision means, which precision
is the fastest correct default on this machine, and whether ``--compile`` can work here. One place for all of it.

The CPU default is *measured*, not guessed from CPU flags: a CPU that reports AVX512-BF16 may still run
oneDNN's bf16 convolutions slower than fp32 (measured on a 2-core Intel Xeon VM with AVX512-BF16 and no AMX:
bf16 0.55-0.6x fp32), while on an AMD EPYC (Zen 4) they were about 1.5x faster. So on a CPU with bf16
instructions ganbench times a small convolution's forward + backward in both precisions once, keeps bf16 only
when it is at least ``BF16_MIN_SPEEDUP`` faster, and caches the answer per CPU model, torch version and thread
count (``<cache>/cpu-precision.json``) so every run on the machine makes the same choice. ``--precision``
always overrides it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch

from ganbench.core.errors import ConfigError
from ganbench.train.machine import cpu_flags, cpu_model

AUTOCAST = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

#: bf16 must beat fp32 by this factor in the probe to become the CPU default.
BF16_MIN_SPEEDUP = 1.15


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device '{name}': use cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but no CUDA device is available")
    return device


def cpu_has_native_bf16() -> bool:
    """True on CPUs with bf16 dot-product instructions (AVX512-BF16 or AMX); elsewhere bf16 is emulated."""
    flags = cpu_flags()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def measure_cpu_bf16_speedup(rounds: int = 5) -> float:
    """fp32 time / bf16-autocast time of a pix2pix-shaped convolution block's forward + backward (batch 16,
    64 -> 128 channels at 32x32, then 128 -> 128), best of ``rounds`` each, interleaved."""
    gen = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(64, 128, 4, 2, 1), torch.nn.LeakyReLU(0.2),
                              torch.nn.Conv2d(128, 128, 3, 1, 1))
    x = torch.randn(16, 64, 32, 32, generator=gen)

    def step(dtype):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
            y = net(x)
        y.float().square().mean().backward()

    best = {None: float("inf"), torch.bfloat16: float("inf")}
    for dtype in best:
        step(dtype)  # warm-up: oneDNN primitive creation
    for _ in range(rounds):
        for dtype in best:
            t0 = time.perf_counter()
            step(dtype)
            best[dtype] = min(best[dtype], time.perf_counter() - t0)
    return best[None] / best[torch.bfloat16]


def _cache_file() -> Path:
    root = os.environ.get("GANBENCH_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "ganbench"


def precision_cache_key(threads: int | None = None) -> str:
    """The key of the CPU precision probe's cached result: the CPU, torch and the thread count (torch's
    current one unless given)."""
    n = torch.get_num_threads() if threads is None else threads
    return f"{cpu_model()} | torch {torch.__version__} | {n} threads"


def cpu_precision_choice() -> dict:
    """The CPU default with its evidence: ``{"precision", "reason", "bf16_speedup"}`` (cached per machine)."""
    if not cpu_has_native_bf16():
        return {"precision": "fp32", "reason": "no bf16 instructions (AVX512-BF16/AMX) on this CPU",
                "bf16_speedup": None}
    key = precision_cache_key()
    path = _cache_file() / "cpu-precision.json"
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        cache = {}
    speedup = cache.get(key)
    if not isinstance(speedup, (int, float)):
        speedup = measure_cpu_bf16_speedup()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({**cache, key: speedup}, indent=1))
            tmp.replace(path)
        except OSError:
            pass  # not cached: measured again next time
    precision = "bf16" if speedup >= BF16_MIN_SPEEDUP else "fp32"
    return {"precision": precision, "bf16_speedup": round(float(speedup), 3),
            "reason": f"bf16 convolutions measured {speedup:.2f}x fp32 on this CPU "
                      f"({'>=' if precision == 'bf16' else '<'} {BF16_MIN_SPEEDUP})"}


def default_precision(device: torch.device) -> str:
    """bf16 autocast on CUDA (no GradScaler needed); on a CPU the faster of bf16 and fp32 as measured
    (:func:`cpu_precision_choice`). Losses, the penalty's norm, optimiser states and weights stay fp32."""
    if device.type == "cuda":
        return "bf16"
    return cpu_precision_choice()["precision"]


def check_compile_supported() -> None:
    """``--compile`` needs TorchDynamo for this Python: torch >= 2.6 on Python 3.13, >= 2.10 on 3.14. Raise a
    ConfigError naming both versions instead of torch's own error at the first step."""
    try:
        from torch._dynamo.eval_frame import check_if_dynamo_supported  # torch 2.1+

        check_if_dynamo_supported()
    except ImportError:  # pragma: no cover - a torch without dynamo
        raise ConfigError(f"--compile is not available in torch {torch.__version__}") from None
    except RuntimeError as exc:
        py = ".".join(map(str, sys.version_info[:2]))
        raise ConfigError(f"--compile is not supported by torch {torch.__version__} on Python {py} "
                          f"({str(exc).splitlines()[0]}); run without --compile or upgrade torch") from None


__all__ = ["AUTOCAST", "check_compile_supported", "cpu_has_native_bf16", "cpu_precision_choice",
           "default_precision", "measure_cpu_bf16_speedup", "resolve_device"]
