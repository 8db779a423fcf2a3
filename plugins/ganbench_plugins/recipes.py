"""The study's three recipes and their L1-only baselines (see docs/recipes.md for the sources of each value)."""

from __future__ import annotations

from ganbench.api import OptimizerSpec, Recipe, hookimpl


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


def _l1_baseline(optimizer: OptimizerSpec, recipe: str) -> Recipe:
    """The same UNet and L1 term with no critic, trained with ``recipe``'s generator optimiser: beside that
    recipe it shows what the critic adds (the only difference between the two)."""
    return Recipe(
        loss="none",
        generator_optimizer=optimizer,
        critic_optimizer=optimizer,  # unused: no critic steps
        n_critic=1,
        description=f"Regression baseline for {recipe}: the same UNet, L1 term alone, no critic, "
                    f"{optimizer.name} {optimizer.lr:g}",
    )


def l1() -> Recipe:
    return _l1_baseline(dcgan().generator_optimizer, "dcgan")


def l1_wgan() -> Recipe:
    return _l1_baseline(wgan().generator_optimizer, "wgan")


def l1_wgan_gp() -> Recipe:
    return _l1_baseline(wgan_gp().generator_optimizer, "wgan-gp")


@hookimpl
def register_models(register):
    register("dcgan", dcgan)
    register("wgan", wgan)
    register("wgan-gp", wgan_gp)
    register("l1", l1)
    register("l1-wgan", l1_wgan)
    register("l1-wgan-gp", l1_wgan_gp)
