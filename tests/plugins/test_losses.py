"""The built-in losses as formulas: each value against its definition on scores of known value, the options
each accepts and refuses, the documented defaults, and where the penalty's precision rule applies.

Written from the survivors of a mutation run (docs/mutation.md): the WGAN generator loss with its sign
dropped, the critic loss with ``-`` made ``*``, ``clip=-0.5`` or ``nan`` accepted all passed the recipe
tests, which only check that training moves the networks."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.api import fp16_autocast_on
from ganbench_plugins.losses import (
    BCELoss,
    GradientPenaltyLoss,
    NoAdversary,
    WassersteinLoss,
    WeightClippingLoss,
    clip_parameters,
    critic_input_gradient,
    gradient_penalty,
    per_image_score,
)

WASSERSTEIN = [WassersteinLoss, WeightClippingLoss, GradientPenaltyLoss]


def _scores():
    """Patch scores (N, 1, h, w) whose per-image means are 1.5, -0.5 (real) and 0.25, 2.0 (fake)."""
    real = torch.tensor([1.0, 2.0, 1.0, 2.0, -1.0, 0.0, -1.0, 0.0]).reshape(2, 1, 2, 2)
    fake = torch.tensor([0.0, 0.5, 0.0, 0.5, 2.0, 2.0, 1.0, 3.0]).reshape(2, 1, 2, 2)
    return real, fake


def test_per_image_score_is_the_mean_over_patches_and_keeps_one_score_per_image():
    real, fake = _scores()
    assert per_image_score(real).tolist() == [1.5, -0.5]
    assert per_image_score(fake).tolist() == [0.25, 2.0]
    flat = torch.tensor([3.0, -1.0])
    assert per_image_score(flat) is flat
    assert per_image_score(torch.tensor([[1.0, 2.0, 6.0], [0.0, 0.0, -3.0]])).tolist() == [3.0, -1.0]  # (N, k)


@pytest.mark.parametrize("cls", WASSERSTEIN)
def test_the_wasserstein_losses_match_their_definitions(cls):
    """E[D(real)] = 0.5 and E[D(fake)] = 1.125: the critic minimises 1.125 - 0.5, the generator minimises
    -1.125, and the logged distance estimate is 0.5 - 1.125. The same on one score per image."""
    real, fake = _scores()
    loss = cls()
    assert loss.critic_loss(real, fake).item() == pytest.approx(0.625)
    assert loss.generator_loss(fake).item() == pytest.approx(-1.125)
    assert loss.distance_estimate(real, fake).item() == pytest.approx(-0.625)
    r, f = per_image_score(real), per_image_score(fake)
    assert loss.critic_loss(r, f).item() == pytest.approx(0.625)
    assert loss.generator_loss(f).item() == pytest.approx(-1.125)
    assert loss.distance_estimate(r, f).item() == pytest.approx(-0.625)


def test_the_generator_loss_pushes_the_fake_score_up():
    """The generator's gradient step must raise D(fake): d(loss)/d(score) is -1/N for each image."""
    fake = torch.tensor([0.3, -0.2], requires_grad=True)
    WassersteinLoss().generator_loss(fake).backward()
    assert fake.grad.tolist() == [-0.5, -0.5]


def test_bce_losses_match_their_definitions():
    """DCGAN's critic: -log σ(r) - log(1 - σ(f)), each averaged; the generator (non-saturating): -log σ(f)."""
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sig = torch.sigmoid
    critic = -(torch.log(sig(real)).mean() + torch.log(1 - sig(fake)).mean())
    generator = -torch.log(sig(fake)).mean()
    assert torch.allclose(BCELoss().critic_loss(real, fake), critic)
    assert torch.allclose(BCELoss().generator_loss(fake), generator)
    assert torch.allclose(BCELoss().generator_loss(fake), F.softplus(-fake).mean())


def test_the_penalty_term_is_weight_times_the_penalty_by_hand():
    """A 1x1 linear critic with weights c: the per-image score's input gradient is c / (h·w) at every pixel,
    whatever the input, so its norm is ‖c‖ / sqrt(h·w) and the critic's regulariser is λ (‖c‖/sqrt(hw) - 1)²,
    with no dependence on the interpolation draw."""
    critic = nn.Conv2d(3, 1, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([30.0, -40.0, 0.0]).reshape(1, 3, 1, 1))  # ‖c‖ = 50, h·w = 100
    real, fake = torch.rand(4, 3, 10, 10), torch.rand(4, 3, 10, 10)
    for weight in (10.0, 2.5, 0.0):
        got = GradientPenaltyLoss(weight=weight).critic_regularizer(critic, real, fake)
        assert got.item() == pytest.approx(weight * (50 / 10 - 1) ** 2)  # 16 λ


