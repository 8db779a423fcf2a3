"""The study's three recipes (see docs/recipes.md for the sources of each value)."""

from __future__ import annotations

from ganbench.api import OptimizerSpec, Recipe
from ganbench.hookspecs import hookimpl


def dcgan() -> Recipe:
    return Recipe(
        critic_options={"norm": "batch"},
        loss="bce",
        generator_optimizer=OptimizerSpec("adam", 2e-4, {"betas": (0.5, 0.999)}),
        critic_optimizer=OptimizerSpec("adam", 2e-4, {"betas": (0.5, 0.999)}),
        n_critic=1,
        description="DCGAN/pix2pix: BCE, PatchGAN+BatchNorm, Adam 2e-4 (0.5, 0.999), 1 critic step",
    )


def wgan() -> Recipe:
    return Recipe(
        critic_options={"norm": "batch"},
        loss="wasserstein-clip",
        loss_options={"clip": 0.01},
        generator_optimizer=OptimizerSpec("rmsprop", 5e-5),
        critic_optimizer=OptimizerSpec("rmsprop", 5e-5),
        n_critic=5,
        description="WGAN: Wasserstein, clip ±0.01, RMSProp 5e-5, 5 critic steps",
    )


def wgan_gp() -> Recipe:
    return Recipe(
        critic_options={"norm": "layer"},
        loss="wasserstein-gp",
        loss_options={"weight": 10.0},
        generator_optimizer=OptimizerSpec("adam", 1e-4, {"betas": (0.0, 0.9)}),
        critic_optimizer=OptimizerSpec("adam", 1e-4, {"betas": (0.0, 0.9)}),
        n_critic=5,
        description="WGAN-GP: Wasserstein + 10·GP, PatchGAN+LayerNorm, Adam 1e-4 (0, 0.9), 5 critic steps",
    )


def l1() -> Recipe:
    return Recipe(
        loss="none",
        generator_optimizer=OptimizerSpec("adam", 2e-4, {"betas": (0.5, 0.999)}),
        critic_optimizer=OptimizerSpec("adam", 2e-4, {"betas": (0.5, 0.999)}),  # unused: no critic steps
        n_critic=1,
        description="Regression baseline: the same UNet, L1 term alone, no critic (Adam 2e-4 (0.5, 0.999))",
    )


@hookimpl
def register_models(register):
    register("dcgan", dcgan)
    register("wgan", wgan)
    register("wgan-gp", wgan_gp)
    register("l1", l1)
