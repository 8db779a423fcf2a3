"""The seed part's critical values: reproduced from their documented family by a smaller Monte Carlo, never
below Student's, monotone, and they keep the seed-level test's 5% where Student's t does not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ganbench.score import seed_quantiles as sq
from ganbench.score.stats import seed_level_test


@pytest.mark.parametrize("seeds", [3, 5])
def test_the_stored_table_is_reproduced_by_a_smaller_monte_carlo(seeds):
    alphas = (0.05, 0.01)
    fresh = sq.worst_quantiles(seeds, 40_000, alphas, seed=11)
    stored = [sq.TABLE[seeds][sq.ALPHAS.index(a)] for a in alphas]
    assert fresh == pytest.approx(stored, rel=0.08)


def test_critical_values_are_student_or_wider_and_monotone():
    for seeds in (2, 3, 4, 5, 7, 11, 30, 64):
        cs = [sq.critical(seeds, a) for a in (0.9, 0.5, 0.2, 0.05, 0.03, 0.01, 1e-3, 1e-6, 1e-100)]
        assert all(math.isfinite(c) for c in cs) and cs == sorted(cs)  # grows as alpha falls
        assert all(c >= sq.t_student(seeds, a) - 1e-12 for c, a in zip(cs, (0.9, 0.5, 0.2, 0.05, 0.03, 0.01, 1e-3,
                                                                           1e-6, 1e-100), strict=True))
    assert sq.critical(3, 0.05) == pytest.approx(sq.TABLE[3][sq.ALPHAS.index(0.05)])
    assert sq.critical(3, 0.05) > 2 * sq.t_student(3, 0.05)
    # more seeds: smaller values (so a count between stored ones may use the smaller stored count's row)
    assert [sq.critical(s, 0.05) for s in sq.SEEDS] == sorted((sq.critical(s, 0.05) for s in sq.SEEDS), reverse=True)
    assert math.isnan(sq.critical(1, 0.05))


def _skewed(rng, shape):
    return rng.lognormal(0.0, 1.0, shape) - math.exp(0.5)


@pytest.mark.parametrize("draw, name", [(_skewed, "skewed"), (sq._failed(0.15), "failed")])
def test_the_seed_level_test_keeps_five_percent_where_students_t_did_not(draw, name):
    from scipy import stats

    rng = np.random.default_rng(5)
    samples = draw(rng, (1500, 3))
    ours = np.mean([seed_level_test(x, 0.0).significant for x in samples])
    student = np.mean([stats.ttest_1samp(x, 0.0).pvalue < 0.05 for x in samples])
    assert student > 0.07, (name, student)  # Student's t over 3 seeds: 8-16% under this null
    assert ours <= 0.05 + 2.33 * math.sqrt(0.05 * 0.95 / 1500), (name, ours)
