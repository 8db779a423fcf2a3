"""The statistics at their edges: shapes they refuse, designs with no variance, effects too large for a
root finder, and the cases a paired test must not confuse. Each test here kills mutants that
`python mutation/run.py stats` found surviving (docs/mutation.md lists them and the equivalent ones)."""

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from ganbench.score.seed_quantiles import critical
from ganbench.score.stats import PairedTest, mean_ci, paired_test, t_quantile


def test_mean_ci_of_nothing_one_value_and_three():
    assert all(math.isnan(v) for v in mean_ci([]))
    assert all(math.isnan(v) for v in mean_ci([None]))
    mean, half = mean_ci([None, 5.0])
    assert mean == 5.0 and math.isnan(half)
    mean, half = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(stats.t.ppf(0.975, 2) / math.sqrt(3), rel=1e-12)
    mean, half = mean_ci([4.0, 6.0])
    assert mean == 5.0 and half == pytest.approx(stats.t.ppf(0.975, 1) * math.sqrt(2) / math.sqrt(2), rel=1e-12)


def test_t_quantile_needs_one_degree_of_freedom():
    assert math.isnan(t_quantile(0.5))
    assert t_quantile(1) == pytest.approx(12.706204736, rel=1e-9)


def test_the_error_names_the_first_non_finite_value():
    with pytest.raises(ValueError, match=r"non-finite value \(nan\)"):
        mean_ci([1.0, float("nan"), float("inf")])


@pytest.mark.parametrize("bad", [np.zeros((2, 3, 4)), np.zeros(0), np.zeros((3, 0)), np.zeros((0, 5))])
def test_scores_of_the_wrong_shape_are_refused(bad):
    with pytest.raises(ValueError, match=r"expected a \(seeds, photos\) matrix"):
        paired_test(bad, np.zeros(bad.shape[-1] if bad.ndim else 0))
    with pytest.raises(ValueError, match=r"expected a \(seeds, photos\) matrix"):
        paired_test(np.ones((2, max(bad.shape[-1], 1))), bad)


def test_photo_counts_must_agree_either_way():
    with pytest.raises(ValueError, match=r"different photos \(3 vs 4\)"):
        paired_test(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"different photos \(4 vs 3\)"):
        paired_test(np.ones((2, 4)), np.ones(3))


def test_one_photo_of_one_seed_is_a_shape_the_test_accepts_and_declines():
    res = paired_test(np.array([[20.0]]), np.array([18.0]))
    assert res.p is None and "one photo of one seed" in res.untested and res.mean_diff == 2.0
    assert res.seed_variation is False


def test_a_vector_of_scores_is_one_seed():
    rng = np.random.default_rng(0)
    gray = rng.normal(20, 2, 9)
    model = gray + rng.normal(0.5, 1, 9)
    assert paired_test(model, gray) == paired_test(model[None, :], gray)


def test_two_photos_against_gray_is_the_t_test_with_one_degree_of_freedom():
    model, gray = np.array([[21.0, 18.5]]), np.array([20.0, 18.0])
    res = paired_test(model, gray)
    ref = stats.ttest_rel(model[0], gray)
    assert res.p == pytest.approx(ref.pvalue, rel=1e-12) and res.n_photos == 2


def test_one_photo_with_seeds_tests_the_seeds_alone():
    a, b = np.array([[20.0], [20.5], [21.0]]), np.array([[15.0], [15.25], [14.75]])
    res = paired_test(a, b)
    welch_se = math.sqrt(a.var(ddof=1) / 3 + b.var(ddof=1) / 3)
    assert res.seed_variation and res.p is not None and 0 < res.p < 0.05
    assert res.se == pytest.approx(welch_se, rel=1e-12)


def test_two_seeds_each_already_carry_seed_variation():
    rng = np.random.default_rng(1)
    a, b = rng.normal(20, 1, (2, 10)), rng.normal(20, 1, (2, 10))
    res = paired_test(a, b)
    assert res.seed_variation and res.p is not None
    assert res.se == pytest.approx(math.sqrt((a.mean(0) - b.mean(0)).var(ddof=1) / 10
                                             + a.mean(1).var(ddof=1) / 2 + b.mean(1).var(ddof=1) / 2), rel=1e-12)


