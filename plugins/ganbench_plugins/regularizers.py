"""The built-in critic regularizers, composable with any loss from a recipe's ``regularizers`` list:

- ``gp``: WGAN-GP's penalty (Gulrajani et al. 2017), ``weight`` · E[(‖∇D(x̂)‖ − 1)²] at interpolates x̂
  (``penalty_reduction`` as the ``wasserstein-gp`` loss: ``mean`` = the per-image score, ``sum`` = pix2pix's);
- ``r1``: Mescheder et al. 2018, ``gamma``/2 · E_real[‖∇D(x)‖²] (StyleGAN2's ``r1_gamma``);
- ``r2``: the same on the fakes, ``gamma``/2 · E_fake[‖∇D(x)‖²];
- ``zero-gp``: the zero-centred gradient penalty of Thanh-Tung et al. 2019, ``weight`` · E[‖∇D(x̂)‖²] at
  interpolates.

D(x) is the image's critic score: the mean over a patch critic's patches (``per_image_score``). Every one
penalises each image's own gradient, so a BatchNorm critic is refused.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganbench.api import PENALTY_REDUCTIONS, CriticInputs, Regularizer, gradient_norms, hookimpl


def _weight(name: str, value: object) -> float:
    finite = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not finite or value < 0:  # type: ignore[operator]
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)  # type: ignore[arg-type]


class GradientPenalty(Regularizer):
    """WGAN-GP: ``weight`` · E[(‖∇D(x̂)‖ − 1)²] at x̂ = ε·real + (1 − ε)·fake."""

    needs = frozenset({"interpolates", "per_image"})

    def __init__(self, weight: float = 10.0, penalty_reduction: str = "mean") -> None:
        if penalty_reduction not in PENALTY_REDUCTIONS:
            raise ValueError(f"unknown penalty_reduction '{penalty_reduction}'; "
                             f"choose one of {', '.join(PENALTY_REDUCTIONS)}")
        self.weight = _weight("weight", weight)
        self.penalty_reduction = penalty_reduction
        on = "" if penalty_reduction == "mean" else " (on the patch-score sum)"
        self.description = f"{self.weight:g}·GP{on}"

    def penalty(self, critic: nn.Module, inputs: CriticInputs) -> torch.Tensor:
        assert inputs.interpolates is not None
        norms = gradient_norms(critic, inputs.interpolates, self.penalty_reduction)
        return self.weight * ((norms - 1.0) ** 2).mean()


class R1(Regularizer):
    """``gamma``/2 · E_real[‖∇D(x)‖²] (Mescheder et al. 2018)."""

    needs = frozenset({"real", "per_image"})
    label = "R1"

    def __init__(self, gamma: float = 10.0) -> None:
        self.gamma = _weight("gamma", gamma)
        self.description = f"{self.label} (γ={self.gamma:g})"

    def _at(self, inputs: CriticInputs) -> torch.Tensor:
        assert inputs.real is not None
        return inputs.real

    def penalty(self, critic: nn.Module, inputs: CriticInputs) -> torch.Tensor:
        return self.gamma / 2 * gradient_norms(critic, self._at(inputs)).pow(2).mean()


class R2(R1):
    """``gamma``/2 · E_fake[‖∇D(x)‖²] (Mescheder et al. 2018)."""

    needs = frozenset({"fake", "per_image"})
    label = "R2"

    def _at(self, inputs: CriticInputs) -> torch.Tensor:
        assert inputs.fake is not None
        return inputs.fake


class ZeroCentredGP(Regularizer):
    """``weight`` · E[‖∇D(x̂)‖²] at interpolates (Thanh-Tung et al. 2019, 0-GP)."""

    needs = frozenset({"interpolates", "per_image"})

    def __init__(self, weight: float = 10.0) -> None:
        self.weight = _weight("weight", weight)
        self.description = f"{self.weight:g}·0-GP"

    def penalty(self, critic: nn.Module, inputs: CriticInputs) -> torch.Tensor:
        assert inputs.interpolates is not None
        return self.weight * gradient_norms(critic, inputs.interpolates).pow(2).mean()


@hookimpl
def register_regularizers(register):
    register("gp", GradientPenalty, description="WGAN-GP: weight·E[(‖∇D(x̂)‖−1)²] at interpolates (weight=10)")
    register("r1", R1, description="R1: γ/2·E_real‖∇D‖² (gamma=10)")
    register("r2", R2, description="R2: γ/2·E_fake‖∇D‖² (gamma=10)")
    register("zero-gp", ZeroCentredGP, description="zero-centred GP: weight·E‖∇D(x̂)‖² at interpolates (weight=10)")
