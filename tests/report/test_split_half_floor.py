"""The truth's split-half value of a set-level metric is shown only from SPLIT_HALF_MIN_PHOTOS photos per half
(table, report.json, the perception–distortion plot); below that the report hides it and says why. A metric
whose split-half value means nothing (delta-cf) does not compute one."""

import json

import pandas as pd
import pytest

from ganbench.report import tradeoff
from ganbench.report.comparison import load_comparisons
from ganbench.report.tables import set_level_note
from ganbench.score.evaluate import SPLIT_HALF_MIN_PHOTOS, set_info, set_reference_scores, split_half_shown
from ganbench.store.results import READABLE_SCHEMAS
from ganbench_plugins.metrics import ABSlicedWasserstein, DeltaColorfulness


def _results(root, photos_per_half):
    """Two models x 3 seeds of fake complete runs with one set-level metric (swd) whose runs hold the truth's
    split-half value 2.5 computed on ``photos_per_half`` photos per half."""
    schema = sorted(READABLE_SCHEMAS)[-1]
    info = {"psnr": {"higher_is_better": True, "unit": "dB", "reference_free": False},
            "swd": {"higher_is_better": False, "unit": "ab", "reference_free": False, "level": "set",
                    "tested": True, "split_half": True}}
    for model in ("l1", "dcgan"):
        for seed in range(3):
            run = root / "runs" / f"20260101-00000{seed}-{model}-s{seed}-000000"
            run.mkdir(parents=True)
            config = {"model": model, "seed": seed, "dataset": "folder", "dataset_options": {}, "device": "cpu",
                      "budget": {"name": "smoke"}, "precision": "fp32", "metrics": ["psnr", "swd"], "ema": 0.0,
                      "recipe": {"loss": model}, "checkpoint_every": 100}
            (run / "run.json").write_text(json.dumps({"schema_version": schema, "config": config, "comparison": "k",
                                                      "budget": {"name": "smoke"}, "status": "complete"}))
            score = {"psnr": 20.0 + seed, "swd": 5.0 + seed + (model == "dcgan")}
            n = 2 * photos_per_half
            (run / "metrics.json").write_text(json.dumps({
                "model": score, "last": score, "best": score, "gray": {"psnr": 18.0, "swd": 9.0},
                "truth": {"swd": 2.5}, "metrics": info, "selected": "best",
                "set_level": {"swd": {"n_images": n, "n_split_half": photos_per_half,
                                      "split_half_photos": photos_per_half}}}))
            pd.DataFrame({"image": [f"p{i}#center" for i in range(n)], "model_psnr": [20.0 + seed] * n,
                          "gray_psnr": [18.0] * n}).to_csv(run / "per_image.csv", index=False)
    return root


@pytest.mark.parametrize("per_half", [SPLIT_HALF_MIN_PHOTOS - 1, SPLIT_HALF_MIN_PHOTOS])
def test_the_split_half_value_is_shown_only_from_enough_photos_per_half(tmp_path, monkeypatch, per_half):
    (comp,), _ = load_comparisons(_results(tmp_path, per_half))
    shown = per_half >= SPLIT_HALF_MIN_PHOTOS
    truth = comp.table[comp.table["model"] == "ground truth"]
    note = " ".join(set_level_note(comp))
    if shown:
        assert truth.iloc[0]["swd"] == 2.5 and truth.iloc[0]["swd_images"] == per_half
        assert comp.split_half_hidden == {} and "not shown" not in note
    else:  # no ground-truth row at all: swd was its only cell
        assert truth.empty and comp.split_half_hidden == {"swd": per_half}
        assert f"not shown for swd ({per_half} photos per half)" in note and str(SPLIT_HALF_MIN_PHOTOS) in note
    drawn = []

    def capture(fig, path):
        drawn.extend(line.get_label() for ax in fig.axes for line in ax.get_lines())

    monkeypatch.setattr(tradeoff, "save_plot", capture)
    assert tradeoff.tradeoff_plot(comp, tmp_path / "t.png")
    assert ("truth split-half (floor)" in drawn) == shown


def test_the_report_json_hides_it_too(tmp_path):
    from ganbench.report.write import write_report

    _, _, out = write_report(_results(tmp_path, 9))
    data = json.loads((out / "report.json").read_text())["comparisons"][0]
    assert "ground truth" not in {r["model"] for r in data["rows"]}
    assert "swd" in {s["metric"] for s in data["set_significance"]}  # the seed-level verdicts stay


def test_split_half_shown_reads_photos_and_falls_back_to_crops():
    assert split_half_shown({"split_half_photos": SPLIT_HALF_MIN_PHOTOS, "n_split_half": 5 * SPLIT_HALF_MIN_PHOTOS})
    assert not split_half_shown({"split_half_photos": 10, "n_split_half": 5 * SPLIT_HALF_MIN_PHOTOS})
    assert split_half_shown({"n_split_half": SPLIT_HALF_MIN_PHOTOS})  # a record from before photos were counted
    assert not split_half_shown({"n_split_half": None}) and not split_half_shown({})


def test_delta_cf_has_no_split_half_value_and_ab_swd_has_one():
    """Between two halves of the photos ΔCF is a colourfulness gap between different photos (a signed number a
    perfect model does not approach): not computed, not recorded; ab-swd's is the distance two samples of the
    photos already have."""
    import skimage.data
    import torch

    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea(), skimage.data.rocket()]
    images = torch.stack([torch.from_numpy(p[:64, :64].copy()) for p in photos])
    keys = [f"p{i}#center" for i in range(4)]
    metrics = {"ab-swd": ABSlicedWasserstein(), "delta-cf": DeltaColorfulness()}
    refs = set_reference_scores(metrics, images, keys)
    assert set(refs["truth"]) == {"ab-swd"} and refs["truth"]["ab-swd"] > 0
    assert refs["split_half_photos"] == 2 and refs["n_split_half"] == 2
    info = set_info(metrics, 4, refs["n_split_half"], refs["split_half_photos"])
    assert info["delta-cf"] == {"n_images": 4, "n_split_half": None, "split_half_photos": None}
    assert info["ab-swd"]["split_half_photos"] == 2
