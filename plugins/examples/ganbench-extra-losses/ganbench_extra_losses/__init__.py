"""Four losses people ask for, and recipes that use them (ganbench has its own ``hinge``, ``least-squares``,
``ragan`` and the ``r1`` regularizer now: this package is the tutorial, its names prefixed ``ex-``).

- ``ex-hinge``: the hinge loss of SAGAN/BigGAN (Lim & Ye 2017). Critic: E[relu(1 - D(real))] +
  E[relu(1 + D(fake))]; generator: -E[D(fake)].
- ``ex-least-squares``: LSGAN (Mao et al. 2017) with targets a=0 (fake), b=1 (real), c=1:
  critic: ½E[(D(real) - 1)²] + ½E[D(fake)²]; generator: ½E[(D(fake) - 1)²].
- ``ex-ragan``: the relativistic average GAN with BCE (RaSGAN, Jolicoeur-Martineau 2018), with C = the
  critic's logits and means over the batch (all patches): critic:
  ½[BCE(C(real) - mean C(fake), 1) + BCE(C(fake) - mean C(real), 0)]; generator: the same with the
  targets swapped, ½[BCE(C(fake) - mean C(real), 1) + BCE(C(real) - mean C(fake), 0)] (the ½ as in the
  paper's code). The generator loss needs the real scores, so it declares them in ``generator_needs``.
- ``ex-r1``: the non-saturating loss (BCE) plus the R1 penalty of Mescheder et al. 2018 on the critic,
  γ/2 · mean over real images of ||∇ₓ D(x)||², where D(x) is the image's score (the mean over its patches).
- models ``ex-hinge-gan``, ``ex-r1-gan``: the WGAN-GP recipe's critic (LayerNorm, per-sample, as a gradient
  penalty needs) and Adam (1e-4, betas 0/0.9), one critic step per generator step, with the hinge loss
  and with R1 (γ = 10); ``ex-ragan``: the DCGAN recipe with the ``ex-ragan`` loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganbench.api import AdversarialLoss, OptimizerSpec, Recipe, hookimpl


class HingeLoss(AdversarialLoss):
    description = "hinge"

    def critic_loss(self, real_scores, fake_scores):
        return torch.relu(1.0 - real_scores).mean() + torch.relu(1.0 + fake_scores).mean()

    def generator_loss(self, fake_scores):
        return -fake_scores.mean()


class LeastSquaresLoss(AdversarialLoss):
    description = "least squares (LSGAN)"

    def __init__(self, real_target: float = 1.0, fake_target: float = 0.0) -> None:
        self.real_target, self.fake_target = float(real_target), float(fake_target)

    def critic_loss(self, real_scores, fake_scores):
        return 0.5 * ((real_scores - self.real_target) ** 2).mean() + 0.5 * (
            (fake_scores - self.fake_target) ** 2).mean()

    def generator_loss(self, fake_scores):
        return 0.5 * ((fake_scores - self.real_target) ** 2).mean()


class RelativisticAverageLoss(AdversarialLoss):
    description = "relativistic average BCE (RaGAN)"
    generator_needs = frozenset({"real_scores"})

    def critic_loss(self, real_scores, fake_scores):
        return 0.5 * (F.binary_cross_entropy_with_logits(real_scores - fake_scores.mean(), torch.ones_like(real_scores))
                      + F.binary_cross_entropy_with_logits(fake_scores - real_scores.mean(),
                                                           torch.zeros_like(fake_scores)))

    def generator_loss(self, fake_scores, real_scores):
        return 0.5 * (F.binary_cross_entropy_with_logits(fake_scores - real_scores.mean(), torch.ones_like(fake_scores))
                      + F.binary_cross_entropy_with_logits(real_scores - fake_scores.mean(),
                                                           torch.zeros_like(real_scores)))


class R1Loss(AdversarialLoss):
    """Non-saturating BCE + gamma/2 * E_real ||grad D(x)||^2."""

    def __init__(self, gamma: float = 10.0) -> None:
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        self.gamma = float(gamma)
        self.description = f"non-saturating BCE + R1 (gamma={self.gamma:g})"

    def critic_loss(self, real_scores, fake_scores):
        return (F.binary_cross_entropy_with_logits(real_scores, torch.ones_like(real_scores))
                + F.binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores)))

    def generator_loss(self, fake_scores):
        return F.binary_cross_entropy_with_logits(fake_scores, torch.ones_like(fake_scores))

    def critic_regularizer(self, critic, real, fake):
        x = real.detach().requires_grad_(True)
        per_image = critic(x).flatten(1).mean(1)  # one score per image: the mean over its patches
        (grad,) = torch.autograd.grad(per_image.sum(), x, create_graph=True)
        return self.gamma / 2 * grad.float().flatten(1).pow(2).sum(1).mean()


def _adam(lr, betas):
    return OptimizerSpec("adam", lr, {"betas": betas})


def hinge_gan() -> Recipe:
    return Recipe(
        critic_options={"norm": "layer"},
        loss="ex-hinge",
        generator_optimizer=_adam(1e-4, (0.0, 0.9)),
        critic_optimizer=_adam(1e-4, (0.0, 0.9)),
        n_critic=1,
        description="hinge loss, PatchGAN+LayerNorm, Adam 1e-4 (0, 0.9), 1 critic step",
    )


def r1_gan() -> Recipe:
    return Recipe(
        critic_options={"norm": "layer"},
        loss="ex-r1",
        loss_options={"gamma": 10.0},
        generator_optimizer=_adam(1e-4, (0.0, 0.9)),
        critic_optimizer=_adam(1e-4, (0.0, 0.9)),
        n_critic=1,
        description="BCE + R1 (gamma 10), PatchGAN+LayerNorm, Adam 1e-4 (0, 0.9), 1 critic step",
    )


def ragan() -> Recipe:
    return Recipe(
        critic_options={"norm": "batch"},
        loss="ex-ragan",
        generator_optimizer=_adam(2e-4, (0.5, 0.999)),
        critic_optimizer=_adam(2e-4, (0.5, 0.999)),
        n_critic=1,
        description="RaGAN (relativistic average BCE), PatchGAN+BatchNorm, Adam 2e-4 (0.5, 0.999), 1 critic step",
    )


@hookimpl
def register_losses(register):
    register("ex-hinge", HingeLoss, description=HingeLoss.description)
    register("ex-least-squares", LeastSquaresLoss, description=LeastSquaresLoss.description)
    register("ex-ragan", RelativisticAverageLoss, description=RelativisticAverageLoss.description)
    register("ex-r1", R1Loss, description="non-saturating BCE + R1 penalty (gamma=10)")


@hookimpl
def register_models(register):
    register("ex-hinge-gan", hinge_gan, description="hinge loss, LayerNorm critic, Adam 1e-4 (0, 0.9)")
    register("ex-r1-gan", r1_gan, description="BCE + R1 (gamma 10), LayerNorm critic, Adam 1e-4 (0, 0.9)")
    register("ex-ragan", ragan, description="RaGAN on the DCGAN recipe")
