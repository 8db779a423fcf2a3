"""Regularizers, the plugin kind: the built-in penalties against hand computations, composed with any loss
from a recipe or --set, lazy regularization, the BatchNorm refusal, and wgan-gp rebuilt on the kind with the
weights it had when the penalty lived inside its loss."""

import math

import pytest
import torch
from torch import nn

from ganbench.api import CriticInputs
from ganbench.core.config import parse_sets, resolve_recipe
from ganbench.core.errors import ConfigError
from ganbench.train.setup import build_trainer
from ganbench_plugins.losses import gradient_penalty
from ganbench_plugins.regularizers import R1, R2, GradientPenalty, ZeroCentredGP

W = [0.5, -2.0, 1.0]


def _linear_critic() -> nn.Module:
    """A 1x1-conv critic: every pixel scores w·x + b, the image's score is the mean over its h·w patches, so
    ∇ₓD = w/(h·w) at every pixel and ‖∇ₓD‖² = |w|²/(h·w) for every image, wherever it is evaluated."""
    critic = nn.Conv2d(3, 1, 1).double()
    with torch.no_grad():
        critic.weight.copy_(torch.tensor(W, dtype=torch.float64).view(1, 3, 1, 1))
    return critic


def test_r1_r2_and_zero_gp_match_a_hand_computation():
    h = w = 4
    squared = sum(v * v for v in W) / (h * w)  # ‖∇D‖² for every image
    x = torch.randn(5, 3, h, w, dtype=torch.float64)
    critic = _linear_critic()
    assert float(R1(gamma=3.0).penalty(critic, CriticInputs(real=x))) == pytest.approx(1.5 * squared, rel=1e-12)
    assert float(R2(gamma=3.0).penalty(critic, CriticInputs(fake=x))) == pytest.approx(1.5 * squared, rel=1e-12)
    zero = ZeroCentredGP(weight=7.0).penalty(critic, CriticInputs(interpolates=x))
    assert float(zero) == pytest.approx(7.0 * squared, rel=1e-12)
    gp = GradientPenalty(weight=2.0).penalty(critic, CriticInputs(interpolates=x))
    assert float(gp) == pytest.approx(2.0 * (math.sqrt(squared) - 1) ** 2, rel=1e-12)
    # the penalty trains the critic: its gradient reaches the weights
    (dw,) = torch.autograd.grad(R1(gamma=3.0).penalty(critic, CriticInputs(real=x)), critic.weight)
    assert torch.allclose(dw.flatten(), 1.5 * 2 * torch.tensor(W, dtype=torch.float64) / (h * w))


def test_the_gp_regularizer_is_the_wasserstein_gp_loss_penalty():
    critic = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 1, 3)).double()
    real, fake = torch.randn(3, 3, 8, 8, dtype=torch.float64), torch.randn(3, 3, 8, 8, dtype=torch.float64)
    eps = torch.rand(3, 1, 1, 1, dtype=torch.float64)
    x = eps * real + (1 - eps) * fake
    for reduction in ("mean", "sum"):
        got = GradientPenalty(weight=10.0, penalty_reduction=reduction).penalty(critic, CriticInputs(interpolates=x))
        assert torch.equal(got, 10.0 * gradient_penalty(critic, real, fake, eps, reduction))


@pytest.mark.parametrize("cls,option", [(R1, "gamma"), (R2, "gamma"), (ZeroCentredGP, "weight"),
                                        (GradientPenalty, "weight")])
@pytest.mark.parametrize("value", [-1.0, math.nan, math.inf, True, "10"])
def test_a_weight_that_is_not_a_finite_number_at_least_zero_is_refused(cls, option, value):
    with pytest.raises(ValueError, match=f"{option} must be a finite number >= 0"):
        cls(**{option: value})


def _weights(trainer) -> list[torch.Tensor]:
    return [t.detach().clone() for net in (trainer.nets.generator, trainer.nets.critic)
            for t in net.state_dict().values()]


#: |weights| summed over the generator and the critic after wgan-gp's smoke budget (4 steps, 32 px, batch 4,
#: seed 0, fp32, one thread), recorded with main's code at 24cfddb, where the penalty lived inside the
#: ``wasserstein-gp`` loss (2-core Xeon, torch 2.13.0+cpu; sha256 of the weights' bytes 0abd8a72abb17743).
MAIN_ABS_SUMS = {"generator": 4427.375992032577, "critic": 226.02288940312428}


def test_wgan_gp_on_the_regularizer_kind_gives_the_weights_it_had_with_the_penalty_in_its_loss(registry):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = {}
        for name, sets in (("regularizer", {}), ("loss", {"loss": "wasserstein-gp", "loss.weight": 10.0,
                                                           "regularizers": []})):
            tr = build_trainer(registry, "wgan-gp", "smoke", image_size=32, sets=sets)
            for _ in range(4):
                tr.train_step()
            tr.flush()
            runs[name] = tr
    finally:
        torch.set_num_threads(threads)
    rebuilt, before = runs["regularizer"], runs["loss"]
    assert rebuilt.cfg.recipe.loss == "wasserstein" and rebuilt.cfg.recipe.regularizers == [
        {"name": "gp", "weight": 10.0}]
    assert all(torch.equal(a, b) for a, b in zip(_weights(rebuilt), _weights(before), strict=True))
    assert [r["d_reg"] for r in rebuilt.history] == [r["d_reg"] for r in before.history]
    for net, expected in MAIN_ABS_SUMS.items():
        total = sum(float(v.double().abs().sum()) for v in getattr(rebuilt.nets, net).state_dict().values()
                    if v.is_floating_point())
        assert total == pytest.approx(expected, rel=1e-6), net


