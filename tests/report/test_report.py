"""Reports: seeds with confidence intervals, significance, HTML that renders, two result sets compared."""

import base64
import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ganbench.cli import cli


class _TwinAndMetric:
    """A tiny in-process plugin: a second name for the DCGAN recipe and a metric of its own."""

    from ganbench.core.hookspecs import hookimpl

    @hookimpl
    def register_models(self, register):
        from ganbench_plugins.recipes import dcgan

        register("dcgan-twin", dcgan)

    @hookimpl
    def register_metrics(self, register):
        import torch

        from ganbench.api import Metric

        class RedGreenError(Metric):
            name, unit, higher_is_better = "rg-error", "levels", False

            def compute(self, pred, target):
                rg = lambda x: x[..., 0].double() - x[..., 1].double()  # noqa: E731
                return (rg(pred) - rg(target)).abs().flatten(1).mean(1).to(torch.float64)

        register("rg-error", RedGreenError)


def _photo_folders(root):
    """4 training and 6 test photos (crops of the embedded ones); two test files have a '#' in their names."""
    import skimage.data
    from PIL import Image

    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea(), skimage.data.rocket()]
    for split, names in (("train", [f"t{i}.png" for i in range(4)]),
                         ("test", ["a#1.png", "a#2.png", "b.png", "c.png", "d.png", "e.png"])):
        if (root / split).is_dir():
            continue
        (root / split).mkdir()
        for i, name in enumerate(names):
            img = photos[i % 4][(i // 4) * 64:, (i // 4) * 64:][:200, :200]
            Image.fromarray(np.ascontiguousarray(img)).save(root / split / name)
    return ["--dataset", "folder", "--data-root", str(root / "train"), "--test-root", str(root / "test")]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """dcgan and wgan-gp (seeds 0, 1) and dcgan-twin (the DCGAN recipe under another name, seeds 2, 3) on
    6 test photos at the smoke budget, with a plugin metric; the report is made without the plugin."""
    from ganbench.testing import plugin

    root = tmp_path_factory.mktemp("seeded")
    results = root / "results"
    common = ["--budget", "smoke", *_photo_folders(root), "--metrics", "psnr,mae,ssim,colorfulness,rg-error",
              "--results", str(results), "--device", "cpu", "-q"]
    with plugin(_TwinAndMetric(), name="twin-and-metric"):
        for models, seeds in (("dcgan,wgan-gp", "0,1"), ("dcgan-twin", "2,3")):
            out = CliRunner().invoke(cli, ["run", "--models", models, "--seeds", seeds, *common])
            assert out.exit_code == 0, out.output
    report = CliRunner().invoke(cli, ["report", "--results", str(results)])
    assert report.exit_code == 0, report.output
    (root / "console.txt").write_text(report.output)
    return results


def test_seeds_give_mean_and_ci(seeded):
    out = CliRunner().invoke(cli, ["report", "--results", str(seeded), "--json"])
    assert out.exit_code == 0
    data = json.loads(out.output)
    rows = {r["model"]: r for r in data["comparisons"][0]["rows"]}
    assert rows["dcgan"]["seeds"] == 2 and rows["wgan-gp"]["seeds"] == 2
    assert rows["dcgan"]["psnr_ci"] is not None and rows["dcgan"]["psnr_ci"] >= 0
    per_seed = []
    for run in (seeded / "runs").glob("*-dcgan-s*"):
        per_seed.append(json.loads((run / "metrics.json").read_text())["model"]["psnr"])
    assert rows["dcgan"]["psnr"] == pytest.approx(np.mean(per_seed))
    md = (seeded / "report" / "report.md").read_text()
    assert "±" in md and "| gray" in md
    assert "not significant" in md
    sig = data["comparisons"][0]["significance"]
    assert {(s["model"], s["versus"]) for s in sig if s["metric"] == "psnr"} >= {("dcgan", "gray"),
                                                                                 ("dcgan", "wgan-gp")}
    per_image = pd.read_csv(next((seeded / "runs").glob("*-dcgan-s*")) / "per_image.csv")
    assert {"image", "model_psnr", "gray_psnr", "truth_colorfulness"} <= set(per_image.columns)


def test_html_is_self_contained(seeded):
    html = (seeded / "report" / "index.html").read_text()
    srcs = re.findall(r'src="([^"]+)"', html)
    assert len(srcs) >= 5  # curves + one sample grid per run
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in html and "https://" not in html
    assert "<table" in html and "gray" in html  # the recipe column names the whole recipe
    assert "wasserstein + gp(weight=10.0); G adam 0.0001" in html
    from PIL import Image

    combined = Image.open(seeded / "report" / "samples-0.png")
    # gray input | dcgan | wgan-gp | dcgan-twin | truth: five columns of 128 px cells with 4 px gaps
    assert combined.width == 5 * (128 + 4) + 4 and "gray input | each model | truth" in html


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium not installed")
def test_html_renders_in_headless_chromium(seeded, tmp_path):
    page = tmp_path / "check.html"
    probe = ("<script>window.addEventListener('load',()=>{const imgs=[...document.images];"
             "const ok=imgs.filter(i=>i.complete&&i.naturalWidth>0).length;"
             "document.title='images '+ok+'/'+imgs.length;});</script>")
    page.write_text((seeded / "report" / "index.html").read_text().replace("</body>", probe + "</body>"))
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    m = re.search(r"<title>images (\d+)/(\d+)</title>", res.stdout)
    assert m and m.group(1) == m.group(2) and int(m.group(2)) >= 5, res.stdout[:500]
    assert "Uncaught" not in res.stderr and "CONSOLE" not in res.stderr.upper().replace("CONSOLE_", "")


def test_compare_two_result_sets(seeded, tmp_path):
    other = tmp_path / "other"
    dataset = _photo_folders(seeded.parent)  # the same photos: the same comparison
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--budget", "smoke", *dataset, "--results", str(other),
                                   "--device", "cpu", "-q"])
    assert out.exit_code == 0
    out = CliRunner().invoke(cli, ["report", "--compare", str(seeded), str(other), "--out", str(tmp_path / "cmp"),
                                   "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    dc = next(r for r in rows if r["model"] == "dcgan")
    assert dc["psnr_diff"] == pytest.approx(dc["psnr_B"] - dc["psnr_A"])
    assert (tmp_path / "cmp" / "compare.md").exists()


# --- verdicts on stored runs of known scores (no training) ----------------------------------------------
def fake_run(model, seed, model_scores, gray_scores, *, when="20260101-000000", metric="psnr", options=None,
             identity=None, extra=None, info=None, status="complete"):
    """A RunInfo as load_runs builds it: per-photo scores (one crop each) for ``metric`` and its gray."""
    from pathlib import Path

    from ganbench.report.comparison import RunInfo
    from ganbench.store.records import MetricsRecord, RunRecord

    n = len(model_scores)
    images = [f"photo{i}.png#center" for i in range(n)]
    frame = pd.DataFrame({"image": images, f"model_{metric}": model_scores, f"gray_{metric}": gray_scores,
                          **(extra or {})})
    metrics_info = {metric: {"higher_is_better": True, "unit": "dB", "reference_free": False}, **(info or {})}
    names = [metric] + [c[len("model_"):] for c in (extra or {}) if c.startswith("model_")]
    config = {"model": model, "seed": seed, "dataset": "folder", "dataset_options": {}, "device": "cpu",
              "budget": {"name": "smoke"}, "precision": "fp32", "metrics": names, "ema": 0.0,
              "recipe": {"loss": "bce"}, "checkpoint_every": 100, **(options or {})}
    record = {"config": config, "comparison": "k", "budget": {"name": "smoke"}, "status": status,
              **({"identity": identity} if identity else {})}
    means = {m: float(np.mean(frame[f"model_{m}"])) for m in names}
    metrics = {"model": means, "gray": {m: float(np.mean(frame[f"gray_{m}"])) for m in names if f"gray_{m}" in frame},
               "truth": {}, "metrics": metrics_info, "selected": "best"}
    return RunInfo(Path(f"runs/{when}-{model}-s{seed}-{seed:06d}"), RunRecord.from_json(record),
                   MetricsRecord.from_json(metrics), frame, status)


def _comparison(runs):
    from ganbench.report.comparison import build_comparison

    return build_comparison("k", runs)


def _line(comp, model, versus="gray", metric="psnr"):
    from ganbench.report.tables import significance_lines

    hits = [s for s in significance_lines(comp) if s.startswith(f"{model} − {versus} ({metric}")]
    assert len(hits) == 1, significance_lines(comp)
    return hits[0]


GRAY = np.array([18.0, 22, 25, 19, 21, 23, 20, 24])


def test_model_minus_gray_sign_verdict_and_table_mark():
    up = GRAY + np.array([1.1, 0.9, 1.3, 0.8, 1.0, 1.2, 0.7, 1.0])
    comp = _comparison([fake_run("good", 0, up, GRAY), fake_run("bad", 0, GRAY - (up - GRAY), GRAY)])
    good, bad = _line(comp, "good"), _line(comp, "bad")
    assert good.startswith("good − gray (psnr, dB): +1 [95% CI +0.") \
        and "generator-level difference, good is better on these photos" in good
    assert bad.startswith("bad − gray (psnr, dB): -1 [95% CI -1.") \
        and "generator-level difference, gray is better on these photos" in bad
    marks = dict(zip(comp.table["model"], comp.table["vs_gray"], strict=True))
    # one seed: a generator-level claim, marked as such (issue 28)
    assert marks["good"] == "1 generator: above gray (recipe: needs 3 seeds)"
    assert marks["bad"] == "1 generator: below gray (recipe: needs 3 seeds)"
    assert "good better on 8, worse on 0, tied on 0" in good and "1 seed, 8 test photos" in good


def test_fewer_than_five_photos_are_never_significant():
    comp = _comparison([fake_run("m", 0, GRAY[:4] + np.array([3.0, 3.1, 2.9, 3.0]), GRAY[:4])])
    s = comp.significance[0]
    assert s["p"] < 1e-3 and s["p_holm"] < 0.05 and not s["significant"]  # the data alone would say yes
    assert "not significant (fewer than 5 test photos)" in _line(comp, "m")
    assert comp.table.set_index("model").loc["m", "vs_gray"] == "1 generator: ≈ gray (recipe: needs 3 seeds)"


def test_significance_is_two_sided_at_95_percent():
    from scipy import stats

    d = np.array([0.9, -0.2, 1.4, 0.1, 0.6, -0.5, 1.0, 0.3])  # one-sided p < 0.05 < two-sided p
    ref = stats.ttest_rel(GRAY + d, GRAY)
    assert ref.pvalue / 2 < 0.05 < ref.pvalue
    comp = _comparison([fake_run("m", 0, GRAY + d, GRAY)])
    s = comp.significance[0]
    ci = ref.confidence_interval(0.95)
    assert s["p"] == pytest.approx(ref.pvalue) and not s["significant"]
    assert (s["ci_low"], s["ci_high"]) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert f"[95% CI {ci.low:+.3g}, {ci.high:+.3g}]" in _line(comp, "m")


def test_a_mean_that_few_photos_decide_says_so():
    d = np.array([-0.2, -0.1, -0.3, -0.2, -0.1, -0.2, 8.0, 9.0])  # better on 2 photos, worse on 6
    d = np.concatenate([d, d, d])
    gray = np.tile(GRAY, 3)
    comp = _comparison([fake_run("m", 0, gray + d, gray)])
    line = _line(comp, "m")
    assert "generator-level difference, m is better" in line and "m better on 6, worse on 18, tied on 0" in line
    assert "Note: the mean favours m, but it is better on fewer photos than it is worse (6 vs 18)" in line


def test_rows_count_distinct_seeds_and_leave_out_duplicates_superseded_runs_and_variants():
    ident_old = {"recipe_hash": "aaa", "plugins": {"ganbench": "0.1.0", "extra": "1.0"}}
    ident_new = {"recipe_hash": "bbb", "plugins": {"ganbench": "0.1.0", "extra": "1.1"}}
    runs = [fake_run("dcgan", s, GRAY + 1 + s / 10, GRAY, when=f"20260101-00000{s}", identity=ident_old)
            for s in (0, 1, 2)]
    runs += [fake_run("dcgan", s, GRAY + 2, GRAY, when=f"20260102-00000{s}", identity=ident_new) for s in (0, 1)]
    runs.append(fake_run("dcgan", 1, GRAY + 2, GRAY, when="20260102-000009", identity=ident_new))  # a duplicate
    runs += [fake_run("dcgan", s, GRAY, GRAY, when=f"20260103-00000{s}", identity=ident_new,
                      options={"ema": 0.999}) for s in (0, 1, 2)]
    comp = _comparison(runs)
    rows = comp.table.set_index("model")
    assert rows.loc["dcgan (ema 0.0)", "seeds"] == 2 and rows.loc["dcgan (ema 0.999)", "seeds"] == 3
    assert rows.loc["dcgan (ema 0.0)", "psnr"] == pytest.approx(np.mean(GRAY) + 2)  # old identity not pooled
    excluded = "\n".join(comp.excluded)
    assert excluded.count("superseded: dcgan seed") == 3 and "extra 1.0" in excluded and "extra 1.1" in excluded
    assert "duplicate: dcgan seed 1 ran twice" in excluded
    from ganbench.report.tables import row_notes

    assert any(n.startswith("dcgan (ema 0.0): seeds 0, 1; recipe bbb; extra 1.1, ganbench 0.1.0")
               for n in row_notes(comp))
    # the two options variants are compared with each other (seed unit: 2 and 3 seeds)
    assert "dcgan (ema 0.0) 2 seeds, dcgan (ema 0.999) 3 seeds" in _line(comp, "dcgan (ema 0.0)",
                                                                     "dcgan (ema 0.999)")


def test_a_ci_states_its_own_n_and_non_finite_scores_are_reported():
    from ganbench.report.tables import display_table

    info = {"ssim": {"higher_is_better": True, "unit": "", "reference_free": False}}
    runs = [fake_run("m", s, GRAY + 1, GRAY, extra={"model_ssim": np.full(8, 0.8), "gray_ssim": np.full(8, 0.7)},
                     info=info) for s in (0, 1, 2)]
    runs[2].metrics.model.pop("ssim")
    runs[1].per_image.loc[3, "model_psnr"] = float("inf")
    runs[1].metrics.model["psnr"] = float("inf")
    comp = _comparison(runs)
    shown = display_table(comp).set_index("model")
    assert shown.loc["m", "ssim ↑"] == "0.8000 ± 0.0000 (n = 2)" and shown.loc["m", "seeds"] == "3"
    assert shown.loc["m", "psnr dB ↑"] == "—"
    assert any("seed 1 scored inf" in p for p in comp.problems)
    assert "not tested: seed 1 has a non-finite model_psnr (inf) on photo3.png#center" in _line(comp, "m")


def test_a_plugin_metric_gets_its_column_star_and_tests_from_its_record():
    from ganbench.report.tables import display_table

    info = {"blur": {"higher_is_better": False, "unit": "px", "reference_free": False}}
    runs = [fake_run(m, s, GRAY + 1, GRAY, info=info, extra={"model_blur": np.full(8, b) + s / 10,
                                                             "gray_blur": np.full(8, 3.0)})
            for m, b in (("sharp", 1.0), ("soft", 2.0)) for s in (0, 1, 2)]
    comp = _comparison(runs)
    shown = display_table(comp).set_index("model")
    assert shown.loc["sharp", "blur px ↓"].endswith(" *") and not shown.loc["soft", "blur px ↓"].endswith("*")
    line = _line(comp, "sharp", "gray", "blur")
    assert line.startswith("sharp − gray (blur, px): -1.9 ") and "significant, sharp is better" in line
    assert "sharp better on 8, worse on 0" in line  # lower is better for this metric
    assert {s["metric"] for s in comp.significance} == {"psnr", "blur"}
    # Holm over the whole family: 2 metrics × (2 against gray + 1 pair) = 6 lines
    tested = [s for s in comp.significance if s["p"] is not None]
    assert len(comp.significance) == 6 and all(s["p_holm"] >= s["p"] for s in tested)


# --- end to end: what was run, not what it is called ---------------------------------------------------
def test_two_names_of_one_recipe_are_not_called_different(seeded):
    results = seeded
    data = json.loads((results / "report" / "report.json").read_text())
    sig = [s for s in data["comparisons"][0]["significance"] if s["versus"] == "dcgan-twin"]
    assert {s["metric"] for s in sig} == {"psnr", "mae", "ssim", "rg-error"}  # colourfulness: no reference
    for s in sig:
        assert not s["significant"] and (s["seeds_a"], s["seeds_b"], s["n_photos"]) == (2, 2, 6)
    rows = {r["model"]: r for r in data["comparisons"][0]["rows"]}
    assert rows["dcgan"]["seeds"] == 2 and rows["dcgan-twin"]["seeds"] == 2
    assert rows["dcgan"]["identity"] == rows["dcgan-twin"]["identity"]  # the same recipe, hashed


def test_a_plugin_metric_reaches_every_report_format(seeded):
    results = seeded
    md = (results / "report" / "report.md").read_text()
    html_text = (results / "report" / "index.html").read_text()
    console = " ".join((results.parent / "console.txt").read_text().split())
    for text in (md, html_text):
        assert "rg-error levels ↓" in text and "dcgan − dcgan-twin (rg-error, levels)" in text
    assert "rg-error" in console and "dcgan − dcgan-twin (rg-error, levels)" in console
    csv = pd.read_csv(results / "report" / "report.csv")
    assert {"rg-error", "rg-error_ci"} <= set(csv.columns)
