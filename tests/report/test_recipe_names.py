"""The report names whole recipes (two recipes differing only in generator, critic options or the generator's
optimiser read apart), the critic plot is titled per loss, and a recipe naming a missing part names the model."""

import pytest
from click.testing import CliRunner

from ganbench.cli import cli
from ganbench.core.config import resolve_recipe
from ganbench.core.errors import ConfigError
from ganbench.report.comparison import recipe_text
from ganbench.report.write import critic_plot_title


def test_the_recipe_text_names_every_part_and_both_learning_rates(registry):
    sngan = resolve_recipe(registry, "sngan-hinge").to_dict()
    text = recipe_text(sngan)
    assert text == ("unet; patchgan(norm=none, spectral_norm=True); hinge; G adam 0.0002 (0, 0.9) / "
                    "D adam 0.0002 (0, 0.9); n_critic 5")
    ttur = recipe_text(resolve_recipe(registry, "sngan-ttur").to_dict())
    assert ttur == ("unet; patchgan(norm=none, spectral_norm=True); hinge; G adam 0.0001 (0, 0.9) / "
                    "D adam 0.0004 (0, 0.9); n_critic 1")
    gp = recipe_text(resolve_recipe(registry, "wgan-gp").to_dict())
    assert "wasserstein + gp(weight=10.0)" in gp and "n_critic 5" in gp
    # recipes that the old column (loss, critic optimiser, n_critic) showed alike now differ
    other_generator = resolve_recipe(registry, "sngan-hinge", sets={"generator.depth": 4}).to_dict()
    other_g_lr = resolve_recipe(registry, "sngan-hinge", sets={"generator_optimizer.lr": 1e-4}).to_dict()
    other_critic = resolve_recipe(registry, "sngan-hinge", sets={"critic.spectral_norm": False}).to_dict()
    texts = {recipe_text(r) for r in (sngan, other_generator, other_g_lr, other_critic)}
    assert len(texts) == 4
    baseline = recipe_text(resolve_recipe(registry, "l1").to_dict(), uses_critic=False)
    assert baseline == "unet; no critic; loss none; G adam 0.0002 (0.5, 0.999)"


def test_the_critic_plot_is_titled_by_what_it_shows_per_loss():
    assert critic_plot_title({"critic loss": {"hinge", "bce"}}) == "critic: critic loss (bce, hinge)"
    both = critic_plot_title({"Wasserstein estimate": {"wasserstein"}, "critic loss": {"hinge"}})
    assert both == "critic: Wasserstein estimate (wasserstein); critic loss (hinge)"
    assert "BCE" not in critic_plot_title({"critic loss": {"hinge"}})


def test_a_recipe_naming_a_missing_critic_names_the_model(registry, tmp_path):
    with pytest.raises(ConfigError, match=r"^model 'dcgan': unknown critic 'patchgun'. Did you mean 'patchgan'\?"):
        resolve_recipe(registry, "dcgan", sets={"critic": "patchgun"})
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--set", "critic=patchgun", "--budget", "smoke",
                                   "--results", str(tmp_path)])
    assert out.exit_code == 2 and out.output.startswith("error: model 'dcgan': unknown critic 'patchgun'")
