"""The three adversarial losses of the study. Clipping and the gradient penalty live here, not in the
trainer: the trainer only calls ``critic_regularizer`` and ``after_critic_step``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.api import AdversarialLoss
from ganbench.distributed import global_rows, rank_slice
from ganbench.hookspecs import hookimpl


class BCELoss(AdversarialLoss):
    """DCGAN / pix2pix: binary cross-entropy on logits (the sigmoid lives inside BCE-with-logits)."""

    description = "BCE with logits (non-saturating generator loss)"

    def critic_loss(self, real_scores, fake_scores):
        return F.binary_cross_entropy_with_logits(
            real_scores, torch.ones_like(real_scores)
        ) + F.binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores))

    def generator_loss(self, fake_scores):
        return F.binary_cross_entropy_with_logits(fake_scores, torch.ones_like(fake_scores))


class WassersteinLoss(AdversarialLoss):
    """The critic maximises E[D(real)] - E[D(fake)]; the generator maximises E[D(fake)]."""

    description = "Wasserstein"

    def critic_loss(self, real_scores, fake_scores):
        return fake_scores.mean() - real_scores.mean()

    def generator_loss(self, fake_scores):
        return -fake_scores.mean()

    def distance_estimate(self, real_scores, fake_scores):
        return real_scores.mean() - fake_scores.mean()


class WeightClippingLoss(WassersteinLoss):
    """WGAN (Arjovsky et al. 2017): every critic parameter is clipped to [-clip, clip] after each step."""

    def __init__(self, clip: float = 0.01) -> None:
        if clip <= 0:
            raise ValueError("clip must be > 0")
        self.clip = float(clip)
        self.description = f"Wasserstein, weights clipped to ±{self.clip:g}"

    @torch.no_grad()
    def after_critic_step(self, critic: nn.Module) -> None:
        params = [p for p in critic.parameters()]
        if params and all(p.device.type != "cpu" for p in params):
            torch._foreach_clamp_min_(params, -self.clip)
            torch._foreach_clamp_max_(params, self.clip)
        else:
            for p in params:
                p.clamp_(-self.clip, self.clip)


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Gulrajani et al. 2017: mean over the batch of (||∇_x D(x)||_2 - 1)^2 at x = eps*real + (1-eps)*fake.

    The input-gradient is taken with ``autograd.grad(create_graph=True)`` and the penalty returned for an
    ordinary ``backward()`` (what DistributedDataParallel supports). For a patch critic, D(x) is summed
    over patches, so the gradient is of the critic's total score.
    """
    x = (eps * real + (1.0 - eps) * fake).requires_grad_(True)
    scores = critic(x)
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    grad = grad.flatten(1).to(torch.promote_types(grad.dtype, torch.float32))  # norm in fp32 at least
    norms = grad.norm(2, dim=1)
    return ((norms - 1.0) ** 2).mean()


class GradientPenaltyLoss(WassersteinLoss):
    """WGAN-GP: Wasserstein loss plus ``weight`` x gradient penalty (λ = 10)."""

    def __init__(self, weight: float = 10.0) -> None:
        self.weight = float(weight)
        self.description = f"Wasserstein + {self.weight:g}·GP"

    def critic_regularizer(self, critic, real, fake):
        n = real.shape[0]  # drawn for the global batch, so N data-parallel processes draw what one does
        eps = torch.rand(global_rows(n), 1, 1, 1, device=real.device, dtype=real.dtype)[rank_slice(n)]
        return self.weight * gradient_penalty(critic, real, fake.detach(), eps)


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
    register("wasserstein-gp", GradientPenaltyLoss, description="Wasserstein + gradient penalty (weight=10)")
    register("none", NoAdversary, description="no adversary: L1 regression only (the trainer skips the critic)")