@pytest.mark.parametrize("shift", [1.0, -1.0])
def test_a_difference_with_no_variance_at_all_is_not_tested(shift):
    # issue 28: no variance is nothing to judge a difference against (it used to be p = 0, "significant")
    gray = np.array([18.0, 21.0, 19.5, 24.0])
    res = paired_test((gray + shift)[None, :], gray)
    assert res.mean_diff == shift and res.p is None and "no variance" in res.untested


def test_no_difference_and_no_variance_is_an_exact_tie():
    gray = np.array([18.0, 21.0, 19.5, 24.0])
    res = paired_test(gray[None, :], gray)
    assert (res.mean_diff, res.ci_low, res.ci_high, res.se, res.p) == (0.0, 0.0, 0.0, 0.0, 1.0)


def test_an_exact_mean_difference_of_one_db_is_tested_like_any_other():
    d = np.array([0.5, 1.5, 0.75, 1.25, 1.0, 1.0])  # mean exactly 1.0
    b = np.array([[20.0] * 6, [20.0625] * 6, [19.9375] * 6])
    a = b + d
    res = paired_test(a, b)
    assert res.mean_diff == 1.0 and res.p is not None and res.p < 0.05


def test_the_p_value_is_symmetric_in_a_and_b_with_seeds():
    rng = np.random.default_rng(2)
    a = rng.normal(22, 1, (5, 15)) + rng.normal(0, 0.2, (5, 1))
    b = rng.normal(20, 1, (4, 15)) + rng.normal(0, 0.2, (4, 1))
    ab, ba = paired_test(a, b), paired_test(b, a)
    assert ab.p == pytest.approx(ba.p, rel=1e-9) and ab.p < 0.05 and ab.mean_diff == pytest.approx(-ba.mean_diff)


def test_tiny_p_values_stay_accurate():
    # 1 − alpha/2 rounds to 1 below alpha ≈ 1e-16: the interval must not need it
    rng = np.random.default_rng(7)
    a = 1.0 + rng.normal(0, 0.005, (8, 30)) + rng.normal(0, 0.0002, (8, 1))
    res = paired_test(a, np.zeros(30))
    assert 1e-250 < res.p < 1e-17
    v_photo, v_seed = a.mean(0).var(ddof=1) / 30, a.mean(1).var(ddof=1) / 8
    lo = res.mean_diff - math.sqrt(stats.t.isf(res.p / 2, 29) ** 2 * v_photo + critical(8, res.p) ** 2 * v_seed)
    assert lo == pytest.approx(0, abs=1e-6)  # the interval at level 1 − p just touches zero


def test_an_effect_beyond_any_interval_has_p_zero():
    # no level down to 1e-300 holds zero: 50 seeds and 50 photos, noise 10⁻⁹ of the effect
    rng = np.random.default_rng(8)
    a = 1.0 + rng.normal(0, 1e-9, (50, 50)) + rng.normal(0, 1e-9, (50, 1))
    res = paired_test(a, np.zeros(50))
    assert res.seed_variation and res.p == 0.0


def test_a_result_is_immutable():
    res = paired_test(np.ones((1, 3)) + np.array([0.0, 1.0, 2.0]), np.zeros(3))
    assert isinstance(res, PairedTest)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.p = 0.5


def test_a_one_seed_model_vs_model_pair_is_a_photos_only_test():
    # issue 28: one seed per side is a test of these trained generators over photos (no seed variation)
    res = paired_test(np.ones((1, 4)) + np.array([0.0, 0.1, 0.3, 0.2]), np.ones((3, 4)))
    assert res.p is not None and res.seed_variation is False


def test_an_exact_zero_mean_difference_has_p_one():
    gray = np.array([18.0, 20.0, 19.0, 21.0])
    d = np.array([1.0, -1.0, 0.5, -0.5])  # mean exactly 0, spread > 0
    one_seed = paired_test((gray + d)[None, :], gray)
    seeds = paired_test(np.stack([gray + d - 0.25, gray + d + 0.25]), gray)
    for res in (one_seed, seeds):
        assert res.mean_diff == 0.0 and res.se > 0 and res.p == 1.0
