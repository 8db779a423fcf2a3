"""Verdicts for set-level metrics (one score per seed for the whole test set): their replicates are seeds.

A row's seeds are S independent trainings scored on one fixed test set. The claim a line makes is about the
recipe's distribution over seeds on that test set; the test set's own sampling variation is not in it (the
truth's split-half value in the table is a yardstick for that). Rules (docs/metrics.md, "Set-level metrics"):

- *row vs gray*: gray's set score is one number; the row's S seed values are tested against it, and
- *row vs row*: the two rows' seed values against each other, both with the report's one seed-level test,
  :func:`ganbench.score.stats.seed_level_test` (the seed part of every per-photo line too: its critical value
  holds over skewed and failing seed distributions, ``ganbench.score.seed_quantiles``).
- A side with fewer than ``MIN_SEEDS`` seeds makes no claim (the line gives the difference and says why), and
  so do seeds that do not vary at all (no spread to test against) or a non-finite value.
- Holm over every set-level line of one table (their own family); significant = Holm p < ``ALPHA``.

There is never a per-photo p here. The calibration runs these functions in benchmarks/calibration.py (section
"set level"), with the per-photo lines' cells; tests/score/test_set_level.py runs a small version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ganbench.score.stats import SeedLevelTest, holm, seed_level_test

#: Fewer seeds than this on a side never make a set-level claim.
MIN_SEEDS = 3
ALPHA = 0.05


def _result(res: SeedLevelTest, **info: Any) -> dict[str, Any]:
    """A line's numbers from the one seed-level test (``ci``: the interval's half-width)."""
    if res.p is None:
        return {"diff": res.estimate, "ci": None, "p": None, "untested": res.why, **info}
    return {"diff": res.estimate, "ci": (res.ci_high - res.ci_low) / 2, "p": res.p, "untested": None, **info}


def _test(values: Sequence[float] | np.ndarray, baseline: Sequence[float] | np.ndarray | float,
          **info: Any) -> dict[str, Any]:
    x = np.asarray(values, dtype=float)
    b = np.asarray(baseline, dtype=float)
    diff = float(x.mean() - b.mean()) if x.size and b.size else float("nan")
    if not (np.isfinite(x).all() and np.isfinite(b).all()):
        return {"diff": diff, "ci": None, "p": None, "untested": "a seed or gray scored a non-finite value", **info}
    short = x.size < MIN_SEEDS or (b.ndim and b.size < MIN_SEEDS)
    if short:
        counts = f"{x.size} seed(s)" if not b.ndim else f"{x.size} and {b.size} seeds"
        return {"diff": diff, "ci": None, "p": None, "untested": f"{counts}: a set-level claim needs at least "
                f"{MIN_SEEDS}{'' if not b.ndim else ' on each side'}", **info}
    res = seed_level_test(x.tolist(), float(b) if not b.ndim else b.tolist(), min_seeds=MIN_SEEDS)
    if res.p is None and res.why == "no variance between seeds":
        res = replace(res, why="the seeds scored exactly the same: no spread to test against")
    return _result(res, **info)


def seeds_vs_constant(values: Sequence[float] | np.ndarray, constant: float) -> dict[str, Any]:
    """A row's seed values against one number (gray's set score): :func:`ganbench.score.stats.seed_level_test`."""
    return _test(values, constant, seeds=len(values))


def seeds_vs_seeds(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> dict[str, Any]:
    """Two rows' seed values (A − B): :func:`ganbench.score.stats.seed_level_test`."""
    return _test(a, b, seeds=len(a), seeds_other=len(b))


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
              f"at least {MIN_SEEDS} seeds per side, critical values that hold for skewed or failing seeds, "
              "Holm over these lines; no per-photo p (rules: docs/metrics.md):")
