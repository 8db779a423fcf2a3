"""The training choices that decide quality: pix2pix dropout, the linear learning-rate decay, and the
checkpoint selection with a colourfulness floor."""

import json

import pytest
import torch
from click.testing import CliRunner

from ganbench.cli import cli
from ganbench.core.config import resolve_recipe
from ganbench.core.errors import ConfigError
from ganbench.core.request import RunRequest
from ganbench.grid.in_process import run_comparison
from ganbench.train.setup import build_trainer
from ganbench_plugins.unet import UNet


def make_trainer(registry, sets=None, floor=1 / 3, model="dcgan", size=32):
    return build_trainer(registry, model, "smoke", image_size=size, sets=sets, metrics=["psnr"],
                         colorfulness_floor=floor)


def _lrs_per_step(trainer, steps):
    """The learning rates each step trained with (read after it, through the trainer's on_step callback)."""
    seen = []
    nets = trainer.nets
    trainer.on_step = lambda tr: seen.append((nets.generator_optimizer.param_groups[0]["lr"],
                                              nets.critic_optimizer.param_groups[0]["lr"]))
    trainer.train(steps, None, eval_every=0, checkpoint_every=0, validate=False)
    return seen


def test_learning_rates_decay_linearly_to_zero_over_the_last_half(registry):
    tr = make_trainer(registry)  # dcgan: Adam 2e-4 for both networks, lr_decay 0.5 (pix2pix)
    assert tr.recipe.lr_decay == 0.5
    seen = _lrs_per_step(tr, 8)
    factors = [1, 1, 1, 1, 1, 0.75, 0.5, 0.25]  # progress = step / 8; decay starts past 4 / 8
    assert seen == [pytest.approx((2e-4 * f, 2e-4 * f)) for f in factors]


def test_time_budgets_decay_by_the_seconds_spent(registry):
    tr = make_trainer(registry)
    tr.total_steps, tr.seconds = None, 100.0
    factors = []
    for spent in (0.0, 50.0, 62.5, 75.0, 100.0, 120.0):
        tr.counters.step_seconds, tr.counters.data_seconds = spent * 0.8, spent * 0.2  # data time counts too
        factors.append(tr.lr_factor())
    assert factors == pytest.approx([1.0, 1.0, 0.75, 0.5, 0.0, 0.0])


def test_lr_decay_zero_keeps_learning_rates_constant(registry):
    tr = make_trainer(registry, {"lr_decay": 0, "generator_optimizer.lr": 1e-3})
    assert _lrs_per_step(tr, 6) == [pytest.approx((1e-3, 2e-4))] * 6


@pytest.mark.parametrize("bad", [1, 1.5, -0.1, "half", True])
def test_lr_decay_out_of_range_is_a_config_error(registry, bad):
    with pytest.raises(ConfigError, match="lr_decay"):
        resolve_recipe(registry, "dcgan", sets={"lr_decay": bad})


def test_lr_decay_from_the_command_line_is_validated(tmp_path):
    res = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--budget", "smoke", "--results",
                                    str(tmp_path), "--set", "lr_decay=2"])
    assert res.exit_code == 2 and "lr_decay must be a number in [0, 1)" in res.output
    assert "Traceback" not in res.output


def test_unet_dropout_is_on_in_training_and_off_in_evaluation():
    torch.manual_seed(0)
    net = UNet(depth=5, base_channels=8, zero_init_output=False)  # default dropout 0.5, as pix2pix
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    net.train()
    assert not torch.equal(net(x), net(x))  # new masks every pass
    net.eval()
    assert torch.equal(net(x), net(x))
    assert sum(isinstance(m, torch.nn.Dropout) for m in net.modules()) == 3  # the three innermost up layers
    assert not any(isinstance(m, torch.nn.Dropout) for m in UNet(depth=5, dropout=0.0).modules())
    with pytest.raises(ValueError, match="dropout"):
        UNet(dropout=1.0)


def _colour_the_output(trainer, a, b):
    """Make the generator answer a constant colour cast (tanh(bias)) instead of the gray baseline."""
    last = trainer.nets.generator.ups[-1][1]
    with torch.no_grad():
        last.bias.copy_(torch.tensor([a, b]))


@pytest.mark.parametrize("floor, picked", [(1 / 3, 2), (0.0, 1)])
def test_selection_prefers_a_colourful_generator_over_a_gray_one(registry, floor, picked):
    tr = make_trainer(registry, floor=floor)
    tr.counters.step = 1
    gray_psnr = tr.validate()  # zero-initialised output: exactly the gray baseline, colourless
    first = tr.val_history[0]
    assert first["val_colorfulness"] < first["truth_val_colorfulness"] / 3
    _colour_the_output(tr, 0.6, 0.6)
    tr.counters.step = 2
    colour_psnr = tr.validate()
    second = tr.val_history[1]
    assert colour_psnr < gray_psnr  # the cast is wrong for most photos: PSNR alone keeps the gray one
    assert second["val_colorfulness"] >= second["truth_val_colorfulness"] / 3
    assert tr.validation.best["step"] == picked and tr.validation.best["meets_floor"]


