"""Set-level verdicts: tested over seeds only, never with fewer than 3 seeds a side; calibrated on synthetic
seed values of known truth (false rate near 5%, real power)."""

import numpy as np
import pytest
from scipy import stats

from ganbench.score.set_level import (
    MIN_SEEDS,
    calibrate,
    compare_seed_values,
    holm,
    line,
    seeds_vs_constant,
    seeds_vs_seeds,
)
from ganbench.score.verdicts import MetricInfo


def test_vs_gray_is_the_one_sample_t_test():
    x = [0.31, 0.42, 0.27, 0.38]
    res = seeds_vs_constant(x, 0.2)
    ref = stats.ttest_1samp(x, 0.2)
    assert res["p"] == pytest.approx(ref.pvalue, rel=1e-10) and res["diff"] == pytest.approx(np.mean(x) - 0.2)
    assert res["ci"] == pytest.approx(stats.t.ppf(0.975, 3) * np.std(x, ddof=1) / 2)


def test_vs_row_is_welch():
    a, b = [1.0, 1.3, 0.8, 1.1], [2.0, 1.6, 2.4]
    res = seeds_vs_seeds(a, b)
    assert res["p"] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-10)


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


def test_calibration_false_rate_and_power():
    # seed values ~ N(effect, 1): with no effect "significant" about 5% of the time, with a real effect often
    null_gray = calibrate(3, 0.0, reps=1500)
    null_rows = calibrate(3, 0.0, reps=1500, versus="row")
    assert 0.03 <= null_gray <= 0.07
    assert 0.02 <= null_rows <= 0.07  # Welch is slightly conservative at 3 seeds a side
    assert calibrate(5, 2.0, reps=800) > 0.85
    assert calibrate(3, 2.0, reps=800) > 0.35
    assert calibrate(5, 2.0, reps=800, versus="row") > 0.6
