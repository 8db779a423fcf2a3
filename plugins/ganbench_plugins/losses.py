"""The built-in adversarial objectives: ``bce`` (DCGAN's non-saturating BCE), ``hinge`` (SNGAN/SAGAN),
``least-squares`` (LSGAN), ``ragan`` and ``rahinge`` (relativistic average, BCE and hinge), ``wasserstein``
(no constraint), ``wasserstein-clip`` (WGAN), ``wasserstein-gp`` (the Wasserstein loss with WGAN-GP's penalty
inside; the ``wgan-gp`` recipe now takes the penalty as the ``gp`` regularizer) and ``none`` (no adversary:
the L1 baselines). ``bce`` and ``hinge`` take pix2pixHD's feature matching (``feature_matching`` = its
weight). Clipping lives here, not in the trainer: the trainer only calls ``critic_regularizer`` and
``after_critic_step``; penalties any loss can take are regularizers (``regularizers.py``)."""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.api import (
    PENALTY_REDUCTIONS,
    AdversarialLoss,
    critic_input_gradient,
    fp16_autocast_on,
    global_rows,
    hookimpl,
    per_image_score,
    rank_slice,
)


def _finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def feature_matching(fake_features: list[torch.Tensor], real_features: list[torch.Tensor]) -> torch.Tensor:
    """pix2pixHD's feature-matching loss for one critic (Wang et al. 2018, ``loss_G_GAN_Feat``):
    4/K · Σ_k mean|F_k(fake) − F_k(real)| over the critic's K intermediate features (pix2pixHD's K = n_layers_D
    + 1, weight 4/(n_layers_D + 1)), real features detached. The loss' ``feature_matching`` option is
    pix2pixHD's ``lambda_feat`` (10)."""
    if not fake_features:
        raise ValueError("feature matching needs at least one critic feature")
    weight = 4.0 / len(fake_features)
    total = fake_features[0].new_zeros(())
    for fake, real in zip(fake_features, real_features, strict=True):
        total = total + weight * F.l1_loss(fake, real.detach())
    return total


class FeatureMatchingOption:
    """A loss' ``feature_matching`` option: weight > 0 adds pix2pixHD's feature matching to the generator loss
    (and asks the trainer for the critic's features); 0 = off."""

    feature_matching: float = 0.0
    description: str = ""
    generator_needs: frozenset[str] = frozenset()

    def _set_feature_matching(self, weight: float) -> None:
        if not _finite_number(weight) or weight < 0:
            raise ValueError(f"feature_matching must be a finite number >= 0 (its weight; 0 = off), got {weight!r}")
        self.feature_matching = float(weight)
        if self.feature_matching > 0:
            self.generator_needs = frozenset({"features"})
            self.description += f" + {self.feature_matching:g}·feature matching"

    def _with_features(self, adversarial: torch.Tensor, needed: dict) -> torch.Tensor:
        if self.feature_matching <= 0:
            return adversarial
        return adversarial + self.feature_matching * feature_matching(needed["fake_features"],
                                                                      needed["real_features"])


class BCELoss(FeatureMatchingOption, AdversarialLoss):
    """DCGAN / pix2pix: binary cross-entropy on logits (the sigmoid lives inside BCE-with-logits); the generator's
    loss is the non-saturating one, BCE(D(fake), 1) (Goodfellow et al. 2014)."""

    description = "BCE with logits (non-saturating generator loss)"

    def __init__(self, feature_matching: float = 0.0) -> None:
        self.description = type(self).description
        self._set_feature_matching(feature_matching)

    def critic_loss(self, real_scores, fake_scores):
        return F.binary_cross_entropy_with_logits(
            real_scores, torch.ones_like(real_scores)
        ) + F.binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores))

    def generator_loss(self, fake_scores, **needed):
        return self._with_features(F.binary_cross_entropy_with_logits(fake_scores, torch.ones_like(fake_scores)),
                                   needed)


class HingeLoss(FeatureMatchingOption, AdversarialLoss):
    """The hinge loss (Lim & Ye 2017; SNGAN, Miyato et al. 2018; SAGAN, BigGAN): critic
    E[relu(1 − D(real))] + E[relu(1 + D(fake))], generator −E[D(fake)], means over images and patches."""

    description = "hinge"

    def __init__(self, feature_matching: float = 0.0) -> None:
        self.description = type(self).description
        self._set_feature_matching(feature_matching)

    def critic_loss(self, real_scores, fake_scores):
        return torch.relu(1.0 - real_scores).mean() + torch.relu(1.0 + fake_scores).mean()

    def generator_loss(self, fake_scores, **needed):
        return self._with_features(-fake_scores.mean(), needed)


