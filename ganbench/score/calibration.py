"""How often the report says "significant" when it should not (and when it should), on synthetic scores of
known truth: no training, seconds, at the level of the paired test (benchmarks/calibration.py drives the report's
own lines, marks and curve sentences). tests/score/test_stats.py asserts the error rates; docs/metrics.md quotes

    python -m ganbench.score.calibration            # the report's tests: error rates under the null, power
    python -m ganbench.score.calibration --candidates  # photo-level tests compared (why a t-test)

A synthetic per-photo score is gray + effect + photo profile + seed offset + residual: the profile is the
recipe's per-photo advantage over gray (shared by two names of one recipe), the seed offset is common to
all photos of one trained generator. Standard deviations (dB): photo 1.5, seed 0.3 (the seed spread issue 21
measured), residual 0.5.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ganbench.score.stats import ALPHA, paired_test
from ganbench.score.verdicts import decide


@dataclass(frozen=True)
class Noise:
    photo: float = 1.5
    seed: float = 0.3
    resid: float = 0.5
    tails: str = "normal"  # normal | t3 (heavy, scaled to the same sd) | skewed (centred lognormal)


def _draw(rng: np.random.Generator, shape, sd: float, tails: str) -> np.ndarray:
    if tails == "t3":
        return rng.standard_t(3, shape) * sd / math.sqrt(3.0)
    if tails == "skewed":
        s = 1.0
        raw = rng.lognormal(0.0, s, shape)
        return (raw - math.exp(s * s / 2)) * sd / math.sqrt((math.exp(s * s) - 1) * math.exp(s * s))
    return rng.normal(0.0, sd, shape)


def synthetic_scores(rng: np.random.Generator, recipes: Sequence[str], effects: Sequence[float], photos: int,
                     seeds: int, noise: Noise) -> tuple[list[np.ndarray], np.ndarray]:
    """(seeds, photos) score matrices, one per model, and the gray baseline's (photos,) scores. Models
    sharing a recipe name share its per-photo profile."""
    gray = rng.normal(20.0, 3.0, photos)
    profiles = {r: _draw(rng, photos, noise.photo, noise.tails) for r in dict.fromkeys(recipes)}
    models = []
    for recipe, effect in zip(recipes, effects, strict=True):
        offset = _draw(rng, (seeds, 1), noise.seed, noise.tails) if seeds > 1 else np.zeros((1, 1))
        resid = _draw(rng, (seeds, photos), noise.resid, noise.tails)
        models.append(gray + effect + profiles[recipe] + offset + resid)
    return models, gray


def family(models: list[np.ndarray], gray: np.ndarray, versus_gray: bool = True) -> list[dict]:
    """The report's family for these models on one metric (each against gray, every pair), decided with
    the report's own rule (Holm, minimum photos)."""
    tests = []
    for i, a in enumerate(models):
        if versus_gray:
            tests.append({"model": f"m{i}", "versus": "gray", "higher_is_better": True,
                          **paired_test(a, gray).to_dict()})
        for j in range(i + 1, len(models)):
            tests.append({"model": f"m{i}", "versus": f"m{j}", "higher_is_better": True,
                          **paired_test(a, models[j]).to_dict()})
    return decide(tests)


