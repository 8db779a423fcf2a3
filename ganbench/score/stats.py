"""Statistics for tables people can trust: confidence intervals over seeds, paired tests over photos and seeds,
the Holm correction for a family of tests. Rules and their calibration: docs/metrics.md ("Uncertainty").

A score matrix has one row per seed and one column per test photo. A 1-D array is a *fixed* reference (the
gray baseline: the same for every seed). Student t quantiles come from scipy (exact at any degrees of
freedom); nothing is dropped: a non-finite score is an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize as _optimize
from scipy import special as _special

#: Two-sided level of every interval and test.
LEVEL = 0.95
ALPHA = 1 - LEVEL


def t_quantile(dof: float, level: float = LEVEL) -> float:
    """The two-sided ``level`` Student t quantile (NaN below one degree of freedom)."""
    if not dof >= 1:
        return float("nan")
    return float(_special.stdtrit(dof, 0.5 + level / 2))


def t95(dof: float) -> float:
    return t_quantile(dof)


def _finite(x: np.ndarray, what: str) -> np.ndarray:
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} contains a non-finite value ({float(x[~np.isfinite(x)][0])!r}); fix or remove that "
                         "run instead of averaging around it")
    return x


def mean_ci(values: Sequence[float | None]) -> tuple[float, float]:
    """Mean and the half-width of its 95% Student-t interval; ``None`` entries are missing values (the
    caller says how many remain), a non-finite value is a ``ValueError``. NaN half-width for one value."""
    x = _finite(np.asarray([v for v in values if v is not None], dtype=np.float64), "the values")
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1:
        return float(x[0]), float("nan")
    return float(x.mean()), float(t95(x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))


@dataclass(frozen=True)
class PairedTest:
    """The difference a − b averaged over seeds and photos, its 95% interval and two-sided p-value.

    ``p`` is ``None`` when the design cannot support a test (``untested`` says why). ``n_above`` /
    ``n_below`` / ``n_tied`` count photos whose seed-averaged difference is positive / negative / zero, and
    ``sign_p`` is the two-sided sign test on them (ties left out).
    """

    mean_diff: float
    ci_low: float
    ci_high: float
    se: float
    p: float | None
    n_photos: int
    seeds_a: int
    seeds_b: int | None  # None: b is a fixed reference
    seed_variation: bool  # whether seed-to-seed variation is part of the standard error
    n_above: int
    n_below: int
    n_tied: int
    sign_p: float
    untested: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _as_seeds(x, name: str) -> np.ndarray:
    arr = _finite(np.asarray(x, dtype=np.float64), f"the scores of {name}")
    if arr.ndim not in (1, 2) or arr.shape[-1] == 0 or (arr.ndim == 2 and arr.shape[0] == 0):
        raise ValueError(f"{name}: expected a (seeds, photos) matrix or a fixed (photos,) vector, got {arr.shape}")
    return arr


def _half_width(parts: list[tuple[float, int]], alpha: float) -> float:
    """Half-width of a two-sided 1 − alpha interval: each variance component scaled by its own t quantile,
    added in quadrature (Banerjee 1960; exactly Student's t for one component). The quantile is taken in the
    lower tail, t(alpha / 2) = −t(1 − alpha / 2): 1 − alpha / 2 rounds to 1 (an infinite quantile) once alpha
    is below about 1e-16, which would cap every p-value there. ``hypot`` keeps a huge quantile (one degree of
    freedom at alpha = 1e-300: about 1e300) from overflowing."""
    return math.hypot(*(abs(float(_special.stdtrit(dof, alpha / 2))) * math.sqrt(v) for v, dof in parts if v > 0))


def _p_value(mean: float, parts: list[tuple[float, int]]) -> float:
    """The largest alpha whose interval still holds zero (the two-sided p-value of that interval)."""
    if mean == 0.0:
        return 1.0
    if len(parts) == 1:
        v, dof = parts[0]
        return float(2 * _special.stdtr(dof, -abs(mean) / math.sqrt(v)))
    f = lambda log_a: _half_width(parts, 10.0**log_a) - abs(mean)  # noqa: E731  decreasing in alpha
    if f(-300.0) < 0:
        return 0.0
    return float(10.0 ** _optimize.brentq(f, -300.0, 0.0, xtol=1e-10))


def sign_test(n_above: int, n_below: int) -> float:
    """Two-sided exact sign test (ties already left out); 1.0 when there is nothing to count."""
    n = n_above + n_below
    return min(1.0, 2.0 * float(_special.bdtr(min(n_above, n_below), n, 0.5))) if n else 1.0


def paired_test(a, b) -> PairedTest:
    """Test whether a and b differ on average over seeds *and* photos (two-sided, 95%).

    ``a`` is a (seeds, photos) matrix; ``b`` is one too, or a (photos,) vector for a fixed reference. The
    variance of the mean difference has one component per source, each estimated from its own replicates:
    the photo-to-photo variance of the seed-averaged differences (P − 1 degrees of freedom) and, for each
    seeded side, the variance of its per-seed means (S − 1). The interval scales each component by its own
    Student t quantile and adds them in quadrature (Banerjee's conservative interval; a single component is
    exactly the paired t-test), and p is the level at which that interval touches zero. A side with one
    seed has no seed variance to estimate: against a fixed reference the test is then over photos only (a
    claim about that one trained generator); between two seeded sides there is no test (``p`` None).
    """
    a2, b_arr = _as_seeds(a, "a"), _as_seeds(b, "b")
    a2 = a2[None, :] if a2.ndim == 1 else a2
    fixed_b = b_arr.ndim == 1
    b2 = b_arr[None, :] if fixed_b else b_arr
    if a2.shape[1] != b2.shape[1]:
        raise ValueError(f"a and b score different photos ({a2.shape[1]} vs {b2.shape[1]})")
    d = a2.mean(axis=0) - b2.mean(axis=0)
    n_photos = d.size
    mean = float(d.mean())
    above, below = int((d > 0).sum()), int((d < 0).sum())
    base = dict(n_photos=n_photos, seeds_a=a2.shape[0], seeds_b=None if fixed_b else b2.shape[0],
                n_above=above, n_below=below, n_tied=n_photos - above - below, sign_p=sign_test(above, below))
    nan = float("nan")
    seeded = [a2] if fixed_b else [a2, b2]
    seed_variation = all(x.shape[0] > 1 for x in seeded)
    if not seed_variation and not fixed_b:
        return PairedTest(mean, nan, nan, nan, None, seed_variation=False,
                          untested="a model-vs-model test needs at least 2 seeds of each model", **base)
    parts = [(float(d.var(ddof=1)) / n_photos, n_photos - 1)] if n_photos > 1 else []
    if seed_variation:
        parts += [(float(x.mean(axis=1).var(ddof=1)) / x.shape[0], x.shape[0] - 1) for x in seeded]
    if not parts:
        return PairedTest(mean, nan, nan, nan, None, seed_variation=False,
                          untested="one photo of one seed cannot show a difference", **base)
    se = math.sqrt(sum(v for v, _ in parts))
    if se == 0.0:
        return PairedTest(mean, mean, mean, 0.0, 1.0 if mean == 0.0 else 0.0, seed_variation=seed_variation,
                          **base)
    half = _half_width(parts, ALPHA)
    return PairedTest(mean, mean - half, mean + half, se, _p_value(mean, parts), seed_variation=seed_variation,
                      **base)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error rate), in the input order."""
    p = np.asarray(pvalues, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    m = p.size
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


__all__ = ["LEVEL", "ALPHA", "t_quantile", "mean_ci", "PairedTest", "paired_test", "sign_test", "holm"]
