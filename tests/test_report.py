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
from ganbench.stats import mean_ci, paired_bootstrap


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    results = tmp_path_factory.mktemp("seeded")
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan,wgan-gp", "--seeds", "0,1", "--budget", "smoke",
                                   "--results", str(results), "--device", "cpu", "-q"])
    assert out.exit_code == 0, out.output
    return results


def test_mean_ci_matches_student_t():
    from scipy import stats

    x = [17.1, 17.5, 16.9, 17.8]
    mean, half = mean_ci(x)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
    assert mean == pytest.approx(np.mean(x)) and half == pytest.approx((hi - lo) / 2, rel=1e-3)
    assert np.isnan(mean_ci([3.0])[1])


def test_paired_bootstrap_detects_real_differences_only():
    rng = np.random.default_rng(0)
    base = rng.normal(20, 3, 40)
    better = paired_bootstrap(base + 0.5 + rng.normal(0, 0.1, 40), base)
    assert better["significant"] and better["ci_low"] > 0
    same = paired_bootstrap(base + rng.normal(0, 0.5, 40), base)
    assert not same["significant"] and same["ci_low"] < 0 < same["ci_high"]
    assert paired_bootstrap(base + 1, base) == paired_bootstrap(base + 1, base)  # seeded: reproducible


def test_paired_comparison_counts_the_photos_each_side_wins():
    from types import SimpleNamespace

    from ganbench.report import significance_lines

    # one photo decides the mean: the model is better on 5 of 6 photos and still worse on average
    model, gray = np.array([21.0, 22, 23, 24, 25, 10]), np.array([20.0, 21, 22, 23, 24, 31])
    res = paired_bootstrap(model, gray)
    assert (res["n_above"], res["n_below"], res["n"]) == (5, 1, 6) and res["mean_diff"] == pytest.approx(-16 / 6)
    mae = paired_bootstrap(np.array([5.0, 5, 9]), np.array([6.0, 6, 2]))  # lower MAE is better: 2 wins
    lines = significance_lines(SimpleNamespace(significance=[
        {"model": "dcgan", "versus": "gray", "metric": "psnr", **res},
        {"model": "dcgan", "versus": "gray", "metric": "mae", **mae}]))
    assert "not significant" in lines[0] and "(n = 6 test photos; dcgan better on 5 of them)" in lines[0]
    assert "dcgan better on 2 of them" in lines[1]


def test_seeds_give_mean_and_ci(seeded):
    out = CliRunner().invoke(cli, ["report", "--results", str(seeded), "--json"])
    assert out.exit_code == 0
    data = json.loads(out.output)
    rows = {r["model"]: r for r in data["comparisons"][0]["rows"]}
    assert rows["dcgan"]["seeds"] == 2 and rows["wgan-gp"]["seeds"] == 2
    assert rows["dcgan"]["psnr_ci"] is not None and rows["dcgan"]["psnr_ci"] >= 0
    per_seed = []
    for run in (seeded / "runs").glob("*-dcgan-*"):
        per_seed.append(json.loads((run / "metrics.json").read_text())["model"]["psnr"])
    assert rows["dcgan"]["psnr"] == pytest.approx(np.mean(per_seed))
    md = (seeded / "report" / "report.md").read_text()
    assert "±" in md and "| gray" in md
    assert "not significant" in md  # two embedded test photos: never claimed significant
    sig = data["comparisons"][0]["significance"]
    assert {(s["model"], s["versus"]) for s in sig if s["metric"] == "psnr"} >= {("dcgan", "gray"),
                                                                                 ("dcgan", "wgan-gp")}
    per_image = pd.read_csv(next((seeded / "runs").glob("*-dcgan-*")) / "per_image.csv")
    assert {"image", "model_psnr", "gray_psnr", "truth_colorfulness"} <= set(per_image.columns)


def test_html_is_self_contained(seeded):
    html = (seeded / "report" / "index.html").read_text()
    srcs = re.findall(r'src="([^"]+)"', html)
    assert len(srcs) >= 5  # curves + one sample grid per run
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in html and "https://" not in html
    assert "<table" in html and "gray" in html and "wasserstein-gp, adam" in html  # recipe column
    from PIL import Image

    combined = Image.open(seeded / "report" / "samples-0.png")
    # gray input | dcgan | wgan-gp | truth: four columns of 128 px cells with 4 px gaps
    assert combined.width == 4 * (128 + 4) + 4 and "gray input | each model | truth" in html


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
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--budget", "smoke", "--results", str(other),
                                   "--device", "cpu", "-q"])
    assert out.exit_code == 0
    out = CliRunner().invoke(cli, ["report", "--compare", str(seeded), str(other), "--out", str(tmp_path / "cmp"),
                                   "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    dc = next(r for r in rows if r["model"] == "dcgan")
    assert dc["psnr_diff"] == pytest.approx(dc["psnr_B"] - dc["psnr_A"])
    assert (tmp_path / "cmp" / "compare.md").exists()
