"""Issue 28: verdicts that hold at every edge. One test per defect the issue lists (each failed before the
change), through the report's own functions; and a small calibration through the harness the docs quote."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from benchmark_module import load_benchmark

from ganbench.report.comparison import Comparison, _vs_gray_marks
from ganbench.report.curve_sentences import gray_sentence, leader_sentence
from ganbench.report.curves import BUDGET, Curve, PointStats, first_above_gray
from ganbench.score.stats import paired_test
from ganbench.score.verdicts import MetricInfo, compare_rows, line

PSNR = MetricInfo("psnr", True, "dB")
ROOT = Path(__file__).resolve().parents[2]




def _frames(model: np.ndarray, gray: np.ndarray, **extra) -> dict[int, pd.DataFrame]:
    names = [f"p{i}.png#center" for i in range(gray.size)]
    return {s: pd.DataFrame({"image": names, "model_psnr": model[s], "gray_psnr": gray, **extra})
            for s in range(model.shape[0])}


def _marks(rows, tests) -> list[str]:
    comp = Comparison("k", [])
    comp.table = pd.DataFrame({"model": list(rows)})
    comp.significance = tests
    return _vs_gray_marks(comp, "psnr")


# --- one seed is a generator-level claim ----------------------------------------------------------------
def test_one_seed_is_never_a_recipe_level_verdict_and_says_what_it_needs():
    gray = np.random.default_rng(0).normal(20, 3, 126)
    rows = {"m": _frames(gray[None, :] + 0.4 + np.random.default_rng(1).normal(0, 0.5, (1, 126)), gray)}
    [t] = compare_rows(rows, [PSNR])
    assert t["claim"] == "generator" and not t["significant"] and t["generator_significant"]
    text = line(t)
    assert "significant, m is better" not in text
    assert "generator-level difference, m is better on these photos" in text and "--seeds 3" in text
    assert _marks(rows, [t]) == ["1 generator: above gray (recipe: needs 3 seeds)"]


def test_three_seeds_are_a_recipe_level_verdict():
    rng = np.random.default_rng(2)
    gray = rng.normal(20, 3, 40)
    rows = {"m": _frames(gray[None, :] + 2.0 + rng.normal(0, 0.3, (3, 40)), gray)}
    [t] = compare_rows(rows, [PSNR])
    assert t["claim"] == "recipe" and t["significant"] and _marks(rows, [t]) == ["above gray"]


# --- zero variance and exact ties -----------------------------------------------------------------------
def test_a_difference_with_no_variance_is_not_tested():
    gray = np.full(20, 0.5)
    res = paired_test(np.full((1, 20), 0.396), gray)  # one set-level value per image: no photo variance
    assert res.p is None and "no variance" in res.untested and res.mean_diff == pytest.approx(-0.104)
    [t] = compare_rows({"m": _frames(np.full((1, 20), 0.396), gray)}, [PSNR])
    assert not t["significant"] and not t["generator_significant"] and "not tested" in line(t)


def test_exact_ties_stay_exact():
    gray = np.random.default_rng(3).normal(20, 3, 20) + 0.1
    res = paired_test(np.tile(gray, (3, 1)), gray)
    assert res.mean_diff == 0.0 and res.n_tied == 20 and res.p == 1.0
    assert paired_test(np.tile(gray, (3, 1)), np.tile(gray, (3, 1))).mean_diff == 0.0
    # through the report: gray recorded by each of 3 seeds, the model scoring exactly gray's
    [t] = compare_rows({"m": _frames(np.tile(gray, (3, 1)), gray)}, [PSNR])
    assert t["mean_diff"] == 0.0 and t["n_tied"] == 20 and not t["significant"]


# --- win counts: photos only, no p ----------------------------------------------------------------------
def test_photo_counts_carry_no_p():
    gray = np.random.default_rng(4).normal(20, 3, 30)
    [t] = compare_rows({"m": _frames(gray[None, :] + np.linspace(-1, 1, 30), gray)}, [PSNR])
    assert "sign_p" not in t and "sign test" not in line(t) and "photo counts (no test)" in line(t)


# --- colourless photos ----------------------------------------------------------------------------------
def test_colourless_photos_are_counted_and_left_out():
    rng = np.random.default_rng(5)
    gray = rng.normal(20, 3, 126)
    model = gray[None, :] + 1.0 + rng.normal(0, 0.5, (3, 126)) + rng.normal(0, 0.1, (3, 1))
    gray[0], model[:, 0] = 100.0, 95.0  # a black-and-white photo: gray is exact there
    colour = np.full(126, 30.0)
    colour[0] = 0.0
    [t] = compare_rows({"m": _frames(model, gray, truth_colorfulness=colour)}, [PSNR])
    assert t["excluded_photos"] == ["p0.png"] and t["n_photos"] == 125
    assert t["significant"] and t["better"] == "m"  # one such photo no longer decides the verdict
    assert "1 photo with colourless truth left out (p0.png)" in line(t)


# --- curves: one family per model, leads that are significant -------------------------------------------
def _curve(tests_per_point: list[list[dict]], means: list[dict[str, float]]) -> Curve:
    n = len(tests_per_point)
    curve = Curve(BUDGET, "k", "t", [SimpleNamespace(significance=t) for t in tests_per_point],
                  [f"{i} images" for i in range(n)], [2.0 ** i for i in range(n)],
                  {"psnr": {"higher_is_better": True, "unit": "dB", "reference_free": False}})
    models = list(means[0])
    curve.lines = {m: [PointStats(m, {0: {"psnr": means[i][m]}, 1: {"psnr": means[i][m]},
                                      2: {"psnr": means[i][m]}}, 0, 0, 0, 0) for i in range(n)] for m in models}
    return curve


def _t(model: str, versus: str, p_holm: float, diff: float = 0.3, claim: str = "recipe") -> dict:
    return {"model": model, "versus": versus, "metric": "psnr", "mean_diff": diff, "ci_low": diff - 0.2,
            "ci_high": diff + 0.2, "p": p_holm, "p_holm": p_holm, "significant": p_holm < 0.05 and claim == "recipe",
            "n_photos": 1000, "seeds_a": 3, "seeds_b": None, "claim": claim, "higher_is_better": True}


def test_first_beats_gray_is_corrected_across_the_curves_points():
    curve = _curve([[_t("m", "gray", 0.03)], [_t("m", "gray", 0.5)], [_t("m", "gray", 0.6)], [_t("m", "gray", 0.7)]],
                   [{"m": 20.0}] * 4)
    assert first_above_gray(curve, "m", "psnr") is None  # 0.03 x 4 points is not below 0.05
    assert "first beats gray" not in gray_sentence(curve, "m", "psnr")
    curve = _curve([[_t("m", "gray", 0.001)], [_t("m", "gray", 0.5)]], [{"m": 20.0}] * 2)
    assert first_above_gray(curve, "m", "psnr") == 0


def test_the_curves_forest_plot_marks_the_verdicts_corrected_across_its_points(tmp_path):
    from ganbench.report.curve_section import curve_forest_lines
    from ganbench.report.forest import plot_forest

    curve = _curve([[_t("m", "gray", 0.03)], [_t("m", "gray", 0.001)], [_t("m", "gray", 0.6)], [_t("m", "gray", 0.7)]],
                   [{"m": 20.0}] * 4)
    lines = curve_forest_lines(curve)
    assert [s["model"] for s in lines] == [f"m @ {i} images" for i in range(4)]
    # 0.03 is significant within its point, not across the curve's 4 points; 0.001 is (the table's ▲)
    assert [s["significant"] for s in lines] == [False, True, False, False]
    assert plot_forest(lines, tmp_path / "f.png", "t", "corrected across the curve's points")
    assert (tmp_path / "f.png").stat().st_size > 5_000


def test_no_recipe_level_curve_claim_from_one_seed():
    curve = _curve([[_t("m", "gray", 1e-6, claim="generator")]] * 2, [{"m": 20.0}] * 2)
    assert first_above_gray(curve, "m", "psnr") is None
    assert "no recipe-level claim against gray" in gray_sentence(curve, "m", "psnr")


def test_the_lead_changes_hands_only_between_significant_leads():
    # a leads at the first point, b at the second, neither significantly
    tests = [[_t("a", "b", 0.4)], [_t("a", "b", 0.5, diff=-0.3)]]
    curve = _curve(tests, [{"a": 20.3, "b": 20.0}, {"a": 20.0, "b": 20.3}])
    assert leader_sentence(curve, "psnr") is None
    tests = [[_t("a", "b", 0.001)], [_t("a", "b", 0.001, diff=-0.3)]]
    curve = _curve(tests, [{"a": 20.3, "b": 20.0}, {"a": 20.0, "b": 20.3}])
    assert "significant lead on PSNR changes hands" in leader_sentence(curve, "psnr")


# --- the seed-level test on its own ---------------------------------------------------------------------
def test_seed_level_test_is_the_seed_part_of_the_line_test():
    from ganbench.score.seed_quantiles import critical
    from ganbench.score.stats import seed_level_test

    a, b = [20.1, 20.5, 19.9, 20.8], [19.0, 19.4, 19.1]
    res = seed_level_test(a, b)
    # Banerjee's interval over the two seed components, each with the seed critical value of its seed count
    half = math.hypot(critical(4, 0.05) * np.std(a, ddof=1) / 2, critical(3, 0.05) * np.std(b, ddof=1) / math.sqrt(3))
    assert (res.ci_high - res.ci_low) / 2 == pytest.approx(half) and res.significant == (res.p < 0.05)
    assert res.estimate == pytest.approx(np.mean(a) - np.mean(b))
    # one photo: paired_test on these per-seed values is the same test
    line_test = paired_test(np.asarray(a)[:, None], np.asarray(b)[:, None])
    assert line_test.p == pytest.approx(res.p, rel=1e-6) and line_test.ci_low == pytest.approx(res.ci_low)
    assert seed_level_test([1.0, 2.0], 0.0).p is None  # two seeds: below the minimum
    assert seed_level_test([1.0, 1.0, 1.0], 1.0).p == 1.0 and seed_level_test([2.0] * 3, 1.0).p is None


# --- JSON -----------------------------------------------------------------------------------------------
def test_non_finite_numbers_are_written_as_null_with_a_reason(tmp_path):
    from ganbench.store.results import atomic_write_json

    atomic_write_json(tmp_path / "x.json", {"ci": float("nan"), "hi": float("inf"), "ok": 1.5,
                                            "rows": [{"v": np.float64("nan")}], "list": [1.0, float("nan")]})
    text = (tmp_path / "x.json").read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert data["ci"] is None and "NaN" in data["ci_null_reason"] and data["hi"] is None and data["ok"] == 1.5
    assert data["rows"][0]["v"] is None and data["list"] == [1.0, None] and "list_null_reason" in data


# --- superseded runs ------------------------------------------------------------------------------------
def test_a_rerun_after_a_recipe_change_supersedes_the_old_runs():
    from ganbench.report.grouping import group_rows
    from ganbench.store.records import RunRecord

    def run(seed: int, when: str, recipe_hash: str):
        ident = {"recipe_hash": recipe_hash, "plugins": {"my-plugin": "1.0"}}
        cfg = {"model": "sngan", "seed": seed, "dataset": "folder", "budget": {"name": "smoke"}, "ema": 0.0,
               "recipe": {"loss": "hinge"}, "identity": ident}
        return SimpleNamespace(path=Path(f"runs/{when}-sngan-s{seed}"), status="complete",
                               record=RunRecord.from_json({"config": cfg, "identity": ident}))

    runs = [run(s, "20260101", "old") for s in (0, 1, 2)] + [run(s, "20260102", "new") for s in (0, 1, 2)]
    rows, notes = group_rows(runs)
    assert len(rows) == 1 and rows[0].label == "sngan" and rows[0].identity["recipe_hash"] == "new"
    assert sorted(r.path.name for r in rows[0].counted.values()) == [f"20260102-sngan-s{s}" for s in (0, 1, 2)]
    assert sum(n.startswith("superseded: sngan") for n in notes) == 3


# --- a small calibration through the report's own code ---------------------------------------------------
def test_small_calibration_of_the_reports_verdicts():
    cal = load_benchmark("calibration")
    reps = 60
    for cell in cal.cells():
        if cell.name in ("1 seed(s), 1000 photos: table mark above/below", "3 seed(s), 126 photos: significant line",
                         "4 points, 3 seeds, 1000 photos: first beats gray"):
            r = cal.run_cell(cell, reps if "points" not in cell.name else 30, seed=7)
            assert r["lo"] <= 0.05, (cell.name, r)  # today: 82% for a one-seed mark at 1000 photos
        if cell.section in ("vs gray, skewed noise", "vs gray, failed noise") and cell.name.startswith("3 seeds, 1000"):
            r = cal.run_cell(cell, reps, seed=7)
            assert r["lo"] <= 0.05, (cell.section, r)  # before the seed critical values: 16% / 8%
        if cell.name == "vs gray, truly +1 dB, 5 seeds, 126 photos":
            r = cal.run_cell(cell, reps, seed=7)
            assert r["rate"] > 0.4, r  # the tests are not blind
    assert math.isfinite(cal.wilson(3, 60)[1])
