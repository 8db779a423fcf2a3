"""Verdicts for set-level metrics (one score per seed for the whole test set): their replicates are seeds.

A row's seeds are S independent trainings scored on one fixed test set. The claim a line makes is about the
recipe's distribution over seeds on that test set; the test set's own sampling variation is not in it (the
truth's split-half value in the table is a yardstick for that). Rules (docs/metrics.md, "Set-level metrics"):

- *row vs gray*: gray's set score is one number; the row's S seed values are tested against it with a
  one-sample Student t-test (S - 1 degrees of freedom).
- *row vs row*: Welch's t-test on the two rows' seed values (Welch-Satterthwaite degrees of freedom).
- A side with fewer than ``MIN_SEEDS`` seeds makes no claim (the line gives the difference and says why), and
  so do seeds that do not vary at all (no spread to test against) or a non-finite value.
- Holm over every set-level line of one table (their own family); significant = Holm p < ``ALPHA``.

There is never a per-photo p here. The same functions serve the report and the calibration
(``calibrate`` below, asserted in tests/score/test_set_level.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

#: Fewer seeds than this on a side never make a set-level claim.
MIN_SEEDS = 3
ALPHA = 0.05


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (monotone, capped at 1)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def _untested(diff: float, reason: str, **info: Any) -> dict[str, Any]:
    return {"diff": diff, "ci": None, "p": None, "df": None, "untested": reason, **info}


def seeds_vs_constant(values: Sequence[float] | np.ndarray, constant: float) -> dict[str, Any]:
    """One-sample t-test of seed values against one number (gray's set score)."""
    x = np.asarray(values, dtype=float)
    diff = float(x.mean() - constant) if len(x) else float("nan")
    if not (np.isfinite(x).all() and math.isfinite(constant)):
        return _untested(diff, "a seed or gray scored a non-finite value", seeds=len(x))
    if len(x) < MIN_SEEDS:
        return _untested(diff, f"{len(x)} seed(s): a set-level claim needs at least {MIN_SEEDS}", seeds=len(x))
    se = float(x.std(ddof=1)) / math.sqrt(len(x))
    if se == 0.0:
        return _untested(diff, "the seeds scored exactly the same: no spread to test against", seeds=len(x))
    df = len(x) - 1
    t = diff / se
    half = float(stats.t.ppf(1 - ALPHA / 2, df)) * se
    return {"diff": diff, "ci": half, "p": float(2 * stats.t.sf(abs(t), df)), "df": df, "untested": None,
            "seeds": len(x)}


def seeds_vs_seeds(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> dict[str, Any]:
    """Welch's t-test of two rows' seed values (A − B)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = float(x.mean() - y.mean()) if len(x) and len(y) else float("nan")
    info = {"seeds": len(x), "seeds_other": len(y)}
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return _untested(diff, "a seed scored a non-finite value", **info)
    if min(len(x), len(y)) < MIN_SEEDS:
        return _untested(diff, f"{len(x)} and {len(y)} seeds: a set-level claim needs at least {MIN_SEEDS} "
                               "on each side", **info)
    vx, vy = float(x.var(ddof=1)) / len(x), float(y.var(ddof=1)) / len(y)
    se = math.sqrt(vx + vy)
    if se == 0.0:
        return _untested(diff, "the seeds scored exactly the same: no spread to test against", **info)
    df = (vx + vy) ** 2 / ((vx**2 / (len(x) - 1) if vx else 0.0) + (vy**2 / (len(y) - 1) if vy else 0.0))
    t = diff / se
    half = float(stats.t.ppf(1 - ALPHA / 2, df)) * se
    return {"diff": diff, "ci": half, "p": float(2 * stats.t.sf(abs(t), df)), "df": df, "untested": None, **info}


def compare_seed_values(rows: dict[str, dict[int, dict[str, float]]], gray: dict[str, float],
                        metrics: list[Any]) -> list[dict[str, Any]]:
    """Each row against gray and each pair of rows, on every tested set-level metric; Holm over all lines.

    ``rows`` maps a row's label to ``{seed: {metric: value}}``; ``gray`` maps a metric to gray's set score;
    ``metrics`` are records with ``name``, ``unit``, ``higher_is_better`` (``MetricInfo``).
    """
    out: list[dict[str, Any]] = []
    labels = list(rows)
    for m in metrics:
        values = {label: [float(v[m.name]) for _, v in sorted(rows[label].items())
                          if v.get(m.name) is not None] for label in labels}
        info = {"metric": m.name, "unit": m.unit, "higher_is_better": m.higher_is_better, "level": "set"}
        for label in labels:
            g = gray.get(m.name)
            res = seeds_vs_constant(values[label], float("nan") if g is None else float(g))
            out.append({"model": label, "versus": "gray", **info, **res})
        for i, a in enumerate(labels):
            for b in labels[i + 1 :]:
                out.append({"model": a, "versus": b, **info, **seeds_vs_seeds(values[a], values[b])})
    tested = [s for s in out if s["p"] is not None]
    for s, adj in zip(tested, holm([s["p"] for s in tested]), strict=True):
        s["p_holm"] = adj
        s["significant"] = adj < ALPHA
        better_a = (s["diff"] > 0) == s["higher_is_better"]
        s["better"] = s["model"] if better_a else s["versus"]
    for s in out:
        if s["p"] is None:
            s.update(p_holm=None, significant=False, better=None)
    return out


def line(s: dict[str, Any]) -> str:
    """One set-level line as the report prints it."""
    unit = f" {s['unit']}" if s.get("unit") else ""
    head = f"{s['model']} − {s['versus']} on {s['metric']} (set, over seeds): {s['diff']:+.3f}{unit}"
    if s["p"] is None:
        return f"{head}; not tested: {s['untested']}"
    seeds = f"{s['seeds']} seeds" + (f" vs {s['seeds_other']}" if "seeds_other" in s else "")
    verdict = f"significant, {s['better']} better" if s["significant"] else "not significant"
    return (f"{head} ± {s['ci']:.3f} (95% CI), p = {s['p']:.3g}, Holm p = {s['p_holm']:.3g}: {verdict} "
            f"({seeds})")


SET_HEADER = ("Set-level differences (one score per seed for the whole test set): tested over seeds only, "
              f"t-tests (row vs gray: one-sample; row vs row: Welch), at least {MIN_SEEDS} seeds per side, "
              "Holm over these lines; no per-photo p (rules: docs/metrics.md):")


def calibrate(seeds: int, effect_sd: float = 0.0, reps: int = 2000, versus: str = "gray",
              rng: np.random.Generator | None = None) -> float:
    """The rate of "significant" lines on synthetic seed values of known truth: seed values ~ N(effect, 1) (in
    units of the seed-to-seed sd) against gray at 0, or against a second row ~ N(0, 1) with as many seeds."""
    rng = rng or np.random.default_rng(0)
    hits = 0
    for _ in range(reps):
        x = rng.normal(effect_sd, 1.0, seeds)
        res = seeds_vs_constant(x, 0.0) if versus == "gray" else seeds_vs_seeds(x, rng.normal(0.0, 1.0, seeds))
        hits += res["p"] is not None and res["p"] < ALPHA
    return hits / reps


def calibration_table(reps: int = 4000) -> list[dict[str, Any]]:
    """The numbers docs/metrics.md quotes: false rate (effect 0) and power (effects 1 and 2 seed sds)."""
    rows = []
    for versus in ("gray", "row"):
        for seeds in (3, 5, 10):
            rows.append({"versus": versus, "seeds": seeds,
                         **{f"effect {e}": calibrate(seeds, e, reps, versus, np.random.default_rng(seeds))
                            for e in (0.0, 1.0, 2.0)}})
    return rows


if __name__ == "__main__":  # python -m ganbench.score.set_level
    for r in calibration_table():
        print(r)
