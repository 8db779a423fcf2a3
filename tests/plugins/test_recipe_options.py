"""What the recipes promise beyond their table: WGAN's critic warm-up, the per-recipe L1 baselines, the
adversarial-to-L1 gradient diagnostic, and the docs' claims about batches and optimisers."""

import json
import re
import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from ganbench.core.config import parse_sets, resolve_recipe
from ganbench.core.errors import ConfigError
from ganbench.data.pipeline import TrainSampler
from ganbench.data.synthetic import synthetic_data
from ganbench.score.diagnostics import (
    RATIO_COLUMN,
    SHARED_WITH_BASELINE,
    adversary_summary,
    critic_gain_lines,
    report_lines,
)
from ganbench.train.batches import PhotoBatches
from ganbench.train.flops import count_flops_per_image, flops_spent
from ganbench.train.setup import build_trainer

DOCS = Path(__file__).resolve().parents[2] / "docs"


def make_trainer(registry, model, sets=None, **kw):
    return build_trainer(registry, model, "smoke", sets=sets, **kw)


# --- WGAN's critic warm-up ------------------------------------------------------------------------------
def test_critic_warmup_follows_the_reference_schedule(registry):
    schedule = make_trainer(registry, "wgan", {"critic_warmup": 100}).schedule
    assert [schedule.critic_steps_before(s) for s in (0, 24, 25, 499, 500, 501, 1000)] == [100, 100, 5, 5, 100, 5, 100]
    off = make_trainer(registry, "wgan")
    assert off.schedule.critic_warmup == 0 and {off.schedule.critic_steps_before(s) for s in (0, 24, 500)} == {5}
    assert make_trainer(registry, "l1", {"critic_warmup": 100}).schedule.critic_steps_before(0) == 0  # no critic at all
    with pytest.raises(ConfigError, match="critic_warmup must be a whole number >= 0"):
        resolve_recipe(registry, "wgan", sets={"critic_warmup": -1})


def test_warmup_steps_run_their_critic_steps_and_resume_on_schedule(registry):
    tr = make_trainer(registry, "wgan", {"critic_warmup": 7})
    tr.train_step()
    assert tr.counters.critic_steps == 7 and tr.counters.batches == 7 and tr.counters.step == 1
    state = tr.state_dict()
    resumed = make_trainer(registry, "wgan", {"critic_warmup": 7})
    resumed.load_state_dict(state)
    resumed.counters.step = 25  # as if resumed after the warm-up: n_critic again
    resumed.train_step()
    assert resumed.counters.critic_steps == 7 + 5 and resumed.counters.batches == 7 + 5
    assert resumed.counters.images == 2 * tr.cfg.batch_size  # budgets count generator images only


def test_flops_count_critic_and_generator_steps_apart(registry):
    tr = make_trainer(registry, "wgan", {"critic_warmup": 7})
    flops = count_flops_per_image(*tr.parts, tr.recipe, tr.cfg.image_size)
    assert flops["train_step"] == pytest.approx(flops["generator_step"] + 5 * flops["critic_step"])
    tr.train_step()  # a warm-up step: 7 critic steps
    spent = flops_spent(flops, tr.counters)
    assert spent == pytest.approx(tr.cfg.batch_size * (flops["generator_step"] + 7 * flops["critic_step"]))
    assert spent > flops["train_step"] * tr.counters.images  # more than an ordinary step
    l1 = make_trainer(registry, "l1")
    l1.train_step()
    l1_flops = count_flops_per_image(*l1.parts, l1.recipe, l1.cfg.image_size)
    assert flops_spent(l1_flops, l1.counters) == pytest.approx(l1_flops["train_step"] * l1.cfg.batch_size)


# --- L1 baselines -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("baseline,recipe", [("l1", "dcgan"), ("l1-wgan", "wgan"), ("l1-wgan-gp", "wgan-gp")])
def test_each_recipe_has_an_l1_baseline_with_its_generator_optimiser(registry, baseline, recipe):
    b, r = resolve_recipe(registry, baseline), resolve_recipe(registry, recipe)
    assert b.loss == "none"
    assert all(getattr(b, k) == getattr(r, k) for k in SHARED_WITH_BASELINE)  # the critic is the only difference
    assert make_trainer(registry, baseline).schedule.n_critic == 0


# --- the adversarial-to-L1 gradient diagnostic ----------------------------------------------------------
def test_the_gradient_ratio_matches_a_hand_computation(registry):
    tr = make_trainer(registry, "dcgan")
    ab = torch.rand(2, 2, 8, 8) * 2 - 1
    fake = torch.rand(2, 2, 8, 8, requires_grad=True)
    ab[0] = fake.detach()[0]  # where the output equals the target, the L1 term has no gradient
    g_adv = 0.5 * (fake * fake).sum()  # gradient = fake
    ratio = tr.steps.adversarial_to_l1_ratio(g_adv, fake, ab)
    # ∂(λ·mean|f−ab|)/∂f = λ·sign(f − ab)/numel: ±λ/numel on the second image's 128 values, 0 on the first's
    l1_grad_norm = tr.recipe.l1_weight * 128**0.5 / ab.numel()
    assert float(ratio) == pytest.approx(float(fake.detach().norm() / l1_grad_norm), rel=1e-6)


