"""The accelerator path: every recipe on a GPU agrees with the CPU, in each precision, compiled or not.

Marked ``cuda`` (run them with ``pytest -m cuda``; ``benchmarks/gpu_check.py`` does). The device comes from
``GANBENCH_TEST_DEVICE`` (default ``cuda``); without that device they skip. ``GANBENCH_TEST_DEVICE=cpu``
runs the same code with the CPU standing in for the accelerator, so the tests themselves are exercised on
machines without a GPU (``gpu_check.py --device cpu --quick`` does that).

Tolerances: fp32 on CUDA uses TF32 in cuDNN convolutions by default (10-bit mantissa, about 1e-3 relative),
bf16 autocast keeps 8 bits (about 4e-3 per rounding, more after a few layers): losses of one step agree to
2 % in fp32 and 10 % under autocast; weights after one SGD step to a fraction of the update.
"""

from __future__ import annotations

import json
import os

import pytest
import torch

from ganbench.train.batches import cycle, memory_batches
from ganbench.train.bench import photo_batches
from ganbench.train.setup import build_trainer

DEVICE = os.environ.get("GANBENCH_TEST_DEVICE", "cuda")


def _available(name: str) -> bool:
    if name.startswith("cuda"):
        return torch.cuda.is_available()
    return name == "cpu"


pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not _available(DEVICE), reason=f"device {DEVICE} not available"),
]

MODELS = ["dcgan", "wgan", "wgan-gp"]
#: SGD (weights after a step are linear in the gradients), no dropout (masks come from per-device RNGs).
COMPARABLE = {"generator_optimizer.name": "sgd", "critic_optimizer.name": "sgd",
              "generator_optimizer.lr": 1e-4, "critic_optimizer.lr": 1e-4, "generator.dropout": 0,
              "n_critic": 1}  # the step's losses are then measured before any update could differ
LOSS_RTOL = {"fp32": 0.02, "bf16": 0.10, "fp16": 0.10}


def _trainer(registry, model: str, device: str, precision: str, **kw):
    return build_trainer(registry, model, "smoke", image_size=32, batch_size=4, sets=COMPARABLE, device=device,
                         precision=precision, **kw)


def _one_step(registry, model: str, device: str, precision: str, channels_last: bool | None = None, **kw):
    dev = torch.device(device)
    channels_last = dev.type == "cuda" if channels_last is None else channels_last
    batches = memory_batches(photo_batches(32, 4, dev, channels_last), 2)  # the same two batches on every device
    trainer = _trainer(registry, model, device, precision, batches=cycle(batches), channels_last=channels_last, **kw)
    torch.manual_seed(123)  # the penalty's interpolation weights: drawn on each device from its own RNG
    trainer.train_step()
    stats = trainer.pending_stats()
    weights = {k: v.detach().float().cpu() for k, v in trainer.nets.generator.state_dict().items()}
    return stats, weights


def _close(a: float, b: float, rtol: float, atol: float = 1e-4) -> bool:
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("model", MODELS)
def test_training_step_agrees_with_the_cpu(registry, model, precision):
    ref_stats, ref_w = _one_step(registry, model, "cpu", "fp32")
    stats, w = _one_step(registry, model, DEVICE, precision)
    rtol = LOSS_RTOL[precision]
    # the critic's loss and the L1 term are computed before any update differs (the penalty, which uses
    # per-device random interpolation weights, is left out of the comparison)
    for key in ("d_loss", "g_l1"):
        assert _close(stats[key], ref_stats[key], rtol), (key, stats[key], ref_stats[key])
    assert all(torch.isfinite(v).all() for v in w.values())
    if precision == "fp16":  # the GradScaler skips the first steps while its scale overflows fp16: no update
        return
    init = _trainer(registry, model, "cpu", "fp32").nets.generator.state_dict()
    moved = max(float((ref_w[k] - init[k].float()).abs().max()) for k in ref_w if ref_w[k].is_floating_point())
    assert moved > 0
    for k in ref_w:
        if ref_w[k].is_floating_point() and "running" not in k and "num_batches" not in k:
            err = float((w[k] - ref_w[k]).abs().max())
            assert err <= 0.25 * moved + 1e-6, (k, err, moved)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_gradient_penalty_double_backward_under_autocast(registry, precision):
    """The penalty's input-gradient under autocast matches the fp32 one on the same device and inputs."""
    critic = registry.create("critic", "patchgan", norm="layer", base_channels=8, layers=2).to(DEVICE)
    loss = registry.create("loss", "wasserstein-gp")
    g = torch.Generator().manual_seed(0)
    real = torch.randn(4, 3, 32, 32, generator=g).to(DEVICE)
    fake = torch.randn(4, 3, 32, 32, generator=g).to(DEVICE)

    def penalty(dtype):
        torch.manual_seed(7)
        with torch.autocast(torch.device(DEVICE).type, dtype=dtype, enabled=dtype is not None):
            reg = loss.critic_regularizer(critic, real, fake)
        critic.zero_grad(set_to_none=True)
        reg.float().backward()
        # (the last bias has no gradient: the input-gradient does not depend on it)
        grads = torch.cat([p.grad.flatten() for p in critic.parameters() if p.grad is not None])
        return float(reg), grads

    ref, ref_grads = penalty(None)
    low, low_grads = penalty(torch.bfloat16 if precision == "bf16" else torch.float16)
    assert torch.isfinite(torch.tensor(low)) and torch.isfinite(low_grads).all()
    assert _close(low, ref, 0.1, 1e-3), (low, ref)
    cos = torch.nn.functional.cosine_similarity(low_grads, ref_grads, dim=0)
    assert cos > 0.95  # the double backward points the same way