def test_selection_falls_back_to_the_best_psnr_while_nothing_is_colourful_enough(registry):
    tr = make_trainer(registry, floor=1.0)  # as colourful as the photos themselves: unreachable here
    tr.counters.step = 1
    tr.validate()
    _colour_the_output(tr, 0.2, -0.1)
    tr.counters.step = 2
    tr.validate()
    psnrs = [v["val_psnr"] for v in tr.val_history]
    assert tr.validation.best["step"] == 1 + psnrs.index(max(psnrs)) and tr.validation.best["meets_floor"] is False


def test_run_records_the_selection_rule_and_whether_the_floor_was_met(registry, tmp_path):
    [out] = run_comparison(RunRequest(models=["dcgan"], budget="smoke", results=tmp_path, device="cpu"), registry)
    metrics = json.loads((out.run_dir / "metrics.json").read_text())
    assert "colourfulness is >= 0.33" in metrics["selection_rule"]
    assert isinstance(metrics["best_meets_floor"], bool)
    rows = (out.run_dir / "validation.csv").read_text().splitlines()
    assert "val_colorfulness" in rows[0] and "truth_val_colorfulness" in rows[0] and len(rows) > 2


def test_report_says_which_runs_never_reached_the_floor(registry, tmp_path):
    from ganbench.report.write import write_report

    request = RunRequest(models=["dcgan"], budget="smoke", results=tmp_path, device="cpu", colorfulness_floor=1.0)
    [out] = run_comparison(request, registry)  # 4 steps from the gray start: nowhere near the photos' colour
    assert json.loads((out.run_dir / "metrics.json").read_text())["best_meets_floor"] is False
    _, _, report = write_report(tmp_path)
    md = (report / "report.md").read_text()
    assert "dcgan (seed 0): no validated generator reached the colourfulness floor" in md
    assert json.loads((report / "report.json").read_text())["comparisons"][0]["selection_notes"]


def test_colorfulness_floor_out_of_range_is_one_line_exit_2(tmp_path):
    res = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--budget", "smoke", "--results", str(tmp_path),
                                   "--colorfulness-floor", "1.5"])
    assert res.exit_code == 2 and "--colorfulness-floor must be in [0, 1]" in res.output


def test_the_l1_baseline_trains_the_generator_alone(registry):
    tr = make_trainer(registry, model="l1")
    d0 = [p.detach().clone() for p in tr.nets.critic.parameters()]
    g0 = [p.detach().clone() for p in tr.nets.generator.parameters()]
    calls = []
    tr.nets.critic.register_forward_hook(lambda *a: calls.append(1))
    for _ in range(3):
        tr.train_step()
    assert tr.flush() is None
    assert calls == [] and tr.counters.critic_steps == 0 and tr.counters.images == 3 * tr.cfg.batch_size
    assert all(torch.equal(a, b) for a, b in zip(d0, tr.nets.critic.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(g0, tr.nets.generator.parameters(), strict=True))
    assert all(h["g_adv"] == 0 and h["d_loss"] is None and h["g_l1"] > 0 for h in tr.history)  # no critic: empty


def test_the_l1_baseline_row_in_a_comparison(registry, tmp_path):
    from ganbench.report.write import write_report

    outs = run_comparison(RunRequest(models=["l1", "dcgan"], budget="smoke", results=tmp_path, device="cpu"),
                          registry)
    rec = {o.model: json.loads((o.run_dir / "run.json").read_text()) for o in outs}
    assert rec["l1"]["spent"]["critic_steps"] == 0 and rec["dcgan"]["spent"]["critic_steps"] == 4
    assert rec["l1"]["throughput"]["critic_steps_per_s"] == 0
    flops = {m: r["throughput"]["flops_per_image"] for m, r in rec.items()}
    assert flops["l1"]["generator_forward"] == flops["dcgan"]["generator_forward"]
    # a step without the critic: the generator's forward and backward only (about 3x its forward)
    assert 2 * flops["l1"]["generator_forward"] < flops["l1"]["train_step"] < flops["dcgan"]["train_step"]
    _, _, report = write_report(tmp_path)
    md = (report / "report.md").read_text()
    assert "| l1 | unet; no critic; loss none; G adam 0.0002 (0.5, 0.999) |" in md
    assert "| dcgan | unet; patchgan(norm=batch); bce; G adam 0.0002 (0.5, 0.999) / D adam 0.0002 (0.5, 0.999); " \
           "n_critic 1 |" in md
