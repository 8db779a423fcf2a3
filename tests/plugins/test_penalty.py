"""WGAN-GP's penalty: the same per-image critic score as the Wasserstein loss, λ meaning the same at every
image size, its precision stated and checked against fp64, and a BatchNorm critic refused."""

import copy

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from ganbench.cli import cli
from ganbench.core.errors import ConfigError
from ganbench.core.request import RunRequest
from ganbench.grid.plan import plan_comparison
from ganbench_plugins.losses import (
    GradientPenaltyLoss,
    WassersteinLoss,
    critic_input_gradient,
    gradient_penalty,
)


def _patch_critic(registry, dtype=torch.float32):
    torch.manual_seed(0)
    critic = registry.create("critic", "patchgan", base_channels=8, layers=2, norm="layer")
    return critic.to(dtype)


@pytest.mark.parametrize("size", [32, 64])
def test_the_loss_and_the_penalty_differentiate_the_same_per_image_score(registry, size):
    """The Wasserstein critic loss is mean_i D(fake_i) - mean_i D(real_i), so N * its gradient at fake_i is
    ∇D(fake_i): exactly the gradient the penalty takes (at eps = 0 the interpolate is the fake). pix2pix's
    'sum' convention differentiates P times that score, P the number of patches."""
    critic = _patch_critic(registry, torch.float64)
    n = 3
    real = torch.rand(n, 3, size, size, dtype=torch.float64)
    fake = torch.rand(n, 3, size, size, dtype=torch.float64, requires_grad=True)
    loss = WassersteinLoss().critic_loss(critic(real), critic(fake))
    (loss_grad,) = torch.autograd.grad(loss, fake)
    x = fake.detach().clone().requires_grad_(True)
    penalty_grad = critic_input_gradient(critic, x, "mean")
    assert torch.allclose(n * loss_grad, penalty_grad, rtol=1e-10, atol=1e-14)
    patches = critic(real[:1]).numel()
    assert patches > 1  # a patch critic: the two conventions differ
    sum_grad = critic_input_gradient(critic, fake.detach().clone().requires_grad_(True), "sum")
    assert torch.allclose(sum_grad, patches * penalty_grad, rtol=1e-10, atol=1e-14)


