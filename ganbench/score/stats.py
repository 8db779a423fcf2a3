"""Statistics for tables people can trust: confidence intervals over seeds, paired tests over photos and seeds,
the Holm correction for a family of tests. Rules and their calibration: docs/metrics.md ("Uncertainty").

A score matrix has one row per seed and one column per test photo. A 1-D array is a *fixed* reference (the
gray baseline: the same for every seed). Student t quantiles come from scipy (exact at any degrees of
freedom); nothing is dropped: a non-finite score is an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize as _optimize
from scipy import special as _special

from ganbench.score import seed_quantiles

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

    ``p`` is ``None`` when the design cannot support a test (``untested`` says why), among them a difference
    with no variance at all (every photo and seed the same: nothing to estimate its error from). ``n_above`` /
    ``n_below`` / ``n_tied`` count photos whose seed-averaged difference is positive / negative / exactly zero:
    photo counts only, with no test (photos of one seed are not independent draws of the recipe).
    ``seed_variation`` False: the test is over photos only, a claim about these trained generators.
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
    untested: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _as_seeds(x, name: str) -> np.ndarray:
    arr = _finite(np.asarray(x, dtype=np.float64), f"the scores of {name}")
    if arr.ndim not in (1, 2) or arr.shape[-1] == 0 or (arr.ndim == 2 and arr.shape[0] == 0):
        raise ValueError(f"{name}: expected a (seeds, photos) matrix or a fixed (photos,) vector, got {arr.shape}")
    return arr


#: One variance component of a mean difference: its variance and its two-sided critical value at a level alpha.
Part = tuple[float, Callable[[float], float]]


def photo_part(variance: float, dof: int) -> Part:
    """The photo component: Student's quantile at ``dof`` degrees of freedom, from the lower tail (1 − alpha / 2
    rounds to 1, an infinite quantile, once alpha is below about 1e-16)."""
    return variance, lambda alpha: abs(float(_special.stdtrit(dof, alpha / 2)))


def seed_part(variance: float, seeds: int) -> Part:
    """A seed component (the variance of one side's per-seed means over its ``seeds`` seeds): the critical value
    that holds over a documented family of seed distributions, skewed and failing ones among them
    (:mod:`ganbench.score.seed_quantiles`), never below Student's."""
    return variance, lambda alpha: seed_quantiles.critical(seeds, alpha)


def _half_width(parts: list[Part], alpha: float) -> float:
    """Half-width of a two-sided 1 − alpha interval: each variance component scaled by its own critical value,
    added in quadrature (Banerjee 1960; exactly Student's t for one photo component). ``hypot`` keeps a huge
    quantile (one degree of freedom at alpha = 1e-300: about 1e300) from overflowing."""
    return math.hypot(*(q(alpha) * math.sqrt(v) for v, q in parts if v > 0))


def _p_value(mean: float, parts: list[Part], student_dof: int | None = None) -> float:
    """The largest alpha whose interval still holds zero (the two-sided p-value of that interval); with one
    photo component (``student_dof``) Student's closed form."""
    if mean == 0.0:
        return 1.0
    if student_dof is not None and len(parts) == 1:
        return float(2 * _special.stdtr(student_dof, -abs(mean) / math.sqrt(parts[0][0])))
    f = lambda log_a: _half_width(parts, 10.0**log_a) - abs(mean)  # noqa: E731  decreasing in alpha
    if f(-300.0) < 0:
        return 0.0
    if f(0.0) >= 0:
        return 1.0
    return float(10.0 ** _optimize.brentq(f, -300.0, 0.0, xtol=1e-10))


def sign_test(n_above: int, n_below: int) -> float:
    """Two-sided exact sign test (ties already left out); 1.0 when there is nothing to count."""
    n = n_above + n_below
    return min(1.0, 2.0 * float(_special.bdtr(min(n_above, n_below), n, 0.5))) if n else 1.0


#: A standard error at or below this fraction of the scores' scale is no variance (rounding, not data).
ZERO_VARIANCE = 1e-12


def paired_test(a, b, photos_only: bool = False) -> PairedTest:
    """Test whether a and b differ on average over seeds *and* photos (two-sided, 95%).

    ``a`` is a (seeds, photos) matrix; ``b`` is one too, or a (photos,) vector for a fixed reference. The
    variance of the mean difference has one component per source, each estimated from its own replicates:
    the photo-to-photo variance of the seed-averaged differences (P − 1 degrees of freedom) and, for each
    seeded side, the variance of its per-seed means (S − 1). The interval scales each component by its own
    Student t quantile and adds them in quadrature (Banerjee's conservative interval; a single component is
    exactly the paired t-test), and p is the level at which that interval touches zero.

    ``photos_only`` (or a side with one seed) leaves the seed components out: the test is then over photos
    only, a claim about these trained generators (``seed_variation`` False), never about their recipe.
    Exact ties stay exact (the difference is taken per seed before averaging), and a difference with no
    variance is not tested.
    """
    a2, b_arr = _as_seeds(a, "a"), _as_seeds(b, "b")
    a2 = a2[None, :] if a2.ndim == 1 else a2
    fixed_b = b_arr.ndim == 1
    b2 = b_arr[None, :] if fixed_b else b_arr
    if a2.shape[1] != b2.shape[1]:
        raise ValueError(f"a and b score different photos ({a2.shape[1]} vs {b2.shape[1]})")
    # per seed first where seeds pair up: a score equal to b's gives exactly 0, not a rounding residue
    d = (a2 - b2).mean(axis=0) if fixed_b or a2.shape[0] == b2.shape[0] else a2.mean(axis=0) - b2.mean(axis=0)
    n_photos = d.size
    mean = float(d.mean()) if np.any(d) else 0.0
    above, below = int((d > 0).sum()), int((d < 0).sum())
    base = dict(n_photos=n_photos, seeds_a=a2.shape[0], seeds_b=None if fixed_b else b2.shape[0],
                n_above=above, n_below=below, n_tied=n_photos - above - below)
    nan = float("nan")
    seeded = [a2] if fixed_b else [a2, b2]
    seed_variation = not photos_only and all(x.shape[0] > 1 for x in seeded)
    parts = [photo_part(float(d.var(ddof=1)) / n_photos, n_photos - 1)] if n_photos > 1 else []
    if seed_variation:
        parts += [seed_part(float(x.mean(axis=1).var(ddof=1)) / x.shape[0], x.shape[0]) for x in seeded]
    if not parts:
        return PairedTest(mean, nan, nan, nan, None, seed_variation=False,
                          untested="one photo of one seed cannot show a difference", **base)
    se = math.sqrt(sum(v for v, _ in parts))
    photo_dof = n_photos - 1 if not seed_variation else None
    scale = max(1.0, float(np.abs(a2).max()), float(np.abs(b2).max()))
    if se <= ZERO_VARIANCE * scale:
        if mean == 0.0:
            return PairedTest(0.0, 0.0, 0.0, 0.0, 1.0, seed_variation=seed_variation, **base)
        return PairedTest(mean, nan, nan, 0.0, None, seed_variation=seed_variation,
                          untested="the difference has no variance (every photo and seed differs by the same "
                                   "amount), so there is nothing to judge it against", **base)
    half = _half_width(parts, ALPHA)
    return PairedTest(mean, mean - half, mean + half, se, _p_value(mean, parts, photo_dof),
                      seed_variation=seed_variation,
                      **base)


@dataclass(frozen=True)
class SeedLevelTest:
    """A difference judged with the seed as the unit: estimate (mean over seeds of model − baseline), its 95%
    interval, two-sided p and whether it is significant at 5% (``p`` None: not testable, ``why`` says why)."""

    estimate: float
    ci_low: float
    ci_high: float
    p: float | None
    significant: bool
    why: str = ""


def seed_level_test(model: Sequence[float], baseline: Sequence[float] | float,
                    min_seeds: int = 3) -> SeedLevelTest:
    """One value per seed for the model and for the baseline (a sequence of per-seed values, or one fixed
    value such as gray's, which has no seed) -> the seed-level test of their difference.

    The seed part of :func:`paired_test` on its own, for values that have no photo axis (set-level metrics: one
    value per seed): each seeded side's variance of the mean with the seed critical value that holds over skewed
    and failing seed distributions (:func:`seed_part`), combined as Banerjee's interval (a fixed baseline: one
    component). Fewer than ``min_seeds`` seeds on a seeded side, a non-finite value or a difference with no
    variance is not tested."""
    m = _finite(np.asarray(model, dtype=np.float64).ravel(), "the model's values")
    fixed = np.ndim(baseline) == 0
    b = _finite(np.asarray(baseline, dtype=np.float64).ravel(), "the baseline's values")
    nan = float("nan")
    est = float(m.mean() - b.mean()) if m.size and b.size else nan
    short = [n for n, x in (("model", m), ("baseline", None if fixed else b)) if x is not None and x.size < min_seeds]
    if short:
        return SeedLevelTest(est, nan, nan, None, False, f"the {' and '.join(short)} needs at least {min_seeds} seeds")
    sides = [m] if fixed else [m, b]
    parts = [seed_part(float(x.var(ddof=1)) / x.size, x.size) for x in sides]
    scale = max(1.0, float(np.abs(m).max()), float(np.abs(b).max()))
    if math.sqrt(sum(v for v, _ in parts)) <= ZERO_VARIANCE * scale:
        if est == 0.0:
            return SeedLevelTest(0.0, 0.0, 0.0, 1.0, False)
        return SeedLevelTest(est, nan, nan, None, False, "no variance between seeds")
    half = _half_width(parts, ALPHA)
    p = _p_value(est, parts)
    return SeedLevelTest(est, est - half, est + half, p, p < ALPHA)


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


__all__ = ["LEVEL", "ALPHA", "t_quantile", "mean_ci", "PairedTest", "paired_test", "sign_test", "holm",
           "SeedLevelTest", "seed_level_test", "ZERO_VARIANCE", "Part", "photo_part", "seed_part"]
