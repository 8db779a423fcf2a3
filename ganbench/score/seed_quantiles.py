"""Critical values for the seed part of a test that hold over a documented family of seed distributions.

With 3–10 seeds a Student t over the seeds keeps its 5% only when the seeds are near normal: from a strongly
skewed recipe (a centred lognormal, skewness about 6) the seeds usually all land on the short side of the
recipe's mean, tight together, and the t over 3 seeds says "significant" in 16% of null reports; a recipe whose
seeds fail now and then does the same (8–12%). No test on a handful of values protects a claim about a mean
against *every* distribution (Bahadur & Savage 1956), so the scope is explicit: :data:`FAMILY`, the seed
distributions the seed part must hold its level over:

- normal; Student t with 3 degrees of freedom (heavy tails);
- a centred lognormal of log-sd 0.5, 0.75 and 1 (skewness 1.8, 3.3 and 6.2), either direction (|t| is the same);
- failed seeds: normal seeds, each failing with probability 0.05, 0.10, 0.15 or 0.25, 5 seed sds lower.

``c(S, alpha)`` = the largest two-sided (1 − alpha) quantile of |t| (the one-sample t of S seed values against
their true mean) over the family, never below Student's. :data:`TABLE` stores it at :data:`ALPHAS` for
:data:`SEEDS`, computed once by :func:`worst_quantiles` (a seeded Monte Carlo, ``python -m
ganbench.score.seed_quantiles`` prints the table as code; tests/score/test_seed_quantiles.py reproduces entries
with fewer draws). Between the stored levels log c is linear in log alpha; beyond them c follows Student's
quantile's ratio (at the actual seed count); a seed count between or beyond the stored ones uses the next
smaller stored count's values (c falls with S: conservative).
The price is power: docs/metrics.md ("Seed-level robustness") gives both sides.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import special as _special

#: Two-sided levels the table stores (the report's 5% and the smaller ones Holm asks for).
ALPHAS: tuple[float, ...] = (0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)
#: Seed counts the table stores.
SEEDS: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 30)


def _lognormal(log_sd: float) -> Callable[[np.random.Generator, tuple[int, int]], np.ndarray]:
    def draw(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        return rng.lognormal(0.0, log_sd, shape) - math.exp(log_sd * log_sd / 2)
    return draw


def _failed(p: float, drop: float = 5.0) -> Callable[[np.random.Generator, tuple[int, int]], np.ndarray]:
    def draw(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        return rng.normal(0.0, 1.0, shape) - drop * ((rng.random(shape) < p) - p)
    return draw


#: The seed distributions (mean 0) the seed part of a test holds its level over; the scale does not matter.
FAMILY: dict[str, Callable[[np.random.Generator, tuple[int, int]], np.ndarray]] = {
    "normal": lambda rng, shape: rng.normal(0.0, 1.0, shape),
    "t3": lambda rng, shape: rng.standard_t(3, shape),
    "lognormal 0.5": _lognormal(0.5),
    "lognormal 0.75": _lognormal(0.75),
    "lognormal 1": _lognormal(1.0),
    "failed 0.05": _failed(0.05),
    "failed 0.10": _failed(0.10),
    "failed 0.15": _failed(0.15),
    "failed 0.25": _failed(0.25),
}


def abs_t(rng: np.random.Generator, draw: Callable[[np.random.Generator, tuple[int, int]], np.ndarray],
          seeds: int, reps: int, chunk: int = 200_000) -> np.ndarray:
    """|t| of ``reps`` samples of ``seeds`` values from ``draw`` (mean 0) against 0."""
    out = []
    for start in range(0, reps, chunk):
        x = draw(rng, (min(chunk, reps - start), seeds))
        sd = x.std(axis=1, ddof=1)
        out.append(np.abs(x.mean(axis=1)) / np.where(sd > 0, sd, np.nan) * math.sqrt(seeds))
    t = np.concatenate(out)
    return t[np.isfinite(t)]


def worst_quantiles(seeds: int, reps: int, alphas: Sequence[float] = ALPHAS, seed: int = 0) -> list[float]:
    """The largest (1 − alpha) quantile of |t| over :data:`FAMILY`, per alpha (never below Student's)."""
    worst = [t_student(seeds, a) for a in alphas]
    for i, draw in enumerate(FAMILY.values()):
        t = abs_t(np.random.default_rng([seed, seeds, i]), draw, seeds, reps)
        worst = [max(w, float(np.quantile(t, 1 - a))) for w, a in zip(worst, alphas, strict=True)]
    return worst


def t_student(seeds: int, alpha: float) -> float:
    """Student's two-sided (1 − alpha) quantile at seeds − 1 degrees of freedom, from the lower tail (no
    rounding of 1 − alpha / 2 at tiny alpha)."""
    return abs(float(_special.stdtrit(seeds - 1, alpha / 2)))


#: c(S, alpha) at SEEDS x ALPHAS: ``python -m ganbench.score.seed_quantiles --reps 500000`` (seeded; 500 draws
#: beyond the 0.001 quantile, a Monte Carlo error of a few percent there, well under 1% at 0.05).
TABLE: dict[int, tuple[float, ...]] = {
    2: (1.354, 6.077, 13.644, 28.506, 70.890, 142.289, 286.727, 724.930, 1506.453),
    3: (1.042, 3.504, 6.420, 10.366, 17.834, 25.848, 36.685, 59.581, 85.198),
    4: (0.956, 2.845, 4.949, 7.504, 11.766, 15.823, 20.793, 29.143, 36.941),
    5: (0.913, 2.500, 4.260, 6.302, 9.430, 12.239, 15.539, 20.757, 25.257),
    6: (0.887, 2.301, 3.863, 5.620, 8.207, 10.435, 12.817, 16.619, 19.704),
    7: (0.866, 2.163, 3.577, 5.139, 7.398, 9.269, 11.275, 14.287, 16.922),
    8: (0.851, 2.060, 3.382, 4.815, 6.854, 8.538, 10.339, 13.029, 15.165),
    9: (0.839, 1.976, 3.215, 4.533, 6.415, 7.907, 9.527, 11.902, 13.742),
    10: (0.831, 1.918, 3.086, 4.344, 6.099, 7.510, 9.058, 11.197, 12.797),
    12: (0.813, 1.810, 2.884, 4.017, 5.570, 6.840, 8.147, 9.946, 11.390),
    15: (0.797, 1.711, 2.676, 3.705, 5.083, 6.119, 7.201, 8.669, 9.918),
    20: (0.775, 1.614, 2.459, 3.375, 4.597, 5.501, 6.474, 7.855, 8.814),
    30: (0.757, 1.514, 2.222, 3.001, 4.038, 4.830, 5.580, 6.561, 7.378),
}


def critical(seeds: int, alpha: float) -> float:
    """The seed part's critical value for ``seeds`` seeds at two-sided level ``alpha`` (see the module)."""
    if seeds < 2:
        return float("nan")
    stored = [s for s in SEEDS if s <= seeds]
    row = TABLE[stored[-1]]
    student = t_student(seeds, alpha)
    if alpha >= ALPHAS[0]:
        c = row[0] * student / t_student(seeds, ALPHAS[0])
    elif alpha <= ALPHAS[-1]:
        c = row[-1] * student / t_student(seeds, ALPHAS[-1])
    else:
        logs = [math.log(a) for a in ALPHAS]
        j = next(k for k in range(1, len(ALPHAS)) if alpha >= ALPHAS[k])
        w = (math.log(alpha) - logs[j - 1]) / (logs[j] - logs[j - 1])
        c = math.exp((1 - w) * math.log(row[j - 1]) + w * math.log(row[j]))
    return min(max(student, c), 1e300)  # finite even where Student's quantile overflows (alpha near 1e-300)


def main(argv: Sequence[str] | None = None) -> None:  # pragma: no cover - prints the table once
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ganbench.score.seed_quantiles", description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=1_000_000, help="samples per distribution and seed count")
    args = parser.parse_args(argv)
    print("TABLE: dict[int, tuple[float, ...]] = {")
    for s in SEEDS:
        print(f"    {s}: ({', '.join(f'{c:.3f}' for c in worst_quantiles(s, args.reps))}),", flush=True)
    print("}")


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["ALPHAS", "SEEDS", "FAMILY", "TABLE", "critical", "worst_quantiles", "abs_t", "t_student"]
