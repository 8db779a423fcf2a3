"""The built-in adversarial objectives: ``bce`` (DCGAN), ``wasserstein`` (no constraint), ``wasserstein-clip``
(WGAN), ``wasserstein-gp`` (WGAN-GP) and ``none`` (no adversary: the L1 baselines). Clipping and the gradient
penalty live here, not in the trainer: the trainer only calls ``critic_regularizer`` and
``after_critic_step``."""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.api import AdversarialLoss, global_rows, hookimpl, rank_slice


def _finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class BCELoss(AdversarialLoss):
    """DCGAN / pix2pix: binary cross-entropy on logits (the sigmoid lives inside BCE-with-logits)."""

    description = "BCE with logits (non-saturating generator loss)"

    def critic_loss(self, real_scores, fake_scores):
        return F.binary_cross_entropy_with_logits(
            real_scores, torch.ones_like(real_scores)
        ) + F.binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores))

    def generator_loss(self, fake_scores):
        return F.binary_cross_entropy_with_logits(fake_scores, torch.ones_like(fake_scores))


def per_image_score(scores: torch.Tensor) -> torch.Tensor:
    """One critic score per image: the mean over a patch critic's patch scores (N, 1, h, w) -> (N,); a
    critic with one score per image already has it. The Wasserstein loss and the gradient penalty both use
    this score, so the penalty constrains the critic the loss trains, with the same λ at every image size."""
    return scores.flatten(1).mean(1) if scores.dim() > 1 else scores


class WassersteinLoss(AdversarialLoss):
    """The critic maximises E[D(real)] - E[D(fake)]; the generator maximises E[D(fake)], where D(x) is the
    per-image score (:func:`per_image_score`: the mean over patches of a patch critic)."""

    description = "Wasserstein"

    def critic_loss(self, real_scores, fake_scores):
        return per_image_score(fake_scores).mean() - per_image_score(real_scores).mean()

    def generator_loss(self, fake_scores):
        return -per_image_score(fake_scores).mean()

    def distance_estimate(self, real_scores, fake_scores):
        return per_image_score(real_scores).mean() - per_image_score(fake_scores).mean()


class WeightClippingLoss(WassersteinLoss):
    """WGAN (Arjovsky et al. 2017): every critic parameter is clipped to [-clip, clip] after each step."""

    def __init__(self, clip: float = 0.01) -> None:
        if not _finite_number(clip) or clip <= 0:
            raise ValueError(f"clip must be a finite number > 0, got {clip!r}")
        self.clip = float(clip)
        self.description = f"Wasserstein, weights clipped to ±{self.clip:g}"

    def after_critic_step(self, critic: nn.Module) -> None:
        clip_parameters(critic.parameters(), self.clip)


@torch.no_grad()
def clip_parameters(params, clip: float, foreach: bool | None = None) -> None:
    """Clamp every parameter to [-clip, clip] in place. ``foreach`` (default: when every parameter is on an
    accelerator, where one fused launch beats one per tensor) uses torch's multi-tensor kernels; either way
    the result is the same, and tests check both on the CPU."""
    params = list(params)
    if foreach is None:
        foreach = bool(params) and all(p.device.type != "cpu" for p in params)
    if foreach:
        torch._foreach_clamp_min_(params, -clip)
        torch._foreach_clamp_max_(params, clip)
    else:
        for p in params:
            p.clamp_(-clip, clip)


#: How the gradient penalty reduces a patch critic's scores before differentiating them.
PENALTY_REDUCTIONS = ("mean", "sum")


