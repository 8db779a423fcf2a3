"""A plugin author's set-level metric, written from docs/plugins.md alone (its snippet, run as it is), reaches
every table with seed-level verdicts and no per-photo p; the built-in set-level metrics and the
perception–distortion plot are in the report."""

import json
import re
import types
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from ganbench.cli import cli

ROOT = Path(__file__).resolve().parents[2]
TITLE = "chroma-gap ab ↓ (set, N = 6)"


def _photo_folders(root: Path) -> list[str]:
    """4 training and 6 test photos (crops of scikit-image's)."""
    import numpy as np
    import skimage.data
    from PIL import Image

    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea(), skimage.data.rocket()]
    for split, count in (("train", 4), ("test", 6)):
        (root / split).mkdir()
        for i in range(count):
            img = photos[i % 4][(i // 4) * 64 :, (i // 4) * 64 :][:200, :200]
            Image.fromarray(np.ascontiguousarray(img)).save(root / split / f"{split}{i}.png")
    return ["--dataset", "folder", "--data-root", str(root / "train"), "--test-root", str(root / "test")]


def docs_snippet() -> types.ModuleType:
    """The set-level metric block of docs/plugins.md, executed as a plugin module."""
    text = (ROOT / "docs" / "plugins.md").read_text()
    (code,) = re.findall(r"<!-- test: set-level-metric -->\n```python\n(.*?)```", text, flags=re.S)
    module = types.ModuleType("chroma_gap_plugin")
    exec(compile(code, "docs/plugins.md", "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """l1 and dcgan, 3 seeds each, smoke budget, 6 test photos, with the docs' metric and the built-in ab-swd;
    the report is made without the plugin (from the runs' records)."""
    from ganbench.testing import plugin

    root = tmp_path_factory.mktemp("setlevel")
    res = root / "results"
    with plugin(docs_snippet(), name="chroma-gap"):
        out = CliRunner().invoke(cli, ["run", "--models", "l1,dcgan", "--seeds", "3", "--budget", "smoke",
                                       *_photo_folders(root), "--metrics", "psnr,colorfulness,chroma-gap,ab-swd",
                                       "--results", str(res), "--device", "cpu", "-q"])
        assert out.exit_code == 0, out.output
    report = CliRunner().invoke(cli, ["report", "--results", str(res)])
    assert report.exit_code == 0, report.output
    (root / "console.txt").write_text(report.output)
    return res


def test_the_docs_metric_is_stored_per_set_with_its_n(results):
    run = next((results / "runs").glob("*-dcgan-s0*"))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["metrics"]["chroma-gap"]["level"] == "set"
    assert metrics["set_level"]["chroma-gap"] == {"n_images": 6, "n_split_half": 3, "split_half_photos": 3}
    for side in ("model", "last", "gray", "truth"):
        assert isinstance(metrics[side]["chroma-gap"], float)
    assert json.loads((run / "run.json").read_text())["set_level"]["ab-swd"]["n_images"] == 6
    per_image = pd.read_csv(run / "per_image.csv")
    assert not any("chroma-gap" in c or "ab-swd" in c for c in per_image.columns)


def test_it_reaches_every_table_with_seed_level_verdicts_and_no_per_photo_p(results):
    rep = results / "report"
    md, page = (rep / "report.md").read_text(), (rep / "index.html").read_text()
    console = " ".join((results.parent / "console.txt").read_text().split())
    data = json.loads((rep / "report.json").read_text())["comparisons"][0]
    # the pair line follows the rows' order, which two near-identical recipes may take either way
    first, second = [r["model"] for r in data["rows"] if r["model"] in ("l1", "dcgan")]
    for text in (md, page, console):
        assert TITLE in text or "chroma-gap ab ↓ (set, N =" in text
        assert "l1 − gray on chroma-gap (set, over seeds)" in text
        assert f"{first} − {second} on chroma-gap (set, over seeds)" in text
    assert not any(s["metric"] in ("chroma-gap", "ab-swd") for s in data["significance"])  # no per-photo line
    sets = {(s["model"], s["versus"], s["metric"]): s for s in data["set_significance"]}
    assert set(sets) == {(a, b, m) for m in ("chroma-gap", "ab-swd")
                         for a, b in (("l1", "gray"), ("dcgan", "gray"), (first, second))}
    assert all(s["seeds"] == 3 and "n_photos" not in s for s in sets.values())
    rows = {r["model"]: r for r in data["rows"]}
    per_seed = [json.loads((r / "metrics.json").read_text())["model"]["chroma-gap"]
                for r in (results / "runs").glob("*-dcgan-s*")]
    assert rows["dcgan"]["chroma-gap"] == pytest.approx(sum(per_seed) / 3) and rows["dcgan"]["chroma-gap_ci"] > 0
    assert rows["dcgan"]["chroma-gap_images"] == 6
    # 3 photos per half: the truth's split-half value stays in metrics.json but the report hides it, and says why
    assert rows["ground truth"]["chroma-gap"] is None and rows["ground truth"]["chroma-gap_images"] is None
    assert re.search(r"split-half value is not shown for [^:]*chroma-gap \(3 photos per half\)", " ".join(md.split()))
    assert data["set_level_images"] == {"chroma-gap": 6, "ab-swd": 6}
    csv = pd.read_csv(rep / "report.csv")
    assert {"chroma-gap", "chroma-gap_ci", "chroma-gap_images", "ab-swd"} <= set(csv.columns)
    assert (rep / "tradeoff-0.png").stat().st_size > 5000
    assert "perception-distortion plot" in page and "tradeoff-0.png" in md


def test_compare_shows_it_with_n(results, tmp_path):
    out = CliRunner().invoke(cli, ["report", "--compare", str(results), str(results), "--out", str(tmp_path),
                                   "--json"])
    assert out.exit_code == 0, out.output
    row = next(r for r in json.loads(out.output) if r["model"] == "dcgan")
    assert row["chroma-gap_diff"] == 0.0 and row["chroma-gap_images_A"] == 6
    assert "chroma-gap_A" in (tmp_path / "compare.md").read_text()


def test_compare_leaves_out_set_level_differences_at_unequal_n(tmp_path):
    """Set-level scores compare only at equal N: B − A is left empty (and said) when N differs."""
    from ganbench.report.compare import compare_results
    from ganbench.store.results import READABLE_SCHEMAS

    schema = sorted(READABLE_SCHEMAS)[-1]

    def fake(root, n, value):
        run = root / "runs" / "20260101-000000-m-s0-000000"
        run.mkdir(parents=True)
        config = {"model": "m", "seed": 0, "dataset": "folder", "dataset_options": {}, "device": "cpu",
                  "budget": {"name": "smoke"}, "precision": "fp32", "metrics": ["psnr", "swd"], "ema": 0.0,
                  "recipe": {"loss": "bce"}, "checkpoint_every": 100}
        (run / "run.json").write_text(json.dumps({"schema_version": schema, "config": config, "comparison": "k",
                                                  "budget": {"name": "smoke"}, "status": "complete"}))
        info = {"psnr": {"higher_is_better": True, "unit": "dB", "reference_free": False},
                "swd": {"higher_is_better": False, "unit": "ab", "reference_free": False, "level": "set"}}
        (run / "metrics.json").write_text(json.dumps({
            "model": {"psnr": 20.0, "swd": value}, "gray": {"psnr": 18.0, "swd": 9.0}, "truth": {},
            "metrics": info, "selected": "best", "set_level": {"swd": {"n_images": n, "n_split_half": n // 2}}}))
        pd.DataFrame({"image": ["p0#center", "p1#center"], "model_psnr": [20.0, 20.0],
                      "gray_psnr": [18.0, 18.0]}).to_csv(run / "per_image.csv", index=False)
        return root

    a, b, c = fake(tmp_path / "a", 100, 5.0), fake(tmp_path / "b", 100, 4.0), fake(tmp_path / "c", 50, 4.0)
    same = compare_results(a, b, tmp_path / "ab").set_index("model")
    assert same.loc["m", "swd_diff"] == pytest.approx(-1.0)
    other = compare_results(a, c, tmp_path / "ac").set_index("model")
    assert pd.isna(other.loc["m", "swd_diff"]) and other.loc["m", "psnr_diff"] == 0.0
    assert "different numbers of test images" in (tmp_path / "ac" / "compare.md").read_text()
