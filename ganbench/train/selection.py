"""Checkpoint selection, in one place: which validated generator a run keeps, the rule as a run records it,
and the note a report prints when no generator met the colourfulness floor.

The rule: the highest validation PSNR among generators whose validation colourfulness is at least
``floor`` of the validation photos' own (an almost gray generator is not a colourizer); while none is, the
highest validation PSNR of all. ``floor`` 0: validation PSNR alone.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganbench.core.contract import Metric
from ganbench.core.errors import ConfigError
from ganbench.score.evaluate import evaluate_images, gray_uint8


def meets_floor(entry: dict[str, Any], floor: float) -> bool:
    """Does this validation result (``val_colorfulness``, ``truth_val_colorfulness``) reach the floor?"""
    if floor <= 0 or entry.get("val_colorfulness") is None:
        return True
    return entry["val_colorfulness"] >= floor * entry["truth_val_colorfulness"]


def better(entry: dict[str, Any], best: dict[str, Any] | None, floor: float) -> bool:
    """Is this validation result a better pick than ``best``? One that meets the colourfulness floor beats
    one that does not; among equals, the higher validation PSNR wins (the earlier on ties)."""
    if best is None:
        return True
    meets = meets_floor(entry, floor)
    best_meets = best.get("meets_floor", True) if floor > 0 else True
    if meets != best_meets:
        return meets
    return entry["val_psnr"] > best["val_psnr"]


def selection_rule(floor: float) -> str:
    """The rule in words, as ``metrics.json`` records it."""
    rule = "highest validation PSNR over the periodic evaluations (validation != test)"
    if floor > 0:
        rule += (f" among generators whose validation colourfulness is >= {floor:.2f} of the validation photos'"
                 " (the highest of all while none is)")
    return rule


def floor_missed_note(model: str, seeds: list[int]) -> str:
    """The report's note for a model whose selected generator never reached the floor on validation."""
    return (f"{model} (seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, sorted(seeds)))}): no validated "
            "generator reached the colourfulness floor, so the table uses the one with the highest validation PSNR")


class Validation:
    """Scores generators on the validation crops and keeps the best by the rule above: ``history`` holds one
    entry per validation, ``best`` the kept generator's scores, step and weights (on the CPU).

    ``metrics`` must hold ``psnr``; ``colorfulness`` (None when no plugin registers it) enables the floor."""

    def __init__(self, val: torch.Tensor, psnr: Metric | None, colorfulness: Metric | None, floor: float,
                 device: torch.device) -> None:
        self.val, self.psnr, self.colorfulness, self.device = val, psnr, colorfulness, device
        self.floor = float(floor) if colorfulness is not None else 0.0
        self.history: list[dict[str, float]] = []
        self.best: dict[str, Any] | None = None
        self._gray_psnr: float | None = None
        self._truth_colorfulness: float | None = None
        #: keep the outputs of the first ``keep`` validation crops of the latest validation in ``samples``
        #: (for the trackers' sample grid); 0 keeps none
        self.keep = 0
        self.samples: torch.Tensor | None = None

    def run(self, generator: nn.Module, step: int, images: int, seconds: float) -> float:
        """Score ``generator`` (after ``step`` generator steps, ``images`` images, ``seconds`` of training) and
        keep it if it is the best so far; returns its validation PSNR."""
        if self.psnr is None:
            raise ConfigError("validation needs the psnr metric: name it in --metrics (or register it)")
        metrics = {"psnr": self.psnr}
        if self.colorfulness is not None:
            metrics["colorfulness"] = self.colorfulness
        scores, pred = evaluate_images(generator, self.val, metrics, self.device, None)  # fp32 scoring
        self.samples = pred[: self.keep].clone() if self.keep else None
        psnr = float(scores["psnr"].mean())
        if self._gray_psnr is None:
            self._gray_psnr = float(metrics["psnr"].compute(gray_uint8(self.val), self.val).mean())
            if self.colorfulness is not None:
                self._truth_colorfulness = float(self.colorfulness.compute(self.val, self.val).mean())
        entry: dict[str, Any] = {"step": step, "images": images, "val_psnr": psnr, "gray_val_psnr": self._gray_psnr}
        if self.colorfulness is not None:
            entry["val_colorfulness"] = float(scores["colorfulness"].mean())
            entry["truth_val_colorfulness"] = self._truth_colorfulness
        entry["seconds"] = seconds
        self.history.append(entry)
        if better(entry, self.best, self.floor):
            self.best = {"val_psnr": psnr, "step": step, "val_colorfulness": entry.get("val_colorfulness"),
                         "meets_floor": meets_floor(entry, self.floor),
                         "state": {k: v.detach().cpu().clone() for k, v in generator.state_dict().items()}}
        return psnr
