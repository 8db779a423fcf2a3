"""Curves: quality against compute and against data, across the comparisons stored at each point.

A *budget curve* joins comparisons that share everything (dataset, image size, batch, networks, device,
precision) except the budget's length; a *data curve* joins those that differ only in ``limit`` (the
number of training photos). They are found in the stored runs, not in a command: points made by
``--scale``, by several ``--budget`` or by separate ``ganbench run`` commands join the same curve.

Every number comes from the point's own comparison: its table rows (the runs each row counts, one per
seed: superseded and duplicate runs are left out as in the table), the per-seed scores in their
metrics.json, and the point's significance tests (the same tests, Holm-corrected over the same family, as
the point's table), so a curve sentence never says more than the table at that point. The area under a
curve is computed per seed (the seed is the unit that repeats across points), then averaged with its 95%
CI over seeds.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ganbench.core.budgets import Budget, describe
from ganbench.core.config import stable_hash
from ganbench.score.stats import ALPHA, holm, mean_ci
from ganbench.score.verdicts import MIN_PHOTOS

BUDGET, DATA = "budget", "data"
#: Budget fields that state its length: points of one budget curve differ in these alone.
LENGTH_FIELDS = ("name", "steps", "images", "epochs", "seconds", "description")
#: x axes of the plots: (label, key in PointStats); the data curve has its own.
COMPUTE_AXES = [("generator images", "images"), ("training FLOPs", "flops"), ("training seconds", "seconds")]
DATA_AXES = [("training photos", "photos")]


@dataclass
class PointStats:
    """One model at one point: per-seed scores and what was spent, averaged over its complete seeds."""

    model: str
    seeds: dict[int, dict[str, float]]
    images: float
    flops: float
    seconds: float
    photos: float

    def mean_ci(self, metric: str) -> tuple[float, float]:
        """Over the seeds that scored the metric (a non-finite score counts as missing here; the point's
        table names it)."""
        values = [s.get(metric) for s in self.seeds.values()]
        return mean_ci([v for v in values if v is not None and math.isfinite(v)])


@dataclass
class Curve:
    axis: str  # BUDGET or DATA
    key: str
    title: str
    points: list[Any]  # report.Comparison, ordered along the axis
    labels: list[str]
    x: list[float]  # the axis value of each point: generator images (budget) or training photos (data)
    metrics: dict[str, dict[str, Any]]  # name -> higher_is_better, unit, reference_free
    lines: dict[str, list[PointStats | None]] = field(default_factory=dict)
    gray: dict[str, list[float]] = field(default_factory=dict)

    @property
    def unit_name(self) -> str:
        return "generator images" if self.axis == BUDGET else "training photos"

    @property
    def span(self) -> str:
        """'the budgets run (1,200 to 9,600 images)' or 'the data sizes run (9 to 32 photos)'."""
        what = "budgets" if self.axis == BUDGET else "data sizes"
        return f"the {what} run ({self.labels[0]} to {self.labels[-1]})"


# --- finding the curves in the stored comparisons --------------------------------------------------------
def _settings(comp) -> dict[str, Any]:
    cfg = comp.runs[0].record.config
    return copy.deepcopy({k: cfg.get(k) for k in ("dataset", "dataset_options", "budget", "device", "precision")})


def family_key(comp, axis: str) -> str:
    """What every point of one curve shares: the comparison's settings less the axis."""
    s = _settings(comp)
    if axis == BUDGET:
        s["budget"] = {k: v for k, v in (s["budget"] or {}).items() if k not in LENGTH_FIELDS}
    else:
        s["dataset_options"] = {k: v for k, v in (s["dataset_options"] or {}).items() if k != "limit"}
    return stable_hash([axis, s])


def _complete(comp) -> list:
    """The runs the point's table counts (one complete run per row and seed)."""
    return [r for row in comp.rows for r in row.counted.values()]


def _mean(values) -> float:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.mean(vals)) if vals else float("nan")


def point_value(comp, axis: str) -> float:
    """Budget axis: generator images the point's runs spent (the budget's unit, the same for every model);
    data axis: the number of training photos."""
    runs = _complete(comp) or comp.runs
    if axis == BUDGET:
        return _mean([r.record.images_seen for r in runs])
    return _mean([r.record.train_images for r in runs])


def point_label(comp, axis: str) -> str:
    """'1,200 images' (a budget of steps, images or epochs: the same for every model), '32 photos', or the
    budget itself ('60 s': a wall-clock budget buys each model a different number of images)."""
    value = point_value(comp, axis)
    if axis == DATA:
        return f"{value:,.0f} photo{'s' * (value != 1)}" if math.isfinite(value) else "? photos"
    budget = comp.runs[0].record.config.get("budget") or {}
    if budget.get("seconds") is None and math.isfinite(value):
        return f"{value:,.0f} images"
    try:
        return describe(Budget(**budget))
    except TypeError:  # a budget written by another version
        return str(budget.get("name"))