def rate(recipes: Sequence[str], effects: Sequence[float], photos: int, seeds: int, reps: int = 2000,
         noise: Noise = Noise(), versus_gray: bool = True, seed: int = 0) -> float:
    """Fraction of simulated reports with at least one significant line (recipe-level, or generator-level for
    a one-seed row: its seed offset is not drawn here, so the null is the trained generator's own)."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        models, gray = synthetic_scores(rng, recipes, effects, photos, seeds, noise)
        hits += any(t["significant"] or t["generator_significant"] for t in family(models, gray, versus_gray))
    return hits / reps


def mc_bound(reps: int, level: float = ALPHA) -> float:
    """``level`` plus 2.33 Monte-Carlo standard errors (a one-sided 99% allowance)."""
    return level + 2.33 * math.sqrt(level * (1 - level) / reps)


SCENARIOS = {
    "model vs gray, 1 seed": (["r"], [0.0], 1, True),
    "model vs gray, 3 seeds": (["r"], [0.0], 3, True),
    "two names of one recipe, 3 seeds each": (["r", "r"], [0.0, 0.0], 3, False),
    "two recipes of equal mean, 3 seeds each": (["r", "s"], [0.0, 0.0], 3, False),
    "four identical models, family of 10 lines": (["r"] * 4, [0.0] * 4, 3, True),
}


def _candidates(reps: int, seed: int = 0) -> list[str]:
    """Error rates of photo-level tests of model vs gray (one seed) under the null: what picked the t-test."""
    from scipy import stats

    def percentile_boot(d, rng, n_boot=2000):
        means = d[rng.integers(0, d.size, (n_boot, d.size))].mean(1)
        lo, hi = np.percentile(means, [2.5, 97.5])
        return lo > 0 or hi < 0

    def studentized_boot(d, rng, n_boot=2000):
        idx = rng.integers(0, d.size, (n_boot, d.size))
        bs = d[idx]
        se = d.std(ddof=1) / math.sqrt(d.size)
        t_star = (bs.mean(1) - d.mean()) / (bs.std(1, ddof=1) / math.sqrt(d.size) + 1e-300)
        lo_q, hi_q = np.percentile(t_star, [2.5, 97.5])
        lo, hi = d.mean() - hi_q * se, d.mean() - lo_q * se
        return lo > 0 or hi < 0

    tests = {"paired t (report)": lambda d, rng: stats.ttest_1samp(d, 0).pvalue < ALPHA,
             "Wilcoxon signed-rank": lambda d, rng: stats.wilcoxon(d).pvalue < ALPHA,
             "percentile bootstrap (before)": percentile_boot,
             "studentized bootstrap": studentized_boot}
    lines = ["| differences | photos | " + " | ".join(tests) + " |", "|---|---|" + "---|" * len(tests)]
    for tails in ("normal", "t3", "skewed"):
        for photos in (5, 20, 126):
            rng = np.random.default_rng(seed)
            hits = dict.fromkeys(tests, 0)
            for _ in range(reps):
                d = _draw(rng, photos, 1.5, tails) + _draw(rng, photos, 0.5, tails)
                for name, test in tests.items():
                    hits[name] += bool(test(d, rng))
            lines.append(f"| {tails} | {photos} | " + " | ".join(f"{hits[n] / reps:.1%}" for n in tests) + " |")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ganbench.score.calibration", description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=2000, help="simulated reports per cell")
    parser.add_argument("--candidates", action="store_true", help="compare photo-level tests instead")
    args = parser.parse_args(argv)
    if args.candidates:
        print("\n".join(_candidates(args.reps)))
        return
    print(f"reports with a significant line, {args.reps} simulated reports each "
          f"(at most {ALPHA:.0%}: Monte-Carlo allowance {mc_bound(args.reps):.1%})\n")
    print("| scenario | tails | 5 photos | 20 photos | 126 photos |\n|---|---|---|---|---|")
    for tails in ("normal", "t3"):
        for name, (recipes, effects, seeds, vs_gray) in SCENARIOS.items():
            rates = [rate(recipes, effects, p, seeds, args.reps, Noise(tails=tails), vs_gray) for p in (5, 20, 126)]
            print(f"| {name} | {tails} | " + " | ".join(f"{r:.1%}" for r in rates) + " |")
    print("\npower: +1 dB over 20 photos (one line, no other tests in the family)\n")
    for name, recipes, effects, seeds, vs_gray in (("model vs gray, 1 seed", ["r"], [1.0], 1, True),
                                                   ("model vs gray, 3 seeds", ["r"], [1.0], 3, True),
                                                   ("model vs model, 3 seeds each", ["r", "s"], [1.0, 0.0], 3, False),
                                                   ("model vs model, 5 seeds each", ["r", "s"], [1.0, 0.0], 5, False)):
        print(f"- {name}: {rate(recipes, effects, 20, seeds, args.reps, Noise(), vs_gray):.1%}")


if __name__ == "__main__":  # pragma: no cover
    main()