def test_the_gradient_ratio_is_logged_every_few_steps_and_summarised(registry):
    tr = make_trainer(registry, "wgan-gp")
    tr.log.log_every, tr.diagnostic_every = 1, 2
    for _ in range(4):
        tr.train_step()
    assert tr.flush() is None
    logged = {h["step"]: h.get(RATIO_COLUMN) for h in tr.history}
    assert logged[1] is None and logged[3] is None
    assert logged[2] > 0 and logged[4] > 0
    summary = adversary_summary(tr.history)
    assert summary["measurements"] == 2
    assert summary["adv_to_l1_grad_median"] == pytest.approx((logged[2] + logged[4]) / 2)
    l1 = make_trainer(registry, "l1")
    l1.log.log_every, l1.diagnostic_every = 1, 1
    l1.train_step()
    l1.flush()
    assert adversary_summary(l1.history) is None  # no adversary, no ratio


def _run(model, recipe, critic_steps, ratio=None):
    from ganbench.store.records import MetricsRecord, RunRecord

    metrics = {"adversary": None if ratio is None else {"adv_to_l1_grad_median": ratio}}
    record = {"config": {"model": model, "recipe": recipe}, "spent": {"critic_steps": critic_steps}}
    return SimpleNamespace(status="complete", metrics=MetricsRecord.from_json(metrics),
                           record=RunRecord.from_json(record))


def test_report_lines_show_the_pull_and_what_each_critic_adds(registry):
    recipes = {m: resolve_recipe(registry, m).to_dict() for m in ("wgan", "l1-wgan", "l1")}
    runs = {"wgan": _run("wgan", recipes["wgan"], 3000, 0.004), "l1-wgan": _run("l1-wgan", recipes["l1-wgan"], 0),
            "l1": _run("l1", recipes["l1"], 0)}
    comp = SimpleNamespace(
        rows=[SimpleNamespace(label=m, counted={0: r}) for m, r in runs.items()],
        significance=[{"model": "l1-wgan", "versus": "wgan", "metric": "psnr", "mean_diff": 0.5, "ci_low": 0.1,
                       "ci_high": 0.9, "significant": True, "p_holm": 0.01, "n_photos": 18}])
    lines = report_lines(comp)
    assert lines[0].endswith("wgan 0.004 (negligible, < 0.01)")
    # paired with the baseline of the same optimiser (l1-wgan, not l1), the sign turned to wgan − l1-wgan
    assert critic_gain_lines(comp) == [lines[1]]
    assert "wgan − l1-wgan" in lines[1] and "PSNR -0.500 dB [95% CI -0.900, -0.100], significant" in lines[1]
    comp.significance = [{"model": "wgan", "versus": "l1-wgan", "metric": "psnr", "untested": "one seed each"}]
    assert critic_gain_lines(comp)[0].endswith("PSNR not tested (one seed each)")


# --- the docs' claims ------------------------------------------------------------------------------------
def test_the_documented_rmsprop_override_changes_both_optimisers(registry):
    text = (DOCS / "recipes.md").read_text()
    command = re.search(r"seed study used RMSProp: `([^`]*)`", text).group(1)
    words = shlex.split(command)
    sets = parse_sets([words[i + 1] for i, w in enumerate(words) if w == "--set"])
    r = resolve_recipe(registry, "wgan-gp", sets=sets)
    for spec in (r.generator_optimizer, r.critic_optimizer):
        assert spec.name == "rmsprop" and "betas" not in spec.options
    tr = make_trainer(registry, "wgan-gp", sets)
    assert all(isinstance(o, torch.optim.RMSprop) for o in (tr.nets.generator_optimizer, tr.nets.critic_optimizer))


@pytest.mark.parametrize("model,batches", [("dcgan", [0, 1, 2]), ("wgan", [4, 9, 14])])
def test_which_batches_the_generator_trains_on(registry, model, batches):
    """docs/budgets.md: every model draws the same batches in the same order, and its generator trains on
    every n_critic-th of them (the last batch of each step)."""
    photos = PhotoBatches(TrainSampler(synthetic_data(32).train, 32, 4, 0), torch.device("cpu"), False)
    drawn, seen = [], []
    tr = make_trainer(registry, model, batches=lambda i: drawn.append(i) or photos(i))
    # the generator's forward with gradients makes the fake its step trains on: from the last batch drawn
    tr.nets.generator.register_forward_hook(lambda *a: seen.append(drawn[-1]) if torch.is_grad_enabled() else None)
    for _ in range(3):
        tr.train_step()
    assert seen == batches
    assert "every fifth" in (DOCS / "budgets.md").read_text()


def test_metrics_json_records_the_adversary(registry, tmp_path):
    from ganbench.core.request import RunRequest
    from ganbench.grid.in_process import run_comparison

    outs = run_comparison(RunRequest(models=["dcgan"], budget="smoke,steps=10", results=tmp_path, device="cpu"),
                          registry)
    metrics = json.loads((outs[0].run_dir / "metrics.json").read_text())
    assert metrics["adversary"]["measurements"] == 1 and metrics["adversary"]["adv_to_l1_grad_median"] > 0
    history = (outs[0].run_dir / "history.csv").read_text().splitlines()
    assert RATIO_COLUMN in history[0]
