"""How and on what the core calls a per-image metric's ``compute`` (docs/plugins.md, register_metrics): once per
set with all the test crops at once, the selected model's predictions, the gray baseline's and (reference-free
metrics) the truth's, each call separate."""

import json

import pytest
import torch

from ganbench.api import Metric, hookimpl
from ganbench.core.request import RunRequest
from ganbench.grid.runner import SilentReporter, run_comparison
from ganbench.score.evaluate import gray_uint8
from ganbench.testing import plugin


class Recorder(Metric):
    name, unit, reference_free = "recorder", "", True

    def __init__(self, calls: list) -> None:
        self.calls = calls

    def compute(self, pred, target):
        self.calls.append((pred.clone(), target.clone()))
        return pred.double().flatten(1).mean(1)


class RecorderPlugin:
    def __init__(self) -> None:
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    @hookimpl
    def register_metrics(self, register):
        register("recorder", lambda: Recorder(self.calls))


def test_compute_gets_all_the_test_crops_at_once_for_the_model_the_gray_baseline_and_the_truth(tmp_path):
    spy = RecorderPlugin()
    with plugin(spy, name="recorder") as reg:
        request = RunRequest(models=["dcgan"], budget="smoke,steps=1", results=tmp_path, device="cpu",
                             metrics=["psnr", "recorder"])
        [outcome] = run_comparison(request, reg, SilentReporter())
    assert outcome.status == "complete"
    n_crops = len((outcome.run_dir / "per_image.csv").read_text().splitlines()) - 1
    assert n_crops > 1
    assert spy.calls, "the metric was never called"
    target = spy.calls[0][1]
    for pred, tgt in spy.calls:  # every call: the whole test set, in one call, as uint8 RGB (N, H, W, 3)
        assert pred.dtype == tgt.dtype == torch.uint8 and pred.shape == tgt.shape == target.shape
        assert pred.shape[0] == n_crops and pred.shape[-1] == 3 and torch.equal(tgt, target)
    gray_pred = gray_uint8(target)
    gray = [pred for pred, _ in spy.calls if torch.equal(pred, gray_pred)]
    truth = [pred for pred, _ in spy.calls if torch.equal(pred, target)]
    model = [pred for pred, _ in spy.calls if not (torch.equal(pred, target) or torch.equal(pred, gray_pred))]
    metrics = json.loads((outcome.run_dir / "metrics.json").read_text())
    # one call per set: the gray baseline, the truth (reference-free), the model's selected and (if it differs)
    # last generator -- separate calls, never one batch mixing them
    assert len(gray) == 1 and len(truth) == 1 and len(model) in (1, 2)
    means = [float(pred.double().flatten(1).mean(1).mean()) for pred in model]
    assert metrics["model"]["recorder"] in means
    assert metrics["gray"]["recorder"] == pytest.approx(float(gray[0].double().mean()))
