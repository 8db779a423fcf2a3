"""Devices and precision: which device a name means, which autocast dtype a precision means, which precision
a run trains in by default, and whether ``--compile`` can work here. One place for all of it.

The default is a fixed rule, never a timing: bf16 autocast on CUDA, fp32 on a CPU. The same command on the same
machine trains in the same precision whatever the load, so the run key (which holds the precision) never
depends on a measurement. A CPU with bf16 instructions may still run oneDNN's bf16 convolutions slower than fp32
(measured on a 2-core Intel Xeon VM with AVX512-BF16 and no AMX: bf16 0.55-0.6x fp32) or faster (an AMD EPYC
Zen 4: about 1.5x), so ``--precision auto`` asks for a fresh probe: a small convolution's forward + backward
timed in both precisions, bf16 kept when it is at least ``BF16_MIN_SPEEDUP`` faster. Its answer is the
precision the run records (and is keyed by); it is measured anew each time it is asked for.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import torch

from ganbench.core.errors import ConfigError
from ganbench.train.machine import cpu_flags

AUTOCAST = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
#: What ``--precision`` accepts: a precision, or ``auto`` for a fresh probe.
PRECISION_CHOICES = (*AUTOCAST, "auto")
#: oneDNN instruction-set caps (``ONEDNN_MAX_CPU_ISA``) below bf16 dot products: with one of them set, oneDNN
#: emulates bf16 even on a CPU that has the instructions (the way to run the emulated path on such a CPU).
ISA_CAPS_WITHOUT_BF16 = frozenset({"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX512_CORE", "AVX512_CORE_VNNI"})

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
    """True on CPUs with bf16 dot-product instructions (AVX512-BF16 or AMX) that oneDNN may use; elsewhere (or
    with ``ONEDNN_MAX_CPU_ISA``/``DNNL_MAX_CPU_ISA`` capped below them, e.g. ``AVX2``) bf16 is emulated."""
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").strip().upper()
    if cap in ISA_CAPS_WITHOUT_BF16:
        return False
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


def cpu_precision_choice() -> dict[str, Any]:
    """The fresh probe behind ``--precision auto`` on a CPU, with its evidence: ``{"precision", "reason",
    "bf16_speedup"}``. Where bf16 is emulated it is fp32 without timing anything."""
    if not cpu_has_native_bf16():
        return {"precision": "fp32", "reason": "no native bf16 (AVX512-BF16/AMX) on this CPU", "bf16_speedup": None}
    speedup = measure_cpu_bf16_speedup()
    precision = "bf16" if speedup >= BF16_MIN_SPEEDUP else "fp32"
    return {"precision": precision, "bf16_speedup": round(float(speedup), 3),
            "reason": f"bf16 convolutions measured {speedup:.2f}x fp32 on this CPU "
                      f"({'>=' if precision == 'bf16' else '<'} {BF16_MIN_SPEEDUP})"}


def default_precision(device: torch.device) -> str:
    """The fixed rule: bf16 autocast on CUDA (no GradScaler needed), fp32 on a CPU. Losses, the penalty's norm,
    optimiser states and weights stay fp32 either way."""
    return "bf16" if device.type == "cuda" else "fp32"


def resolve_precision(requested: str | None, device: torch.device) -> str:
    """The precision a run trains in: ``requested`` (fp32, bf16 or fp16), the fixed default when None, or with
    ``auto`` the probe's answer (bf16 on CUDA; on a CPU :func:`cpu_precision_choice`, timed now)."""
    if requested is None:
        return default_precision(device)
    if requested == "auto":
        return "bf16" if device.type == "cuda" else cpu_precision_choice()["precision"]
    if requested not in AUTOCAST:
        raise ConfigError(f"unknown precision '{requested}': use {', '.join(PRECISION_CHOICES)}")
    return requested


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


__all__ = ["AUTOCAST", "PRECISION_CHOICES", "check_compile_supported", "cpu_has_native_bf16", "cpu_precision_choice",
           "default_precision", "measure_cpu_bf16_speedup", "resolve_device", "resolve_precision"]