def _title(comp, axis: str) -> str:
    rec = comp.runs[0].record
    cfg, budget = rec.config, rec.config.get("budget") or {}
    data = rec.dataset_description or rec.dataset
    if axis == BUDGET:
        limit = cfg.get("dataset_options", {}).get("limit")
        data += f" ({limit} training photos at most)" if limit else ""
        what = f"against compute ({budget.get('image_size')}px, batch {budget.get('batch_size')})"
    else:
        what = f"against training photos (budget {point_label(comp, BUDGET)}, {budget.get('image_size')}px)"
    return f"Quality {what} · {data} · {rec.device} {cfg.get('precision')}"


def _metric_info(points) -> dict[str, dict[str, Any]]:
    """Every metric of the points' tables, in their order, as the metrics' own records describe them."""
    info: dict[str, dict[str, Any]] = {}
    for comp in points:
        for m in comp.metrics:
            info.setdefault(m.name, {"higher_is_better": m.higher_is_better, "unit": m.unit,
                                     "reference_free": m.reference_free})
    return info


def _point_stats(comp) -> dict[str, PointStats]:
    """Each table row of the point (labelled as in the table) with the seeds it counts."""
    out = {}
    for row in comp.rows:
        if not row.counted:
            continue
        runs = list(row.counted.values())
        seeds = {seed: r.metrics.scores("model") for seed, r in row.counted.items()}
        spent = [r.record.spent for r in runs]
        out[row.label] = PointStats(
            row.label, seeds, images=_mean(s.get("images") for s in spent),
            flops=_mean(s.get("flops") for s in spent), seconds=_mean(s.get("train_seconds") for s in spent),
            photos=_mean(r.record.train_images for r in runs))
    return out


def make_curve(axis: str, key: str, points: list) -> Curve:
    points = sorted(points, key=lambda c: point_value(c, axis))
    curve = Curve(axis, key, _title(points[0], axis), points, [point_label(c, axis) for c in points],
                  [point_value(c, axis) for c in points], _metric_info(points))
    stats = [_point_stats(c) for c in points]
    models = list(dict.fromkeys(m for s in stats for m in s))
    curve.lines = {m: [s.get(m) for s in stats] for m in models}
    for name in curve.metrics:
        curve.gray[name] = [_mean(r.metrics.gray.get(name) for r in _complete(c)) for c in points]
    return curve


def build_curves(comps: list) -> list[Curve]:
    """Every budget and data curve in a set of comparisons: two or more points with complete runs."""
    curves = []
    for axis in (BUDGET, DATA):
        families: dict[str, list] = {}
        for comp in comps:
            if _complete(comp):
                families.setdefault(family_key(comp, axis), []).append(comp)
        for key, points in families.items():
            if len(points) > 1:
                curves.append(make_curve(axis, key, points))
    return curves


# --- the statistics behind the sentences ----------------------------------------------------------------
def point_test(comp, model: str, versus: str, metric: str) -> dict[str, Any] | None:
    """The point's own test of ``model`` against ``versus`` on ``metric``, oriented as model − versus."""
    for s in comp.significance:
        if s.get("metric") != metric:
            continue
        if s.get("model") == model and s.get("versus") == versus:
            return s
        if s.get("model") == versus and s.get("versus") == model:
            flipped = {**s, "model": model, "versus": versus, "mean_diff": -s["mean_diff"]}
            if "ci_low" in s and "ci_high" in s:
                flipped["ci_low"], flipped["ci_high"] = -s["ci_high"], -s["ci_low"]
            for x, y in (("n_above", "n_below"), ("seeds_a", "seeds_b"), ("seeds", "seeds_versus")):
                if x in s and y in s:
                    flipped[x], flipped[y] = s[y], s[x]
            return flipped
    return None


def tested_metrics(curve: Curve) -> list[str]:
    """Metrics with significance tests at some point (the report tests these; the others are plotted)."""
    found = {s.get("metric") for comp in curve.points for s in comp.significance}
    return [m for m in curve.metrics if m in found]


def _better(curve: Curve, metric: str, diff: float) -> bool:
    return diff > 0 if curve.metrics.get(metric, {}).get("higher_is_better", True) else diff < 0


