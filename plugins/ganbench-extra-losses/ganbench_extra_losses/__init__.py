"""Two losses people ask for, and a recipe that uses one.

- ``hinge``: the hinge loss of SAGAN/BigGAN (Lim & Ye 2017). Critic: E[relu(1 - D(real))] +
  E[relu(1 + D(fake))]; generator: -E[D(fake)].
- ``least-squares``: LSGAN (Mao et al. 2017) with targets a=0 (fake), b=1 (real), c=1:
  critic: ½E[(D(real) - 1)²] + ½E[D(fake)²]; generator: ½E[(D(fake) - 1)²].
- model ``hinge-gan``: the WGAN-GP recipe's critic (LayerNorm) and Adam (1e-4, betas 0/0.9), with the
  hinge loss and one critic step per generator step.
"""

from __future__ import annotations

import torch

from ganbench.api import AdversarialLoss, OptimizerSpec, Recipe
from ganbench.hookspecs import hookimpl


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


def hinge_gan() -> Recipe:
    return Recipe(
        critic_options={"norm": "layer"},
        loss="hinge",
        generator_optimizer=OptimizerSpec("adam", 1e-4, {"betas": (0.0, 0.9)}),
        critic_optimizer=OptimizerSpec("adam", 1e-4, {"betas": (0.0, 0.9)}),
        n_critic=1,
        description="hinge loss, PatchGAN+LayerNorm, Adam 1e-4 (0, 0.9), 1 critic step",
    )


@hookimpl
def register_losses(register):
    register("hinge", HingeLoss, description=HingeLoss.description)
    register("least-squares", LeastSquaresLoss, description=LeastSquaresLoss.description)


@hookimpl
def register_models(register):
    register("hinge-gan", hinge_gan)
