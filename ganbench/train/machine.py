"""What about this machine and this torch build decides which kernels run: enough, in ``run.json``, to
explain why the same command gives other numbers elsewhere (bf16 convolutions, for one, differ by CPU)."""

from __future__ import annotations

import os
import re
from typing import Any

import torch

#: CPU features that change which kernels oneDNN and ATen pick (bf16/fp16 dot products, AMX tiles, vector width).
KERNEL_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
                "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8", "amx_fp16", "asimd", "sve", "sve2",
                "bf16", "i8mm")
#: Environment variables that change thread counts or cap the instruction set kernels may use.
KERNEL_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY",
              "ONEDNN_DEFAULT_FPMATH_MODE", "CUBLAS_WORKSPACE_CONFIG")


def cpu_flags(path: str = "/proc/cpuinfo") -> set[str]:
    """The first processor's feature flags (``flags`` on x86, ``Features`` on ARM); empty where unknown."""
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                key, sep, value = line.partition(":")
                if sep and key.strip() in ("flags", "Features"):
                    return set(value.split())
    except OSError:
        pass
    return set()


def cpu_model(path: str = "/proc/cpuinfo") -> str:
    """The CPU's model name (``model name`` in /proc/cpuinfo), else what ``platform`` says."""
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                key, sep, value = line.partition(":")
                if sep and key.strip() == "model name":
                    return value.strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model with its core count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_model()} ({os.cpu_count()} cores)"


def _build_line(pattern: str) -> str | None:
    match = re.search(pattern, torch.__config__.show())
    return match.group(1).strip() if match else None


def kernel_info(device: torch.device) -> dict[str, Any]:
    """CPU flags relevant to kernels, ATen's CPU capability, oneDNN and MKL versions, thread counts, the
    environment variables that change them; on CUDA the GPU's capability and the CUDA/cuDNN versions."""
    flags = cpu_flags()
    info: dict[str, Any] = {
        "cpu_kernel_flags": [f for f in KERNEL_FLAGS if f in flags],
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn": _build_line(r"MKL-DNN (v[^\s]+)") if torch.backends.mkldnn.is_available() else None,
        "mkl": _build_line(r"Math Kernel Library Version ([\d.]+)") if torch.backends.mkl.is_available() else None,
        "torch_interop_threads": torch.get_num_interop_threads(),
        "kernel_env": {k: os.environ[k] for k in KERNEL_ENV if k in os.environ},
    }
    if device.type == "cuda":
        info["cuda_capability"] = ".".join(map(str, torch.cuda.get_device_capability(device)))
        info["cuda_version"] = torch.version.cuda
        info["cudnn_version"] = torch.backends.cudnn.version()
    return info