def along_curve(tests: list[dict[str, Any] | None]) -> list[dict[str, Any] | None]:
    """One model's (or one lead's) tests at each point of a curve as one family: each point's Holm p (already
    corrected within its table) Holm-adjusted again across the points tested (``p_curve``); ``curve_significant``
    only for a recipe-level line (MIN_SEEDS seeds) under 0.05 there with enough photos. Copies; None stays."""
    tested = [i for i, s in enumerate(tests) if s is not None and s.get("p_holm") is not None]
    adjusted = holm([tests[i]["p_holm"] for i in tested]) if tested else []  # type: ignore[index]
    out: list[dict[str, Any] | None] = [None if s is None else dict(s) for s in tests]
    for i, p in zip(tested, adjusted, strict=True):
        s = out[i]
        assert s is not None
        s["p_curve"] = p
        s["curve_significant"] = bool(p < ALPHA and s.get("n_photos", 0) >= MIN_PHOTOS
                                      and s.get("claim", "recipe") == "recipe")
    for s in out:
        if s is not None:
            s.setdefault("p_curve", None)
            s.setdefault("curve_significant", False)
    return out


def gray_tests(curve: Curve, model: str, metric: str) -> list[dict[str, Any] | None]:
    """The model's test against gray at each point, corrected across the curve's points (:func:`along_curve`)."""
    return along_curve([point_test(comp, model, "gray", metric) for comp in curve.points])


def gray_verdicts(curve: Curve, model: str, metric: str) -> list[str]:
    """Per point: 'above' / 'below' (significantly better / worse than gray, corrected across the curve's
    points, recipe-level), 'generator' (fewer than MIN_SEEDS seeds: no recipe-level claim), 'n.s.' or ''
    (not run or not testable)."""
    out = []
    for s in gray_tests(curve, model, metric):
        if s is None or s.get("p", 0.0) is None:
            out.append("")
        elif s.get("claim") == "generator":
            out.append("generator")
        elif not s["curve_significant"]:
            out.append("n.s.")
        else:
            out.append("above" if _better(curve, metric, s["mean_diff"]) else "below")
    return out


def first_above_gray(curve: Curve, model: str, metric: str) -> int | None:
    """The index of the first point at which ``model`` is significantly better than gray, or None."""
    verdicts = gray_verdicts(curve, model, metric)
    return verdicts.index("above") if "above" in verdicts else None


def _ranked(curve: Curve, index: int, metric: str) -> list[str]:
    higher = curve.metrics.get(metric, {}).get("higher_is_better", True)
    means = {m: p.mean_ci(metric)[0] for m, pts in curve.lines.items() if (p := pts[index]) is not None}
    means = {m: v for m, v in means.items() if math.isfinite(v)}
    return sorted(means, key=lambda m: -means[m] if higher else means[m])


def best_at(curve: Curve, index: int, metric: str) -> tuple[str, str | None, dict[str, Any] | None] | None:
    """(best model, runner-up, the point's test best − runner-up, corrected across the curve's points) by the
    mean over seeds; None without models."""
    ranked = _ranked(curve, index, metric)
    if not ranked:
        return None
    if len(ranked) == 1:
        return ranked[0], None, None
    leads = []
    for i in range(len(curve.points)):
        r = _ranked(curve, i, metric)
        leads.append(point_test(curve.points[i], r[0], r[1], metric) if len(r) > 1 else None)
    return ranked[0], ranked[1], along_curve(leads)[index]


def area(curve: Curve, model: str, metric: str) -> tuple[float, float, int]:
    """Area under the model's curve as the mean height over the axis in log2 units (a budget doubling
    counts the same wherever it happens), per seed over the seeds present at every point, then mean and
    95% CI over those seeds: (mean, ci, n seeds). NaN when no seed has every point."""
    line = curve.lines.get(model, [])
    points = [p for p in line if p is not None]
    if len(points) < 2 or len(points) < len(line):
        return float("nan"), float("nan"), 0
    x = np.log2(np.asarray(curve.x, dtype=np.float64))
    if not np.all(np.isfinite(x)) or x[-1] - x[0] <= 0:
        return float("nan"), float("nan"), 0
    seeds = set.intersection(*(set(p.seeds) for p in points))
    per_seed = []
    for seed in sorted(seeds):
        y = np.asarray([p.seeds[seed].get(metric, float("nan")) for p in points], dtype=np.float64)
        if np.all(np.isfinite(y)):
            per_seed.append(_mean_height(x, y))
    m, ci = mean_ci(per_seed)
    return m, ci, len(per_seed)


def gray_area(curve: Curve, metric: str) -> float:
    x = np.log2(np.asarray(curve.x, dtype=np.float64))
    y = np.asarray(curve.gray.get(metric, []), dtype=np.float64)
    if y.size != x.size or not np.all(np.isfinite(y)) or not np.all(np.isfinite(x)) or x[-1] - x[0] <= 0:
        return float("nan")
    return _mean_height(x, y)


def _mean_height(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))