def critic_input_gradient(critic: nn.Module, x: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """∂D(x_i)/∂x_i for every image i of ``x`` (which must require grad), kept differentiable
    (``create_graph=True``) so a penalty on it trains the critic.

    ``reduction="mean"``: D is :func:`per_image_score` (the mean over patches), the score the Wasserstein
    loss uses. ``"sum"``: D is the patch scores' sum, as pix2pix's ``cal_gradient_penalty`` -- P times the
    per-image score for P patches, so a penalty on it asks the loss' critic for gradient norm 1/P.
    Images are independent (a per-sample critic), so one gradient of the batch total gives every image's.
    The scores are cast to fp32 before the reduction."""
    if reduction not in PENALTY_REDUCTIONS:
        raise ValueError(f"unknown penalty_reduction '{reduction}'; choose one of {', '.join(PENALTY_REDUCTIONS)}")
    scores = critic(x)
    scores = scores.to(torch.promote_types(scores.dtype, torch.float32))
    total = per_image_score(scores).sum() if reduction == "mean" else scores.sum()
    (grad,) = torch.autograd.grad(total, x, create_graph=True)
    return grad


def _fp16_autocast(device_type: str) -> bool:
    if not torch.amp.is_autocast_available(device_type):  # e.g. the meta device (shape checks, FLOP counts)
        return False
    return torch.is_autocast_enabled(device_type) and torch.get_autocast_dtype(device_type) == torch.float16


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor,
                     reduction: str = "mean") -> torch.Tensor:
    """Gulrajani et al. 2017: mean over the batch of (||∇_x D(x)||_2 - 1)^2 at x = eps*real + (1-eps)*fake,
    D the per-image critic score (see :func:`critic_input_gradient` for ``reduction``).

    Precision: the interpolate is fp32. Under bf16 autocast the critic's convolutions -- its forward, the
    input gradient and the double backward through it -- run in bf16 with fp32 accumulation (bf16 has fp32's
    range, so nothing underflows); the scores are cast to fp32, the input gradient arrives in fp32 and its
    norm, (norm - 1)^2 and the batch mean are fp32. Under fp16 autocast the whole penalty runs in fp32
    (autocast off): the GradScaler scales the critic loss, not this inner gradient, which could underflow
    in fp16. In fp32, everything is fp32.

    The input gradient is taken with ``autograd.grad(create_graph=True)`` and the penalty returned for an
    ordinary ``backward()`` (what DistributedDataParallel supports).
    """
    device_type = real.device.type
    with torch.autocast(device_type, enabled=False) if _fp16_autocast(device_type) else contextlib.nullcontext():
        dtype = torch.promote_types(real.dtype, torch.float32)  # fp32 at least (fp64 in the tests)
        x = (eps * real + (1.0 - eps) * fake).to(dtype).requires_grad_(True)
        grad = critic_input_gradient(critic, x, reduction)
        norms = grad.flatten(1).to(dtype).norm(2, dim=1)
        return ((norms - 1.0) ** 2).mean()


class GradientPenaltyLoss(WassersteinLoss):
    """WGAN-GP: Wasserstein loss plus ``weight`` x gradient penalty (λ = 10), both on the per-image critic
    score; ``penalty_reduction="sum"`` penalises the gradient of the patch scores' sum instead (pix2pix)."""

    per_sample_regularizer = True

    def __init__(self, weight: float = 10.0, penalty_reduction: str = "mean") -> None:
        if penalty_reduction not in PENALTY_REDUCTIONS:
            raise ValueError(f"unknown penalty_reduction '{penalty_reduction}'; "
                             f"choose one of {', '.join(PENALTY_REDUCTIONS)}")
        if not _finite_number(weight) or weight < 0:
            raise ValueError(f"weight must be a finite number >= 0, got {weight!r}")
        self.weight = float(weight)
        self.penalty_reduction = penalty_reduction
        on = "" if penalty_reduction == "mean" else " (penalty on the patch-score sum, pix2pix)"
        self.description = f"Wasserstein + {self.weight:g}·GP{on}"

    def critic_regularizer(self, critic, real, fake):
        n = real.shape[0]  # drawn for the global batch, so N data-parallel processes draw what one does
        eps = torch.rand(global_rows(n), 1, 1, 1, device=real.device,
                         dtype=torch.promote_types(real.dtype, torch.float32))[rank_slice(n)]
        return self.weight * gradient_penalty(critic, real, fake.detach(), eps, self.penalty_reduction)


class NoAdversary(AdversarialLoss):
    """No adversarial term: the generator learns from the L1 reconstruction term alone. The regression
    baseline that tells whether a critic adds anything; the trainer skips the critic entirely."""

    description = "none: L1 regression, no critic"
    uses_critic = False

    def critic_loss(self, real_scores, fake_scores):
        raise RuntimeError("the 'none' loss has no critic")

    def generator_loss(self, fake_scores):
        raise RuntimeError("the 'none' loss has no critic")


@hookimpl
def register_losses(register):
    register("bce", BCELoss, description=BCELoss.description)
    register("wasserstein", WassersteinLoss, description="Wasserstein, no constraint (needs one of your own)")
    register("wasserstein-clip", WeightClippingLoss, description="Wasserstein + weight clipping (clip=0.01)")
    register("wasserstein-gp", GradientPenaltyLoss,
             description="Wasserstein + gradient penalty, per-image score (weight=10, penalty_reduction=mean|sum)")
    register("none", NoAdversary, description="no adversary: L1 regression only (the trainer skips the critic)")