def _linear_patch_critic(size: int, u: torch.Tensor) -> nn.Module:
    """Patch scores <w, x_p> per pixel p (a 1x1 convolution), w = sqrt(P) u, P = size² patches: the per-image
    score s = mean_p <w, x_p> has ∇_x s = w / P at every pixel, so ||∇s|| = ||w|| / sqrt(P) = ||u|| at every
    size -- the same critic gradient whatever the image size."""
    conv = nn.Conv2d(3, 1, 1, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(size * u.view(1, 3, 1, 1))
    return conv


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_lambdas_effect_does_not_change_with_the_image_size(reduction):
    """A linear critic whose per-image score has input-gradient norm g = ||u|| at every size: the penalty is
    the paper's λ(g - 1)² at 8², 16² and 32², and its pull on the critic (its derivative in g) is the same.
    pix2pix's sum convention gives λ(P·g - 1)² instead: a penalty that grows with the number of patches."""
    u = torch.tensor([0.3, -0.4, 0.5], dtype=torch.float64)
    g = u.norm()
    lam = 10.0
    values, pulls = [], []
    for size in (8, 16, 32):
        critic = _linear_patch_critic(size, u)
        real = torch.rand(4, 3, size, size, dtype=torch.float64)
        fake = torch.rand(4, 3, size, size, dtype=torch.float64)
        pen = lam * gradient_penalty(critic, real, fake, torch.rand(4, 1, 1, 1, dtype=torch.float64), reduction)
        patches = size * size
        target = g if reduction == "mean" else patches * g
        assert torch.allclose(pen, lam * (target - 1) ** 2, rtol=1e-10)
        (dw,) = torch.autograd.grad(pen, critic.weight)
        # w = size·α·u and g = α·||u||: d penalty / d g = (∂penalty/∂w · size·u) / ||u||
        pulls.append(float((dw.flatten() * u).sum() * size / g))
        values.append(float(pen.detach()))
    if reduction == "mean":
        assert values == pytest.approx([values[0]] * 3, rel=1e-10)
        assert pulls == pytest.approx([2 * lam * float(g - 1)] * 3, rel=1e-10)
    else:
        assert values[0] < values[1] < values[2]


def test_the_penalty_reduction_option_and_its_default(registry):
    assert GradientPenaltyLoss().penalty_reduction == "mean"
    assert "pix2pix" in GradientPenaltyLoss(penalty_reduction="sum").description
    with pytest.raises(ValueError, match="penalty_reduction"):
        GradientPenaltyLoss(penalty_reduction="max")


# --- precision --------------------------------------------------------------------------------------------
def _inputs(size=32, n=3, dtype=torch.float64):
    torch.manual_seed(1)
    return (torch.rand(n, 3, size, size, dtype=dtype), torch.rand(n, 3, size, size, dtype=dtype),
            torch.rand(n, 1, 1, 1, dtype=dtype))


def _norms(critic, real, fake, eps):
    x = (eps * real + (1 - eps) * fake).requires_grad_(True)
    return critic_input_gradient(critic, x).flatten(1).norm(dim=1)


def test_the_penalty_in_fp32_and_bf16_against_fp64(registry):
    """fp32: the penalty and the gradient norms agree with fp64 to fp32 rounding. bf16 autocast (convolutions
    in bf16, norms in fp32): the per-image gradient norms within 3% of fp64's, the result fp32."""
    critic = _patch_critic(registry)
    critic64 = copy.deepcopy(critic).double()
    real, fake, eps = _inputs()
    ref = gradient_penalty(critic64, real, fake, eps)
    ref_norms = _norms(critic64, real, fake, eps)
    got = gradient_penalty(critic, real.float(), fake.float(), eps.float())
    assert got.dtype == torch.float32
    assert torch.allclose(got.double(), ref, rtol=1e-4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf = gradient_penalty(critic, real.float(), fake.float(), eps.float())
        bf_norms = _norms(critic, real.float(), fake.float(), eps.float())
    assert bf.dtype == torch.float32 and bf_norms.dtype == torch.float32
    assert torch.allclose(bf_norms.double(), ref_norms, rtol=0.03)
    assert not torch.allclose(bf_norms.double(), ref_norms, rtol=1e-6)  # bf16 really ran


def test_fp16_autocast_runs_the_penalty_in_fp32_so_small_gradients_do_not_underflow():
    """A critic whose input gradient is about 1e-9 per element (below fp16's smallest subnormal, 6e-8): in
    fp16 the inner gradient would be zero and the penalty would stop training the critic. Under fp16
    autocast the penalty runs in fp32 and matches the fp32 value and weight gradient."""
    critic = nn.Conv2d(3, 1, 1, bias=False)
    with torch.no_grad():
        critic.weight.fill_(1e-6)
    real, fake, eps = (t.float() for t in _inputs(size=32))
    expected = gradient_penalty(critic, real, fake, eps)
    (expected_dw,) = torch.autograd.grad(expected, critic.weight)
    with torch.autocast("cpu", dtype=torch.float16):
        got = gradient_penalty(critic, real, fake, eps)
        (dw,) = torch.autograd.grad(got, critic.weight)
    assert torch.allclose(got, expected) and torch.allclose(dw, expected_dw)
    assert dw.abs().min() > 0


# --- BatchNorm ---------------------------------------------------------------------------------------------
def test_a_penalty_loss_on_a_batchnorm_critic_is_refused_by_name(registry, tmp_path):
    request = RunRequest(models=["wgan-gp"], budget="smoke", device="cpu", results=tmp_path,
                         sets={"critic.norm": "batch"})
    with pytest.raises(ConfigError, match=r"regularizer 'gp' penalises each image's critic gradient.*BatchNorm"):
        plan_comparison(request, registry)
    res = CliRunner().invoke(cli, ["run", "--models", "wgan-gp", "--budget", "smoke", "--set", "critic.norm=batch",
                                   "--results", str(tmp_path)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert res.output.startswith("error: model 'wgan-gp': regularizer 'gp'")
    assert len(res.output.strip().splitlines()) == 1
    # the same penalty inside a loss (the wasserstein-gp loss) is refused naming the loss
    sets = {"critic.norm": "batch", "loss": "wasserstein-gp", "regularizers": []}
    with pytest.raises(ConfigError, match=r"loss 'wasserstein-gp' penalises each image's critic gradient"):
        plan_comparison(RunRequest(models=["wgan-gp"], budget="smoke", device="cpu", results=tmp_path, sets=sets),
                        registry)
    # the per-sample norms are accepted, and WGAN's clipping (no penalty) keeps its BatchNorm critic
    for norm in ("layer", "instance", "none"):
        plan_comparison(RunRequest(models=["wgan-gp"], budget="smoke", device="cpu", results=tmp_path,
                                   sets={"critic.norm": norm}), registry)
    plan_comparison(RunRequest(models=["wgan"], budget="smoke", device="cpu", results=tmp_path), registry)
