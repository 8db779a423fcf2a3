"""What a training run carries between steps and across a resume: its counters, the random number
generators' state, and what it hands back when it ends."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch


@dataclass
class Counters:
    step: int = 0  # generator steps done
    critic_steps: int = 0
    batches: int = 0  # training batches drawn (the data order position)
    images: int = 0  # generator images seen
    critic_images: int = 0
    step_seconds: float = 0.0  # time in training steps (data excluded)
    data_seconds: float = 0.0
    steady_seconds: float = 0.0  # step time after warm-up
    steady_images: int = 0
    eval_seconds: float = 0.0


@dataclass
class TrainResult:
    status: str  # complete | diverged | interrupted
    counters: Counters
    history: list[dict[str, float]]
    val_history: list[dict[str, float]]
    best: dict[str, Any] | None
    divergence: dict[str, Any] | None = None
    peak_memory: dict[str, float] = field(default_factory=dict)


def rng_state() -> dict[str, Any]:
    np_state = cast(tuple[Any, ...], np.random.get_state())  # the legacy tuple (numpy types it as a union)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    npst = state["numpy"]
    np.random.set_state((npst[0], np.array(npst[1], dtype=np.uint32), *npst[2:]))


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB (NaN where the OS does not say)."""
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except Exception:  # pragma: no cover - non-POSIX
        return float("nan")


def peak_memory(device: torch.device) -> dict[str, float]:
    """This process's peak resident memory and, on CUDA, the device's peak allocation, in MiB."""
    peak = {"cpu_rss_mb": peak_rss_mb()}
    if device.type == "cuda":
        peak["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return peak