@pytest.mark.parametrize("model", ["dcgan", "wgan-gp"])
def test_compile_on_and_off_agree(registry, model):
    plain, _ = _one_step(registry, model, DEVICE, "fp32")
    compiled, _ = _one_step(registry, model, DEVICE, "fp32", compile=True)
    for key in ("d_loss", "g_l1", "g_adv"):
        assert _close(compiled[key], plain[key], 0.02), (key, compiled[key], plain[key])


def test_channels_last_on_and_off_agree(registry):
    a, wa = _one_step(registry, "dcgan", DEVICE, "fp32", channels_last=True)
    b, wb = _one_step(registry, "dcgan", DEVICE, "fp32", channels_last=False)
    for key in ("d_loss", "g_adv", "g_l1"):
        assert _close(a[key], b[key], 0.02), key
    for k in wa:
        if wa[k].is_floating_point():
            assert torch.allclose(wa[k], wb[k], rtol=1e-2, atol=1e-4), k


def test_interrupt_and_resume_on_the_device(registry, tmp_path, monkeypatch):
    from test_reliability import StopAtStep  # SIGTERM during a given step, as the CPU resume tests use

    from ganbench.core.request import RunRequest
    from ganbench.grid.in_process import run_comparison
    from ganbench.store.results import safe_load
    from ganbench.train.signals import StopFlag, StopRequested

    def request(results):
        return RunRequest(models=["wgan-gp"], budget="smoke,steps=6", results=results, device=DEVICE,
                          checkpoint_every=2, sets={"generator.dropout": 0})

    if DEVICE.startswith("cuda"):  # the same kernels in both runs: bit-for-bit comparable
        monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
        monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    [full] = run_comparison(request(tmp_path / "a"), registry)
    stop = StopFlag()
    with pytest.raises(StopRequested):
        run_comparison(request(tmp_path / "b"), registry, StopAtStep(stop, 3), stop)
    [run_b] = list((tmp_path / "b" / "runs").iterdir())
    run_comparison(request(tmp_path / "b"), registry)
    wa, wb = safe_load(full.run_dir / "generator.pt"), safe_load(run_b / "generator.pt")
    for k in wa:
        assert torch.allclose(wa[k].float(), wb[k].float(), rtol=1e-5, atol=1e-6), k
    ma = json.loads((full.run_dir / "metrics.json").read_text())["model"]
    mb = json.loads((run_b / "metrics.json").read_text())["model"]
    assert ma["psnr"] == pytest.approx(mb["psnr"], abs=1e-3)


def test_colorize_on_the_device_matches_the_cpu(registry, tmp_path, photos):
    from ganbench.core.request import RunRequest
    from ganbench.grid.in_process import run_comparison
    from ganbench.tools.colorize import colorize_array, load_generator

    [run] = run_comparison(RunRequest(models=["dcgan"], budget="smoke", results=tmp_path / "r", device="cpu"),
                           registry)
    outs = {}
    for dev in ("cpu", DEVICE):
        generator, cfg = load_generator(registry, run=run.run_dir, device=torch.device(dev))
        outs[dev] = torch.from_numpy(colorize_array(generator, photos["coffee"], cfg.image_size, torch.device(dev)))
    diff = (outs["cpu"].int() - outs[DEVICE].int()).abs()
    assert diff.float().mean() < 0.5 and int(diff.max()) <= 3