class LeastSquaresLoss(AdversarialLoss):
    """LSGAN (Mao et al. 2017, eq. 2): critic ½E[(D(real) − b)²] + ½E[(D(fake) − a)²], generator
    ½E[(D(fake) − c)²]; the paper's 0-1 coding a = 0, b = c = 1 by default (``fake_target`` = a,
    ``real_target`` = b = c)."""

    description = "least squares (LSGAN)"

    def __init__(self, real_target: float = 1.0, fake_target: float = 0.0) -> None:
        for name, value in (("real_target", real_target), ("fake_target", fake_target)):
            if not _finite_number(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if real_target == fake_target:
            raise ValueError("real_target and fake_target must differ")
        self.real_target, self.fake_target = float(real_target), float(fake_target)

    def critic_loss(self, real_scores, fake_scores):
        return 0.5 * ((real_scores - self.real_target) ** 2).mean() + 0.5 * (
            (fake_scores - self.fake_target) ** 2).mean()

    def generator_loss(self, fake_scores):
        return 0.5 * ((fake_scores - self.real_target) ** 2).mean()


class RelativisticAverageLoss(AdversarialLoss):
    """The relativistic average GAN (Jolicoeur-Martineau 2018, RaSGAN / RaHingeGAN as in the paper's code),
    with C = the critic's raw scores and means over the global batch (all patches):

    - ``ragan``: critic ½[BCE(C(real) − mean C(fake), 1) + BCE(C(fake) − mean C(real), 0)]; generator the same
      with the targets swapped;
    - ``rahinge``: critic ½[E relu(1 − (C(real) − mean C(fake))) + E relu(1 + (C(fake) − mean C(real)))];
      generator ½[E relu(1 + (C(real) − mean C(fake))) + E relu(1 − (C(fake) − mean C(real)))].
    """

    generator_needs = frozenset({"real_scores"})

    def __init__(self, kind: str = "bce") -> None:
        if kind not in ("bce", "hinge"):
            raise ValueError(f"unknown relativistic kind '{kind}'; choose bce or hinge")
        self.kind = kind
        self.description = f"relativistic average {'BCE (RaSGAN)' if kind == 'bce' else 'hinge (RaHingeGAN)'}"

    def _pair(self, real_scores, fake_scores, real_label: bool) -> torch.Tensor:
        real_rel = real_scores - fake_scores.mean()
        fake_rel = fake_scores - real_scores.mean()
        if self.kind == "bce":
            bce = F.binary_cross_entropy_with_logits
            return 0.5 * (bce(real_rel, torch.full_like(real_rel, float(real_label)))
                          + bce(fake_rel, torch.full_like(fake_rel, float(not real_label))))
        sign = 1.0 if real_label else -1.0
        return 0.5 * (torch.relu(1.0 - sign * real_rel).mean() + torch.relu(1.0 + sign * fake_rel).mean())

    def critic_loss(self, real_scores, fake_scores):
        return self._pair(real_scores, fake_scores, True)

    def generator_loss(self, fake_scores, real_scores):
        return self._pair(real_scores, fake_scores, False)


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
    with torch.autocast(device_type, enabled=False) if fp16_autocast_on(device_type) else contextlib.nullcontext():
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
    register("bce", BCELoss, description=BCELoss.description + "; feature_matching=weight (pix2pixHD, 0 = off)")
    register("hinge", HingeLoss, description="hinge (SNGAN/SAGAN); feature_matching=weight (pix2pixHD, 0 = off)")
    register("least-squares", LeastSquaresLoss, description="least squares, LSGAN (real_target=1, fake_target=0)")
    register("ragan", RelativisticAverageLoss, description="relativistic average BCE (RaSGAN)")
    register("rahinge", lambda: RelativisticAverageLoss("hinge"), description="relativistic average hinge")
    register("wasserstein", WassersteinLoss, description="Wasserstein, no constraint (needs one of your own)")
    register("wasserstein-clip", WeightClippingLoss, description="Wasserstein + weight clipping (clip=0.01)")
    register("wasserstein-gp", GradientPenaltyLoss,
             description="Wasserstein + gradient penalty, per-image score (weight=10, penalty_reduction=mean|sum)")
    register("none", NoAdversary, description="no adversary: L1 regression only (the trainer skips the critic)")
