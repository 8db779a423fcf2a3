"""The training steps (``ganbench/train/steps.py``) against hand computations on a copy of the networks:
what the critic sees in its step, and what each step's statistics say. Written from the survivors of a
mutation run of the module (docs/mutation.md)."""

import copy
import warnings

import pytest
import torch

from ganbench.train.setup import build_trainer


def _batch(tr):
    torch.manual_seed(3)
    L, ab = tr.next_batch()
    return L, ab, torch.tanh(torch.randn_like(ab))


@pytest.mark.parametrize("model,separate", [("dcgan", True), ("wgan-gp", False)])
def test_the_critic_step_scores_real_and_fake_as_the_critic_normalises(registry, model, separate):
    """DCGAN's critic has BatchNorm: real and fake go through it in separate passes, each normalised by its
    own batch statistics, as in the DCGAN and pix2pix code; one pass over both would mix them and change
    the loss. A per-sample critic (WGAN-GP's, LayerNorm) takes one pass over both, the same numbers."""
    tr = build_trainer(registry, model, "smoke", image_size=32)
    critic = copy.deepcopy(tr.nets.critic).train()
    L, ab, fake_ab = _batch(tr)
    real, fake = torch.cat([L, ab], 1), torch.cat([L, fake_ab], 1)
    with torch.no_grad():
        want = tr.nets.loss.critic_loss(critic(real), critic(fake))
        mixed = tr.nets.loss.critic_loss(*critic(torch.cat([real, fake])).chunk(2))
    assert tr.steps.critic_has_batchnorm is separate
    stats = tr.steps.critic_step(L, ab, fake_ab)
    torch.testing.assert_close(stats["d_loss"], want, rtol=1e-5, atol=1e-6)
    if separate:  # the two ways really differ here, so the check above tells them apart
        assert abs(float(mixed - want)) > 1e-3
    else:
        torch.testing.assert_close(mixed, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", ["dcgan", "wgan-gp", "l1"])
def test_the_generator_step_follows_the_adversarial_loss_plus_l1(registry, model):
    """One generator step with SGD moves every generator weight by exactly -lr x the gradient of
    g_adv + λ_L1·mean|fake - ab| computed by hand on copies of the networks (g_adv = 0 without a critic),
    the statistics are those two terms, and the critic's gradients are left as the critic step left them."""
    lr = 0.1
    sets = {"generator_optimizer.name": "sgd", "generator_optimizer.lr": lr, "generator.zero_init_output": False}
    tr = build_trainer(registry, model, "smoke", image_size=32, sets=sets)
    L, ab, fake_ab = _batch(tr)
    if tr.nets.loss.uses_critic:
        tr.steps.critic_step(L, ab, fake_ab)  # leaves weight gradients on the critic
    critic_grads = [None if p.grad is None else p.grad.clone() for p in tr.nets.critic.parameters()]
    generator, critic = copy.deepcopy(tr.nets.generator), copy.deepcopy(tr.nets.critic)
    torch.manual_seed(5)  # the same dropout masks in both generator passes
    fake_ref = generator(L)
    if tr.nets.loss.uses_critic:
        g_adv = tr.nets.loss.generator_loss(critic(torch.cat([L, fake_ref], 1)))
    else:
        g_adv = torch.zeros(())
    g_l1 = (fake_ref - ab).abs().mean()
    assert g_l1 > 0.05  # a generator that colours: |fake + ab| or |fake| would not pass for |fake - ab|
    grads = torch.autograd.grad(g_adv + tr.recipe.l1_weight * g_l1, list(generator.parameters()))
    torch.manual_seed(5)
    stats, ratio = tr.steps.generator_step(L, ab, tr.steps.generate(L))
    assert ratio is None
    torch.testing.assert_close(stats["g_l1"], g_l1.detach(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(stats["g_adv"], g_adv.detach(), rtol=1e-5, atol=1e-7)
    for p, q, g in zip(tr.nets.generator.parameters(), generator.parameters(), grads, strict=True):
        torch.testing.assert_close(p.detach(), (q - lr * g).detach(), rtol=1e-4, atol=1e-6)
    for p, g in zip(tr.nets.critic.parameters(), critic_grads, strict=True):
        assert (p.grad is None and g is None) or torch.equal(p.grad, g)  # no critic gradients from this step


def test_the_ema_moves_towards_the_generator_by_one_minus_decay(registry):
    """After each generator step: ema <- decay·ema + (1 - decay)·generator for the weights, and the
    generator's BatchNorm statistics copied as they are."""
    decay = 0.75
    tr = build_trainer(registry, "dcgan", "smoke", image_size=32, ema=decay,
                       sets={"generator.zero_init_output": False})
    ema0 = [p.clone() for p in tr.ema.parameters()]
    ema_buffers0 = [b.clone() for b in tr.ema.buffers()]
    L, ab, fake_ab = _batch(tr)
    tr.steps.generator_step(L, ab, tr.steps.generate(L))
    moved = [not torch.equal(p, q) for p, q in zip(tr.nets.generator.parameters(), ema0, strict=True)]
    assert sum(moved) > len(moved) // 2  # the step moved the generator, so the EMA has somewhere to go
    for e, e0, g in zip(tr.ema.parameters(), ema0, tr.nets.generator.parameters(), strict=True):
        torch.testing.assert_close(e, decay * e0 + (1 - decay) * g.detach(), rtol=1e-5, atol=1e-7)
    buffers = list(tr.nets.generator.buffers())
    assert any(not torch.equal(b, b0) for b, b0 in zip(buffers, ema_buffers0, strict=True))  # stats moved
    for e, g in zip(tr.ema.buffers(), buffers, strict=True):
        assert torch.equal(e, g)


def test_without_an_ema_decay_the_ema_is_the_generator(registry):
    from ganbench.train.steps import Steps

    tr = build_trainer(registry, "l1", "smoke", image_size=32, sets={"generator.zero_init_output": False})
    ema = copy.deepcopy(tr.nets.generator).requires_grad_(False)
    steps = Steps(tr.nets, torch.device("cpu"), "fp32", tr.recipe.l1_weight, ema=ema)
    L, ab, _ = _batch(tr)
    steps.generator_step(L, ab, steps.generate(L))
    for e, g in zip(ema.parameters(), tr.nets.generator.parameters(), strict=True):
        assert torch.equal(e, g)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_the_gradient_ratio_is_the_same_under_a_loss_scale(registry, precision):
    """Under fp16 the adversarial gradient is taken of the loss-scaled g_adv (65536 at the start) and
    divided back: the ratio is the fp32 one, ‖fake‖ / (λ·sqrt(n)/numel) for g_adv = ½‖fake‖²."""
    tr = build_trainer(registry, "dcgan", "smoke", image_size=32, precision=precision)
    assert tr.steps.scaler.is_enabled() == (precision == "fp16")
    torch.manual_seed(0)
    ab = torch.rand(2, 2, 8, 8) * 2 - 1
    fake = torch.rand(2, 2, 8, 8, requires_grad=True)
    g_adv = 0.5 * (fake * fake).sum()
    ratio = tr.steps.adversarial_to_l1_ratio(g_adv, fake, ab)
    want = fake.detach().norm() / (tr.recipe.l1_weight * ab.numel() ** 0.5 / ab.numel())
    assert float(ratio) == pytest.approx(float(want), rel=1e-5)


@pytest.mark.parametrize("model,estimate", [("dcgan", False), ("wgan", True)])
def test_the_critic_step_reports_the_distance_estimate_of_a_wasserstein_loss(registry, model, estimate):
    tr = build_trainer(registry, model, "smoke", image_size=32)
    L, ab, fake_ab = _batch(tr)
    critic = copy.deepcopy(tr.nets.critic)
    with torch.no_grad():
        real_s, fake_s = critic(torch.cat([L, ab], 1)), critic(torch.cat([L, fake_ab], 1))
    # nothing known before the first critic step; neither recipe has a regularizer: d_reg is empty, not 0
    assert tr.absent_stats == ("d_reg", "w_estimate")
    stats = tr.steps.critic_step(L, ab, fake_ab)
    assert ("w_estimate" in stats) == estimate == tr.steps.has_w_estimate and "d_reg" not in stats
    assert tr.absent_stats == (("d_reg",) if estimate else ("d_reg", "w_estimate"))  # history.csv's empty columns
    if estimate:
        want = real_s.flatten(1).mean(1).mean() - fake_s.flatten(1).mean(1).mean()
        torch.testing.assert_close(stats["w_estimate"], want, rtol=1e-5, atol=1e-6)


def test_loss_scaling_keeps_a_small_adversarial_gradient_from_underflowing_in_fp16(registry):
    """Why the ratio scales g_adv under fp16: an adversarial gradient of 1e-8 per value passes through fp16
    as 0 (below fp16's smallest subnormal, 6e-8) unless the loss is scaled first; scaled by 65536 and divided
    back, it arrives. Without fp16 the scale is 1 and the same gradient arrives in fp32."""
    for precision in ("fp16", "fp32"):
        tr = build_trainer(registry, "dcgan", "smoke", image_size=32, precision=precision)
        fake = torch.rand(2, 2, 8, 8, requires_grad=True)
        ab = torch.zeros_like(fake) - 1
        half = fake.half() if precision == "fp16" else fake
        g_adv = (half * 2**-20).float().sum() * 1e-2  # ∂g_adv/∂fake ≈ 1e-8; 2^-20 is exact in fp16
        ratio = float(tr.steps.adversarial_to_l1_ratio(g_adv, fake, ab))
        want = 2**-20 * 1e-2 * fake.numel() ** 0.5 / (tr.recipe.l1_weight * fake.numel() ** 0.5 / fake.numel())
        assert ratio == pytest.approx(want, rel=0.01), precision
    unscaled = torch.autograd.grad((fake.half() * 2**-20).float().sum() * 1e-2, fake)[0]
    assert not unscaled.any()  # the same gradient taken without the scale: all zeros


def test_a_precision_read_from_the_command_line_enables_the_loss_scaler(registry):
    """``--precision fp16`` arrives as a new string, not the literal in the code: compared by value."""
    tr = build_trainer(registry, "dcgan", "smoke", image_size=32, precision="".join(["fp", "16"]))
    assert tr.steps.scaler.is_enabled()


def test_compiled_under_torchrun_the_training_passes_still_go_through_ddp(registry, monkeypatch):
    """``--compile`` under torchrun: the generator's pass with gradients and the critic's own step are the
    compiled DistributedDataParallel wrappers (compiling the plain module would skip the gradient
    all-reduce, and the processes would drift apart); no-grad fakes and the critic inside the generator
    step use the compiled plain modules. torch.compile is replaced by a recorder here: compiling for real
    on 2 CPU cores takes minutes, and what is checked is which module each pass calls."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from ganbench.train.steps import Steps

    compiled = []
    monkeypatch.setattr(torch, "compile", lambda module: compiled.append(module) or module)
    tr = build_trainer(registry, "wgan-gp", "smoke", image_size=32)
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        with warnings.catch_warnings():  # torch 2.13 deprecates DDP's broadcast_buffers, warning per wrapper
            warnings.filterwarnings("error", message=".*broadcast_buffers.*", category=FutureWarning)
            steps = Steps(tr.nets, torch.device("cpu"), "fp32", tr.recipe.l1_weight, distributed=True,
                          compile_=True)
        wrappers = [m for m in compiled if isinstance(m, DDP)]
        plain = [m for m in compiled if not isinstance(m, DDP)]
        assert [w.module for w in wrappers] == [tr.nets.generator, tr.nets.critic]
        assert plain == [tr.nets.generator, tr.nets.critic]
        # no broadcast of rank 0's buffers before each forward (the BatchNorm statistics are global already)
        assert [w.forward_sync_buffers if hasattr(w, "forward_sync_buffers") else w.broadcast_buffers
                for w in wrappers] == [False, False]
        calls = []
        for module in compiled:
            module.register_forward_pre_hook(lambda m, args: calls.append(m))
        L, ab, fake_ab = _batch(tr)
        x = torch.cat([L, ab], 1)

        def entered(run):  # the outermost module a pass calls
            calls.clear()
            run()
            return calls[0]

        assert entered(lambda: steps.generate(L)) is wrappers[0]
        with torch.no_grad():
            assert entered(lambda: steps.generate(L)) is tr.nets.generator
        assert entered(lambda: steps.score(x)) is wrappers[1]
        assert entered(lambda: steps.score(x, train=False)) is tr.nets.critic
    finally:
        dist.destroy_process_group()