def test_a_reduction_name_built_at_run_time_is_the_same_option():
    """Options arrive from TOML and the command line as new string objects, not the literals in the code:
    compared by value, `"mean"` typed by a user picks the per-image score and the plain description."""
    mean = "".join(["me", "an"])
    critic = nn.Conv2d(3, 1, 1)
    x = torch.rand(2, 3, 4, 4, requires_grad=True)
    torch.testing.assert_close(critic_input_gradient(critic, x, mean), critic_input_gradient(critic, x, "mean"))
    assert not torch.allclose(critic_input_gradient(critic, x, mean), critic_input_gradient(critic, x, "sum"))
    assert GradientPenaltyLoss(penalty_reduction=mean).description == "Wasserstein + 10·GP"


def test_clipping_takes_the_multi_tensor_path_off_the_cpu(monkeypatch):
    """The default picks torch's multi-tensor kernels when every parameter is on an accelerator (the meta
    device stands in for CUDA here) and the per-tensor loop on the CPU."""
    launches = []
    kernel = torch._foreach_clamp_min_
    monkeypatch.setattr(torch, "_foreach_clamp_min_", lambda *a: launches.append(a) or kernel(*a))
    clip_parameters([torch.empty(3, device="meta")], 0.01)
    assert len(launches) == 1
    clip_parameters([torch.zeros(3)], 0.01)
    clip_parameters([torch.empty(3, device="meta"), torch.zeros(3)], 0.01)  # mixed: per tensor
    assert len(launches) == 1


def test_the_none_loss_has_no_critic_for_the_trainer_to_run():
    loss = NoAdversary()
    assert loss.uses_critic is False
    with pytest.raises(RuntimeError, match="no critic"):
        loss.critic_loss(torch.zeros(1), torch.zeros(1))


# --- options -----------------------------------------------------------------------------------------------
def test_the_documented_defaults():
    """What `ganbench plugins` and the design table promise: clip 0.01, λ = 10 on the per-image score."""
    assert WeightClippingLoss().clip == 0.01
    assert WeightClippingLoss().description == "Wasserstein, weights clipped to ±0.01"
    gp = GradientPenaltyLoss()
    assert (gp.weight, gp.penalty_reduction) == (10.0, "mean")
    assert gp.description == "Wasserstein + 10·GP"
    assert GradientPenaltyLoss(weight=2.5, penalty_reduction="sum").description == (
        "Wasserstein + 2.5·GP (penalty on the patch-score sum, pix2pix)")


@pytest.mark.parametrize("clip", [0, 0.0, -0.01, -0.5, -2, math.nan, math.inf, True, "0.01", None])
def test_weight_clipping_refuses_a_clip_that_is_not_a_finite_positive_number(clip):
    with pytest.raises(ValueError, match=r"clip must be a finite number > 0"):
        WeightClippingLoss(clip=clip)


@pytest.mark.parametrize("clip", [1e-6, 0.01, 1, 2.5])
def test_weight_clipping_takes_any_finite_positive_clip(clip):
    assert WeightClippingLoss(clip=clip).clip == float(clip)


@pytest.mark.parametrize("weight", [-0.1, -1, math.nan, -math.inf, math.inf, True, "10"])
def test_the_penalty_refuses_a_weight_that_is_not_a_finite_number_at_least_zero(weight):
    with pytest.raises(ValueError, match=r"weight must be a finite number >= 0"):
        GradientPenaltyLoss(weight=weight)


@pytest.mark.parametrize("weight", [0, 0.5, 1, 10.0])
def test_the_penalty_takes_any_finite_weight_from_zero(weight):
    assert GradientPenaltyLoss(weight=weight).weight == float(weight)


# --- where the fp16 rule applies ---------------------------------------------------------------------------
def test_only_fp16_autocast_turns_the_penalty_to_fp32():
    assert not fp16_autocast_on("cpu")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not fp16_autocast_on("cpu")
    with torch.autocast("cpu", dtype=torch.float16):
        assert fp16_autocast_on("cpu")
    assert not fp16_autocast_on("meta")


def test_the_penalty_runs_on_the_meta_device_for_shape_and_flop_counts():
    critic = nn.Conv2d(3, 1, 3).to("meta")
    x = torch.empty(2, 3, 8, 8, device="meta")
    penalty = gradient_penalty(critic, x, x, torch.empty(2, 1, 1, 1, device="meta"))
    assert penalty.device.type == "meta" and penalty.shape == ()
