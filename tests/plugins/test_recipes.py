"""Each recipe does what it says: clipping, gradient penalty, n_critic, BCE-with-logits."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.core.config import resolve_recipe
from ganbench.core.contract import OptimizerSpec
from ganbench.train.setup import build_trainer
from ganbench_plugins.losses import GradientPenaltyLoss, gradient_penalty


def make_trainer(registry, model, sets=None, size=32, **settings):
    return build_trainer(registry, model, "smoke", image_size=size, sets=sets, **settings)


def _largest_weight(net):
    return max(float(p.detach().abs().max()) for p in net.parameters())


def test_recipes_match_the_design_table(registry):
    r = {m: resolve_recipe(registry, m) for m in ("dcgan", "wgan", "wgan-gp")}
    assert r["dcgan"].loss == "bce" and r["dcgan"].n_critic == 1
    assert r["dcgan"].critic_optimizer == OptimizerSpec("adam", 2e-4, {"betas": (0.5, 0.999)})
    assert r["wgan"].loss == "wasserstein-clip" and r["wgan"].loss_options == {"clip": 0.01}
    assert r["wgan"].critic_optimizer == OptimizerSpec("rmsprop", 5e-5)
    assert r["wgan"].n_critic == 5
    assert r["wgan-gp"].loss == "wasserstein" and r["wgan-gp"].regularizers == [{"name": "gp", "weight": 10.0}]
    assert r["wgan-gp"].n_critic == 5
    assert r["wgan-gp"].critic_options["norm"] != "batch"
    assert r["wgan-gp"].critic_optimizer == OptimizerSpec("adam", 1e-4, {"betas": (0.0, 0.9)})
    assert all(x.l1_weight == 100.0 for x in r.values())


def test_the_published_recipes_match_their_sources(registry):
    """docs/recipes.md gives the source of each value."""
    r = {m: resolve_recipe(registry, m) for m in ("sngan-hinge", "sngan-ttur", "lsgan", "ragan", "stylegan-r1")}
    for m in ("sngan-hinge", "sngan-ttur"):  # SNGAN's critic: spectral norm, no other norm; hinge
        assert r[m].critic_options == {"norm": "none", "spectral_norm": True} and r[m].loss == "hinge"
    sn = OptimizerSpec("adam", 2e-4, {"betas": (0.0, 0.9)})  # Miyato et al. 2018, sngan_projection's configs
    assert r["sngan-hinge"].generator_optimizer == r["sngan-hinge"].critic_optimizer == sn
    assert r["sngan-hinge"].n_critic == 5
    assert r["sngan-ttur"].generator_optimizer == OptimizerSpec("adam", 1e-4, {"betas": (0.0, 0.9)})  # SAGAN
    assert r["sngan-ttur"].critic_optimizer == OptimizerSpec("adam", 4e-4, {"betas": (0.0, 0.9)})
    assert r["sngan-ttur"].n_critic == 1
    dcgan = OptimizerSpec("adam", 2e-4, {"betas": (0.5, 0.999)})
    for m, loss in (("lsgan", "least-squares"), ("ragan", "ragan")):
        assert r[m].loss == loss and r[m].loss_options == {} and r[m].n_critic == 1
        assert r[m].generator_optimizer == r[m].critic_optimizer == dcgan
    ls = registry.create("loss", "least-squares")
    assert (ls.fake_target, ls.real_target) == (0.0, 1.0)  # LSGAN's 0-1 coding: a = 0, b = c = 1
    style = r["stylegan-r1"]
    assert style.loss == "bce" and style.critic_options == {"norm": "none"} and style.n_critic == 1
    assert style.regularizers == [{"name": "r1", "gamma": 10.0, "every": 16}]
    assert style.generator_optimizer == OptimizerSpec("adam", 2e-3, {"betas": (0.0, 0.99)})
    ratio = 16 / 17  # stylegan2-ada-pytorch's mb_ratio for D_reg_interval = 16
    assert style.critic_optimizer.lr == pytest.approx(2e-3 * ratio)
    assert style.critic_optimizer.options["betas"] == pytest.approx((0.0, 0.99**ratio))


def test_wgan_critic_weights_clipped_after_every_critic_step(registry):
    tr = make_trainer(registry, "wgan", {"critic_optimizer.lr": 0.5})  # a huge step pushes weights out
    critic = tr.nets.critic
    stepped, after_clip = [], []  # the critic's largest weight after each optimiser step, and once clipped
    tr.nets.critic_optimizer.register_step_post_hook(lambda *a: stepped.append(_largest_weight(critic)))

    def next_forward(module, inputs):  # the first critic pass after a step sees the constrained weights
        if len(after_clip) < len(stepped):
            after_clip.append(_largest_weight(critic))

    critic.register_forward_pre_hook(next_forward)
    tr.train_step()
    assert len(stepped) == len(after_clip) == 5  # the generator step's critic pass sees the fifth
    assert all(v <= 0.01 + 1e-7 for v in after_clip)
    assert min(stepped) > 0.01  # the big learning rate really pushed past the bound: the clip did the work


def test_gradient_penalty_equals_hand_computed_value_on_a_linear_critic():
    class Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.arange(12, dtype=torch.float64).view(1, 3, 2, 2) / 10)

        def forward(self, x):
            return (x * self.w).sum(dim=(1, 2, 3))

    critic = Linear()
    real, fake = torch.rand(4, 3, 2, 2, dtype=torch.float64), torch.rand(4, 3, 2, 2, dtype=torch.float64)
    eps = torch.rand(4, 1, 1, 1, dtype=torch.float64)
    # D(x) = <w, x>  =>  grad_x D = w for every x, so the penalty is (||w|| - 1)^2 exactly
    expected = (critic.w.detach().norm() - 1) ** 2
    got = gradient_penalty(critic, real, fake, eps)
    assert torch.allclose(got, expected, atol=1e-12)
    got.backward()  # differentiable w.r.t. the critic's weights (create_graph=True)
    grad_expected = 2 * (critic.w.norm() - 1) * critic.w / critic.w.norm()
    assert torch.allclose(critic.w.grad, grad_expected.detach(), atol=1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradient_penalty_on_a_small_conv_critic_matches_finite_differences(reduction):
    """The penalty differentiates the per-image score (mean over patches) by default, pix2pix's patch sum
    with penalty_reduction="sum"; central differences in fp64 say which function was differentiated."""
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Tanh(), nn.Conv2d(4, 1, 3)).double()
    real, fake = torch.rand(2, 3, 6, 6, dtype=torch.float64), torch.rand(2, 3, 6, 6, dtype=torch.float64)
    eps = torch.full((2, 1, 1, 1), 0.3, dtype=torch.float64)
    x = eps * real + (1 - eps) * fake
    h = 1e-6
    norms = []
    for i in range(2):
        flat = x[i].flatten()
        grad = torch.zeros_like(flat)
        for j in range(flat.numel()):
            up, dn = flat.clone(), flat.clone()
            up[j] += h
            dn[j] -= h
            f = lambda v: getattr(critic(v.view(1, 3, 6, 6)), reduction)()  # noqa: E731
            grad[j] = (f(up) - f(dn)) / (2 * h)
        norms.append(grad.norm())
    expected = torch.stack([(n - 1) ** 2 for n in norms]).mean()
    assert torch.allclose(gradient_penalty(critic, real, fake, eps, reduction), expected, atol=1e-6)


def test_gp_loss_scales_by_weight():
    torch.manual_seed(0)
    critic = nn.Conv2d(3, 1, 3)
    real, fake = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    torch.manual_seed(1)
    a = GradientPenaltyLoss(weight=10).critic_regularizer(critic, real, fake)
    torch.manual_seed(1)
    b = GradientPenaltyLoss(weight=1).critic_regularizer(critic, real, fake)
    assert torch.allclose(a, 10 * b)


@pytest.mark.parametrize("model,n", [("dcgan", 1), ("wgan", 5), ("wgan-gp", 5)])
def test_n_critic_critic_steps_per_generator_step(registry, model, n):
    tr = make_trainer(registry, model)
    calls = []
    tr.nets.critic_optimizer.register_step_post_hook(lambda *a: calls.append("D"))
    tr.nets.generator_optimizer.register_step_post_hook(lambda *a: calls.append("G"))
    tr.train_step()
    tr.train_step()
    assert calls == (["D"] * n + ["G"]) * 2
    assert tr.counters.critic_steps == 2 * n and tr.counters.step == 2


def test_n_critic_override(registry):
    tr = make_trainer(registry, "wgan-gp", {"n_critic": 2})
    tr.train_step()
    assert tr.counters.critic_steps == 2


def test_dcgan_critic_outputs_logits_into_bce_with_logits(registry):
    tr = make_trainer(registry, "dcgan")
    last = list(tr.nets.critic.modules())[-1]
    assert isinstance(last, nn.Conv2d)  # raw scores: no sigmoid in the critic
    assert not any(isinstance(m, nn.Sigmoid) for m in tr.nets.critic.modules())
    real, fake = torch.randn(2, 1, 3, 3) * 5, torch.randn(2, 1, 3, 3) * 5
    expected = F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + \
        F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    assert torch.allclose(tr.nets.loss.critic_loss(real, fake), expected)
    # logits far outside [0, 1] give finite losses (a sigmoid+BCE pair would saturate to inf)
    big = torch.full((1, 1, 2, 2), 200.0)
    assert torch.isfinite(tr.nets.loss.critic_loss(-big, big))
    assert torch.isfinite(tr.nets.loss.generator_loss(-big))


def test_training_steps_change_both_networks_and_stay_finite(registry):
    for model in ("dcgan", "wgan", "wgan-gp"):
        tr = make_trainer(registry, model)
        g0 = [p.clone() for p in tr.nets.generator.parameters()]
        d0 = [p.clone() for p in tr.nets.critic.parameters()]
        for _ in range(2):
            tr.train_step()
        assert tr.flush() is None
        assert any(not torch.equal(a, b) for a, b in zip(g0, tr.nets.generator.parameters(), strict=True))
        assert any(not torch.equal(a, b) for a, b in zip(d0, tr.nets.critic.parameters(), strict=True))


def test_unet_shapes_skips_and_zero_init(registry):
    g = registry.create("generator", "unet", depth=5, base_channels=8)
    x = torch.randn(2, 1, 64, 64)
    out = g(x)
    assert out.shape == (2, 2, 64, 64)
    assert torch.all(out == 0)  # zero-initialised output layer: training starts at the gray baseline
    g2 = registry.create("generator", "unet", depth=5, base_channels=8, zero_init_output=False)
    assert g2(x).abs().max() > 0 and g2(x).abs().max() <= 1
    bns = [m for m in g.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 3 + 4  # down layers 2..depth-1 and up layers except the outermost
    convs = [m for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
@pytest.mark.parametrize("model", ["dcgan", "wgan", "wgan-gp"])
def test_accelerator_code_paths_run_on_cpu(registry, model, precision):
    """The CUDA path (autocast, GradScaler for fp16, channels_last, the penalty under autocast) is the same
    code with the device as a parameter: exercise it on the CPU."""
    tr = make_trainer(registry, model, precision=precision, channels_last=True)
    assert tr.steps.scaler.is_enabled() == (precision == "fp16")
    assert next(tr.nets.generator.parameters()).dtype == torch.float32  # master weights stay fp32
    g0 = [p.detach().clone() for p in tr.nets.generator.parameters()]
    changed = False
    for _ in range(30):  # fp16: the GradScaler skips steps until its scale stops overflowing
        tr.train_step()
        if any(not torch.equal(a, b) for a, b in zip(g0, tr.nets.generator.parameters(), strict=True)):
            changed = True
            break
    assert changed
    assert tr.flush() is None
    if precision == "fp16":
        assert tr.state_dict()["scaler"]["scale"] < 2.0**16  # the scaler did its work, and is checkpointed


def test_the_gradient_penalty_changes_the_critics_update_by_its_own_gradient(registry):
    """One WGAN-GP critic step (SGD, so update = -lr x gradient): with the penalty the critic moves by
    exactly -lr x (gradient of the Wasserstein loss + gradient of 10 x GP) — the penalty is in the step."""
    lr = 0.05
    sets = {"critic_optimizer.name": "sgd", "critic_optimizer.lr": lr}
    with_gp = make_trainer(registry, "wgan-gp", sets)
    without = make_trainer(registry, "wgan-gp", {**sets, "regularizers": []})  # the same recipe without gp
    reference = copy.deepcopy(with_gp.nets.critic)  # the common starting point
    L, ab = with_gp.next_batch()
    fake_ab = torch.tanh(torch.randn_like(ab))
    rng = torch.get_rng_state()
    stats = with_gp.steps.critic_step(L, ab, fake_ab)  # draws the penalty's interpolation weights
    torch.set_rng_state(rng)
    without.steps.critic_step(L, ab, fake_ab)
    torch.set_rng_state(rng)  # the same draw, for the hand-computed penalty
    real, fake = torch.cat([L, ab], 1), torch.cat([L, fake_ab], 1)
    penalty = GradientPenaltyLoss(weight=10.0).critic_regularizer(reference, real, fake)
    grads = torch.autograd.grad(penalty, list(reference.parameters()), allow_unused=True)
    assert float(stats["d_reg"]) == pytest.approx(float(penalty.detach()), rel=1e-5) and penalty > 0
    moved = 0.0
    for a, b, g in zip(with_gp.nets.critic.parameters(), without.nets.critic.parameters(), grads, strict=True):
        expected = torch.zeros_like(a) if g is None else -lr * g
        assert torch.allclose(a - b, expected, rtol=1e-3, atol=1e-7)
        moved = max(moved, float(expected.abs().max()))
    assert moved > 1e-4  # the penalty's share of the step is far above float noise


@pytest.mark.parametrize("foreach", [True, False, None])  # True: the path CUDA takes, forced on the CPU
def test_weight_clipping_clamps_both_bounds_on_either_path(foreach, monkeypatch):
    from ganbench_plugins.losses import clip_parameters

    launches = []
    for name in ("_foreach_clamp_min_", "_foreach_clamp_max_"):
        kernel = getattr(torch, name)
        monkeypatch.setattr(torch, name, lambda *a, _k=kernel, _n=name: launches.append(_n) or _k(*a))
    params = [torch.tensor([-0.5, -0.01, 0.003, 0.2]), torch.tensor([[0.02, -0.03], [0.0, 0.009]])]
    clip_parameters(params, 0.01, foreach=foreach)
    assert len(launches) == (2 if foreach else 0)  # the multi-tensor path really ran (default on CPU: not)
    assert params[0].tolist() == pytest.approx([-0.01, -0.01, 0.003, 0.01])
    assert params[1].flatten().tolist() == pytest.approx([0.01, -0.01, 0.0, 0.009])
