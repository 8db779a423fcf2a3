"""Set-level verdicts: tested over seeds only, never with fewer than 3 seeds a side, by the report's one
seed-level test; calibrated through the harness of every verdict (benchmarks/calibration.py)."""

from pathlib import Path

import numpy as np
import pytest
from benchmark_module import load_benchmark

from ganbench.score import seed_quantiles
from ganbench.score.set_level import MIN_SEEDS, compare_seed_values, holm, line, seeds_vs_constant, seeds_vs_seeds
from ganbench.score.stats import seed_level_test
from ganbench.score.verdicts import MetricInfo

ROOT = Path(__file__).resolve().parents[2]


def test_vs_gray_is_the_reports_seed_level_test():
    x = [0.31, 0.42, 0.27, 0.38]
    res = seeds_vs_constant(x, 0.2)
    ref = seed_level_test(x, 0.2)
    assert res["p"] == ref.p and res["diff"] == pytest.approx(np.mean(x) - 0.2)
    # the interval's half-width is the calibrated seed critical value times the standard error, wider than t's
    assert res["ci"] == pytest.approx(seed_quantiles.critical(4, 0.05) * np.std(x, ddof=1) / 2)
    assert seed_quantiles.critical(4, 0.05) > 3.18


def test_vs_row_is_the_reports_seed_level_test():
    a, b = [1.0, 1.3, 0.8, 1.1], [2.0, 1.6, 2.4]
    assert seeds_vs_seeds(a, b)["p"] == seed_level_test(a, b).p


def test_fewer_than_three_seeds_or_no_spread_make_no_claim():
    assert MIN_SEEDS == 3
    assert seeds_vs_constant([1.0, 5.0], 0.0)["p"] is None
    assert "at least 3" in seeds_vs_constant([1.0, 5.0], 0.0)["untested"]
    assert seeds_vs_seeds([1.0, 2.0, 3.0], [1.0, 2.0])["p"] is None
    assert seeds_vs_constant([2.0, 2.0, 2.0], 0.0)["p"] is None
    assert seeds_vs_constant([1.0, float("nan"), 2.0], 0.0)["p"] is None


def test_holm():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_lines_family_direction_and_wording():
    m = [MetricInfo("swd", higher_is_better=False, unit="ab", level="set")]
    rows = {"good": {s: {"swd": v} for s, v in enumerate([3.0, 3.1, 2.9])},
            "bad": {s: {"swd": v} for s, v in enumerate([6.0, 6.2, 5.9])},
            "short": {0: {"swd": 1.0}, 1: {"swd": 1.1}}}
    out = compare_seed_values(rows, {"swd": 5.0}, m)
    assert len(out) == 3 + 3  # three against gray, three pairs
    by = {(s["model"], s["versus"]): s for s in out}
    assert by[("good", "gray")]["significant"] and by[("good", "gray")]["better"] == "good"  # lower is better
    assert by[("bad", "gray")]["better"] == "gray"
    assert by[("short", "gray")]["p"] is None and not by[("short", "gray")]["significant"]
    tested = [s for s in out if s["p"] is not None]
    assert len(tested) == 3 and all(s["p_holm"] >= s["p"] for s in tested)
    text = line(by[("good", "bad")])
    assert text.startswith("good − bad on swd (set, over seeds): -3.033 ab ± ") and "3 seeds vs 3" in text
    assert "not tested: 2 seed(s)" in line(by[("short", "gray")])
    assert all("photo" not in line(s) for s in out)  # no per-photo claim, ever




def test_calibration_false_rate_and_power_through_the_harness():
    # seed values of known truth through compare_seed_values: skewed seeds (16% with Student's t at 3 seeds)
    # and failing ones keep 5%, and a real difference is still found
    cal = load_benchmark("calibration")
    by_name = {c.name: c for c in cal.cells() if c.section == "set level" or "set level" in c.name}
    for name in ("row vs gray, skewed seeds, 3 seeds", "row vs gray, failed seeds, 5 seeds",
                 "row vs row, equal means, one row failed, the other normal, 5 seeds"):
        r = cal.run_cell(by_name[name], 300, seed=3)
        assert r["lo"] <= 0.05, (name, r)
    assert cal.run_cell(by_name["set level, row vs gray, truly 2 seed sds (0.6), 10 seeds, normal"], 100,
                        seed=3)["rate"] > 0.6
