"""The study's three recipes, their L1-only baselines, and the published settings of the common losses:
``sngan-hinge``, ``sngan-ttur``, ``lsgan``, ``ragan``, ``stylegan-r1`` (see docs/recipes.md for the source of
each value)."""

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
        loss="wasserstein",
        regularizers=[{"name": "gp", "weight": 10.0}],
        generator_optimizer=OptimizerSpec("adam", 1e-4, {"betas": (0.0, 0.9)}),
        critic_optimizer=OptimizerSpec("adam", 1e-4, {"betas": (0.0, 0.9)}),
        n_critic=5,
        description="WGAN-GP: Wasserstein + 10·GP, PatchGAN+LayerNorm, Adam 1e-4 (0, 0.9), 5 critic steps",
    )


def sngan_hinge() -> Recipe:
    """SNGAN (Miyato et al. 2018): spectral norm on every critic layer and no other norm, the hinge loss, and the
    optimiser of its ResNet experiments and reference code (pfnet-research/sngan_projection, ``configs/``:
    Adam 2e-4, betas (0, 0.9), n_dis = 5 critic steps per generator step, for both networks)."""
    return Recipe(
        critic_options={"norm": "none", "spectral_norm": True},
        loss="hinge",
        generator_optimizer=OptimizerSpec("adam", 2e-4, {"betas": (0.0, 0.9)}),
        critic_optimizer=OptimizerSpec("adam", 2e-4, {"betas": (0.0, 0.9)}),
        n_critic=5,
        description="SNGAN hinge: spectral-norm PatchGAN, hinge, Adam 2e-4 (0, 0.9), 5 critic steps",
    )


def sngan_ttur() -> Recipe:
    """SNGAN's critic and loss (spectral norm, hinge) with the two-time-scale update rule instead of n_dis = 5:
    the setting SAGAN trained them with (Zhang et al. 2019, after Heusel et al. 2017's TTUR: Adam (0, 0.9),
    critic 4e-4, generator 1e-4, one critic step per generator step)."""
    return Recipe(
        critic_options={"norm": "none", "spectral_norm": True},
        loss="hinge",
        generator_optimizer=OptimizerSpec("adam", 1e-4, {"betas": (0.0, 0.9)}),
        critic_optimizer=OptimizerSpec("adam", 4e-4, {"betas": (0.0, 0.9)}),
        n_critic=1,
        description="SNGAN hinge with TTUR: spectral-norm PatchGAN, Adam G 1e-4 / D 4e-4 (0, 0.9), 1 critic step",
    )


def lsgan() -> Recipe:
    """LSGAN (Mao et al. 2017): least squares with the 0-1 coding, the DCGAN networks and Adam 2e-4 (0.5)."""
    return Recipe(
        critic_options={"norm": "batch"},
        loss="least-squares",
        generator_optimizer=OptimizerSpec("adam", 2e-4, {"betas": (0.5, 0.999)}),
        critic_optimizer=OptimizerSpec("adam", 2e-4, {"betas": (0.5, 0.999)}),
        n_critic=1,
        description="LSGAN: least squares (a=0, b=c=1), PatchGAN+BatchNorm, Adam 2e-4 (0.5, 0.999), 1 critic step",
    )


def ragan() -> Recipe:
    """RaGAN (Jolicoeur-Martineau 2018): relativistic average BCE on the DCGAN setting the paper uses (Adam
    2e-4 (0.5, 0.999), one critic step)."""
    return Recipe(
        critic_options={"norm": "batch"},
        loss="ragan",
        generator_optimizer=OptimizerSpec("adam", 2e-4, {"betas": (0.5, 0.999)}),
        critic_optimizer=OptimizerSpec("adam", 2e-4, {"betas": (0.5, 0.999)}),
        n_critic=1,
        description="RaGAN: relativistic average BCE, PatchGAN+BatchNorm, Adam 2e-4 (0.5, 0.999), 1 critic step",
    )


#: StyleGAN2's lazy R1: every 16th critic step (an extra critic step), and Adam's lr and betas scaled by 16/17
STYLEGAN_R1_EVERY = 16


def stylegan_r1() -> Recipe:
    """StyleGAN2's discriminator objective (Karras et al. 2020, config F; NVlabs/stylegan2-ada-pytorch's
    ``training_loop.py`` and ``loss.py``): non-saturating logistic loss + R1 (γ = 10, Mescheder et al. 2018),
    lazily: on every 16th critic step an extra Adam step of the critic on 16 · γ/2 · R1 (the reference's 'Dreg'
    phase), so the critic's lr and betas are scaled by 16/17 (its ``mb_ratio``); Adam lr 0.002, betas
    (0, 0.99); the generator's unscaled (ganbench has no path-length regularizer, the reason the reference
    scales the generator's by 4/5); no critic norm."""
    ratio = STYLEGAN_R1_EVERY / (STYLEGAN_R1_EVERY + 1)
    return Recipe(
        critic_options={"norm": "none"},
        loss="bce",
        regularizers=[{"name": "r1", "gamma": 10.0, "every": STYLEGAN_R1_EVERY}],
        generator_optimizer=OptimizerSpec("adam", 2e-3, {"betas": (0.0, 0.99)}),
        critic_optimizer=OptimizerSpec("adam", 2e-3 * ratio, {"betas": (0.0, 0.99**ratio)}),
        n_critic=1,
        description="StyleGAN2-style: non-saturating BCE + R1 (γ 10, lazy every 16), PatchGAN no norm, "
                    "Adam 2e-3 (0, 0.99), 1 critic step",
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
    register("sngan-hinge", sngan_hinge)
    register("sngan-ttur", sngan_ttur)
    register("lsgan", lsgan)
    register("ragan", ragan)
    register("stylegan-r1", stylegan_r1)
    register("l1", l1)
    register("l1-wgan", l1_wgan)
    register("l1-wgan-gp", l1_wgan_gp)