def test_any_loss_takes_a_regularizer_by_name_from_set(registry):
    sets = parse_sets(['regularizers=[{name="r1", gamma=5}]', "critic.norm=layer"])
    recipe = resolve_recipe(registry, "dcgan", sets=sets)
    assert recipe.loss == "bce" and recipe.regularizers == [{"name": "r1", "gamma": 5}]
    tr = build_trainer(registry, "dcgan", "smoke", sets=sets)
    assert tr.nets.loss.description == "BCE with logits (non-saturating generator loss) + R1 (γ=5)"
    tr.train_step()
    assert tr.pending_stats()["d_reg"] > 0


def test_a_regularizer_needing_per_image_gradients_refuses_a_batchnorm_critic_by_name(registry):
    sets = parse_sets(['regularizers=[{name="r1"}]'])
    with pytest.raises(ConfigError, match=r"model 'dcgan': regularizer 'r1' penalises each image's critic "
                                          r"gradient, but the critic has BatchNorm"):
        build_trainer(registry, "dcgan", "smoke", sets=sets)


@pytest.mark.parametrize("spec,message", [
    ('[{name="r3"}]', "unknown regularizer 'r3'"),
    ('[{gamma=1}]', "each regularizer must be a table with a name"),
    ('[{name="r1", every=0}]', "every must be a whole number >= 1"),
    ('[{name="r1", gamma=-1}]', "gamma must be a finite number >= 0"),
])
def test_a_bad_regularizer_is_one_line_naming_it(registry, spec, message):
    from ganbench.core.errors import GanbenchError

    with pytest.raises(GanbenchError, match=message):
        build_trainer(registry, "wgan-gp", "smoke", sets=parse_sets([f"regularizers={spec}"]))


def _adam_steps(trainer) -> int:
    return int(next(iter(trainer.nets.critic_optimizer.state.values()))["step"])


def test_lazy_regularization_is_an_optimiser_step_of_its_own_every_kth_critic_step_scaled_by_k(registry):
    """StyleGAN2's lazy regularization: on every k-th critic step (0, k, 2k, ...) the critic takes its ordinary
    step on the loss alone, then a second step of the same Adam on k x the penalty at the updated critic
    ('Dmain' then 'Dreg' in the reference code; hence its critic lr x k/(k+1))."""
    lazy_sets = {"regularizers": [{"name": "r1", "gamma": 1.0, "every": 2}], "n_critic": 1}
    lazy = build_trainer(registry, "wgan-gp", "smoke", sets=lazy_sets)
    plain = build_trainer(registry, "wgan-gp", "smoke", sets={"regularizers": [], "n_critic": 1})
    assert "R1 (γ=1) (lazy, every 2)" in lazy.nets.loss.description
    torch.manual_seed(3)
    L, ab = lazy.next_batch()
    fake_ab = torch.tanh(torch.randn_like(ab))
    stats = lazy.steps.critic_step(L, ab, fake_ab, index=0)  # due: the loss' step, then the penalty's
    plain.steps.critic_step(L, ab, fake_ab, index=0)  # the same networks, batch and loss: the first step alone
    assert _adam_steps(lazy) == 2 and _adam_steps(plain) == 1
    real = torch.cat([L, ab], 1)
    penalty = 2 * R1(gamma=1.0).penalty(plain.nets.critic, CriticInputs(real=real))  # at the updated critic
    assert float(stats["d_reg"]) == pytest.approx(float(penalty), rel=1e-5)
    plain.steps._step_critic(penalty)  # the second step by hand: lazy's critic, weight for weight
    for a, b in zip(lazy.nets.critic.state_dict().values(), plain.nets.critic.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    assert float(lazy.steps.critic_step(L, ab, fake_ab, index=1)["d_reg"]) == 0.0  # not due: one step, 0 logged
    assert _adam_steps(lazy) == 3
    assert float(lazy.steps.critic_step(L, ab, fake_ab, index=2)["d_reg"]) > 0 and _adam_steps(lazy) == 5
    # through the trainer, which counts the critic steps (the same steps in a resumed run)
    run = build_trainer(registry, "wgan-gp", "smoke", sets=lazy_sets)
    for want in (2, 3, 5):
        run.train_step()
        assert _adam_steps(run) == want


def test_a_regularizer_on_every_step_joins_the_critic_loss_in_one_step(registry):
    tr = build_trainer(registry, "wgan-gp", "smoke", sets={"regularizers": [{"name": "r1", "gamma": 1.0}],
                                                           "n_critic": 1})
    tr.train_step()
    assert _adam_steps(tr) == 1 and tr.pending_stats()["d_reg"] > 0


def test_without_a_regularizer_d_reg_is_logged_empty_not_zero(registry):
    tr = build_trainer(registry, "dcgan", "smoke")
    tr.train_step()
    tr.flush()
    assert tr.history[-1]["d_reg"] is None and tr.history[-1]["d_loss"] is not None


def test_ganbench_plugins_lists_the_regularizers():
    import json

    from click.testing import CliRunner

    from ganbench.cli import cli

    out = CliRunner().invoke(cli, ["plugins", "--json"])
    assert out.exit_code == 0, out.output
    info = {p["name"]: p for p in json.loads(out.output)}["regularizers"]
    assert info["registers"] == {"regularizer": ["gp", "r1", "r2", "zero-gp"]}
    assert info["descriptions"]["regularizer"]["r1"].startswith("R1: γ/2·E_real‖∇D‖²")
