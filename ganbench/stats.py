"""Statistics for tables people can trust: confidence intervals over seeds, paired bootstrap over images."""

from __future__ import annotations

import math

import numpy as np

#: Two-sided 95% Student t quantiles by degrees of freedom (1..30); the normal value beyond.
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042]


def t95(dof: int) -> float:
    if dof < 1:
        return float("nan")
    return _T95[dof - 1] if dof <= len(_T95) else 1.96


def mean_ci(values) -> tuple[float, float]:
    """Mean and the half-width of its 95% confidence interval (Student t; NaN for one value)."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1:
        return float(x[0]), float("nan")
    return float(x.mean()), float(t95(x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))


def paired_bootstrap(a, b, n_boot: int = 10_000, seed: int = 0) -> dict[str, float]:
    """Mean of per-image differences a - b with a 95% percentile-bootstrap interval over images.

    ``significant`` is true when the interval excludes zero; ``n_above`` / ``n_below`` count the images
    where a is above / below b (a mean can hide that one photo decides it). The resampling is seeded: the same scores
    always give the same answer.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.size == 0:
        raise ValueError("paired_bootstrap needs two equally long, non-empty score lists")
    diff = a - b
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, diff.size, size=(n_boot, diff.size))
    means = diff[idx].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"mean_diff": float(diff.mean()), "ci_low": float(lo), "ci_high": float(hi),
            "significant": bool(lo > 0 or hi < 0), "n": int(diff.size),
            "n_above": int((diff > 0).sum()), "n_below": int((diff < 0).sum())}
