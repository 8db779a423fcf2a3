"""A run's identity per part: editing a loss's module retrains only the runs that use it, saying which part
changed; editing a metric's module re-scores the stored generators instead of retraining them."""

import importlib
import json
import sys
import textwrap

import pytest

from ganbench.core.request import RunRequest
from ganbench.grid.in_process import SilentReporter, run_comparison
from ganbench.testing import plugin

SOURCE = '''
import torch
import torch.nn.functional as F

from ganbench.api import AdversarialLoss, Metric, hookimpl


class EditLoss(AdversarialLoss):
    description = "BCE, edited by the test"

    def critic_loss(self, real_scores, fake_scores):
        return (F.binary_cross_entropy_with_logits(real_scores, torch.ones_like(real_scores))
                + F.binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores)))

    def generator_loss(self, fake_scores):
        return F.binary_cross_entropy_with_logits(fake_scores, torch.ones_like(fake_scores))


class MeanRed(Metric):
    name = "mean-red"
    unit = ""

    def compute(self, pred, target):
        return pred[..., 0].double().flatten(1).mean(1) * SCALE


SCALE = 1.0


@hookimpl
def register_losses(register):
    register("edit-loss", EditLoss)


@hookimpl
def register_models(register):
    from ganbench.api import Recipe

    register("edit-gan", lambda: Recipe(critic_options={"norm": "batch"}, loss="edit-loss"))
'''

METRIC = '''
from ganbench.api import hookimpl
from edit_losses import MeanRed


@hookimpl
def register_metrics(register):
    register("mean-red", MeanRed)
'''


@pytest.fixture
def editable(tmp_path):
    """Two plugin modules written to disk, as an author's files: ``edit_losses`` (a loss, a model, a metric's
    class) and ``edit_metrics`` (registers the metric); ``load()`` imports them afresh after an edit."""
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "edit_losses.py").write_text(textwrap.dedent(SOURCE))
    (folder / "edit_metrics.py").write_text(textwrap.dedent(METRIC))
    sys.path.insert(0, str(folder))

    def load():
        for name in ("edit_losses", "edit_metrics"):
            sys.modules.pop(name, None)
        importlib.invalidate_caches()
        return importlib.import_module("edit_losses"), importlib.import_module("edit_metrics")

    try:
        yield folder, load
    finally:
        sys.path.remove(str(folder))
        for name in ("edit_losses", "edit_metrics"):
            sys.modules.pop(name, None)


def _run(load, results, models="dcgan,edit-gan", metrics=None):
    losses, metric_plugin = load()
    reporter = SilentReporter()
    with plugin(losses, name="edit-losses"), plugin(metric_plugin, name="edit-metrics") as reg:
        request = RunRequest(models=models.split(","), budget="smoke,steps=1", results=results, device="cpu",
                             metrics=metrics)
        outcomes = run_comparison(request, reg, reporter)
    return {o.model: o for o in outcomes}, reporter.messages


def test_editing_a_loss_retrains_only_the_runs_that_use_it_and_says_why(editable, tmp_path):
    folder, load = editable
    first, _ = _run(load, tmp_path / "r")
    assert {m: o.status for m, o in first.items()} == {"dcgan": "complete", "edit-gan": "complete"}
    identity = json.loads((first["edit-gan"].run_dir / "run.json").read_text())["identity"]
    assert set(identity) == {"recipe_hash", "generator", "critic", "loss", "dataset"}
    assert identity["loss"].startswith("edit-loss: in-process edit-losses, edit_losses@")
    assert identity["generator"].startswith("unet: ganbench 0.1.0, ganbench_plugins.unet@")
    source = folder / "edit_losses.py"
    source.write_text(source.read_text().replace('description = "BCE, edited by the test"',
                                                 'description = "BCE, edited again"'))
    again, messages = _run(load, tmp_path / "r")
    assert again["dcgan"].status == "skipped"  # its parts did not change
    assert again["edit-gan"].status == "complete" and again["edit-gan"].run_dir != first["edit-gan"].run_dir
    [why] = [m for m in messages if m.startswith("edit-gan seed 0: trains again")]
    assert "loss changed (edit-loss: in-process edit-losses, edit_losses@" in why and " -> edit_losses@" in why
    assert "generator" not in why and "critic" not in why and "recipe" not in why


def test_editing_a_metric_rescores_the_stored_generators_without_training(editable, tmp_path):
    folder, load = editable
    metrics = ["psnr", "mean-red", "ab-swd"]  # a set-level metric too: re-scored as a set, no per-image column
    first, _ = _run(load, tmp_path / "r", models="dcgan", metrics=metrics)
    run = first["dcgan"].run_dir
    weights = (run / "generator.pt").read_bytes()
    before = json.loads((run / "metrics.json").read_text())
    source = folder / "edit_losses.py"
    source.write_text(source.read_text().replace("SCALE = 1.0", "SCALE = 2.0"))
    again, messages = _run(load, tmp_path / "r", models="dcgan", metrics=metrics)
    assert again["dcgan"].status == "skipped" and again["dcgan"].run_dir == run
    assert any("metric mean-red changed since it was scored: re-scoring" in m for m in messages)
    assert len(list((tmp_path / "r" / "runs").iterdir())) == 1 and (run / "generator.pt").read_bytes() == weights
    after = json.loads((run / "metrics.json").read_text())
    assert after["model"]["mean-red"] == pytest.approx(2 * before["model"]["mean-red"])
    assert after["gray"]["mean-red"] == pytest.approx(2 * before["gray"]["mean-red"])
    assert after["model"]["psnr"] == pytest.approx(before["model"]["psnr"])  # the same generator, rescored
    assert after["model"]["ab-swd"] == pytest.approx(before["model"]["ab-swd"])
    assert after["set_level"] == before["set_level"] and after["gray"]["ab-swd"] == before["gray"]["ab-swd"]
    rows = (run / "per_image.csv").read_text().splitlines()
    assert "model_mean-red" in rows[0] and "ab-swd" not in rows[0]
    _, unchanged = _run(load, tmp_path / "r", models="dcgan", metrics=metrics)
    assert any("already complete" in m for m in unchanged)  # scored with today's metrics: nothing to do
