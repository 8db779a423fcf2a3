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
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganbench.core.budgets import Budget, describe
from ganbench.core.config import stable_hash
from ganbench.score.stats import mean_ci
from ganbench.score.verdicts import MIN_PHOTOS
from ganbench.store.results import atomic_write_bytes

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
    cfg = comp.runs[0].record["config"]
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
        return _mean([r.record.get("spent", {}).get("images") for r in runs])
    return _mean([r.record.get("data", {}).get("train_images") for r in runs])


def point_label(comp, axis: str) -> str:
    """'1,200 images' (a budget of steps, images or epochs: the same for every model), '32 photos', or the
    budget itself ('60 s': a wall-clock budget buys each model a different number of images)."""
    value = point_value(comp, axis)
    if axis == DATA:
        return f"{value:,.0f} photo{'s' * (value != 1)}" if math.isfinite(value) else "? photos"
    budget = comp.runs[0].record["config"]["budget"]
    if budget.get("seconds") is None and math.isfinite(value):
        return f"{value:,.0f} images"
    try:
        return describe(Budget(**budget))
    except TypeError:  # a budget written by another version
        return str(budget.get("name"))


def _title(comp, axis: str) -> str:
    rec = comp.runs[0].record
    cfg, budget = rec["config"], rec["config"]["budget"]
    data = rec.get("dataset_description", cfg["dataset"])
    if axis == BUDGET:
        limit = cfg.get("dataset_options", {}).get("limit")
        data += f" ({limit} training photos at most)" if limit else ""
        what = f"against compute ({budget.get('image_size')}px, batch {budget.get('batch_size')})"
    else:
        what = f"against training photos (budget {point_label(comp, BUDGET)}, {budget.get('image_size')}px)"
    return f"Quality {what} · {data} · {cfg['device']} {cfg['precision']}"


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
        seeds = {seed: {k: float(v) for k, v in r.metrics["model"].items() if isinstance(v, (int, float))}
                 for seed, r in row.counted.items()}
        spent = [r.record.get("spent", {}) for r in runs]
        out[row.label] = PointStats(
            row.label, seeds, images=_mean(s.get("images") for s in spent),
            flops=_mean(s.get("flops") for s in spent), seconds=_mean(s.get("train_seconds") for s in spent),
            photos=_mean(r.record.get("data", {}).get("train_images") for r in runs))
    return out


def make_curve(axis: str, key: str, points: list) -> Curve:
    points = sorted(points, key=lambda c: point_value(c, axis))
    curve = Curve(axis, key, _title(points[0], axis), points, [point_label(c, axis) for c in points],
                  [point_value(c, axis) for c in points], _metric_info(points))
    stats = [_point_stats(c) for c in points]
    models = list(dict.fromkeys(m for s in stats for m in s))
    curve.lines = {m: [s.get(m) for s in stats] for m in models}
    for name in curve.metrics:
        curve.gray[name] = [_mean(r.metrics.get("gray", {}).get(name) for r in _complete(c)) for c in points]
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
def _test(comp, model: str, versus: str, metric: str) -> dict[str, Any] | None:
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


def gray_verdicts(curve: Curve, model: str, metric: str) -> list[str]:
    """Per point: 'above' / 'below' (significantly better / worse than gray), 'n.s.' or '' (not run or not
    testable)."""
    out = []
    for comp in curve.points:
        s = _test(comp, model, "gray", metric)
        if s is None or s.get("p", 0.0) is None:
            out.append("")
        elif not s.get("significant"):
            out.append("n.s.")
        else:
            out.append("above" if _better(curve, metric, s["mean_diff"]) else "below")
    return out


def first_above_gray(curve: Curve, model: str, metric: str) -> int | None:
    """The index of the first point at which ``model`` is significantly better than gray, or None."""
    verdicts = gray_verdicts(curve, model, metric)
    return verdicts.index("above") if "above" in verdicts else None


def best_at(curve: Curve, index: int, metric: str) -> tuple[str, str | None, dict[str, Any] | None] | None:
    """(best model, runner-up, the point's test best − runner-up) by the mean over seeds; None without models."""
    higher = curve.metrics.get(metric, {}).get("higher_is_better", True)
    means = {m: pts[index].mean_ci(metric)[0] for m, pts in curve.lines.items() if pts[index] is not None}
    means = {m: v for m, v in means.items() if math.isfinite(v)}
    if not means:
        return None
    ranked = sorted(means, key=lambda m: -means[m] if higher else means[m])
    if len(ranked) == 1:
        return ranked[0], None, None
    return ranked[0], ranked[1], _test(curve.points[index], ranked[0], ranked[1], metric)


def area(curve: Curve, model: str, metric: str) -> tuple[float, float, int]:
    """Area under the model's curve as the mean height over the axis in log2 units (a budget doubling
    counts the same wherever it happens), per seed over the seeds present at every point, then mean and
    95% CI over those seeds: (mean, ci, n seeds). NaN when no seed has every point."""
    points = curve.lines.get(model, [])
    if len(points) < 2 or any(p is None for p in points):
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


# --- sentences --------------------------------------------------------------------------------------------
def _unit(curve: Curve, metric: str) -> str:
    unit = curve.metrics.get(metric, {}).get("unit") or ""
    return f" {unit}" if unit and unit != "0-255" else ""


def _name(metric: str) -> str:
    return metric.upper() if metric in ("psnr", "mae", "ssim") else metric


def _digits(curve: Curve, metric: str) -> int:
    """4 decimals for scores that live in [0, 1] (SSIM), else 2."""
    values = [v for v in curve.gray.get(metric, []) if math.isfinite(v)]
    values += [p.mean_ci(metric)[0] for pts in curve.lines.values() for p in pts if p is not None]
    values = [abs(v) for v in values if math.isfinite(v)]
    return 4 if values and max(values) <= 1.5 else 2


def _num(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "—"


def _p(p: float) -> str:
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def _seed_count(s: dict[str, Any]) -> str:
    def n(k: int) -> str:
        return f"{k} seed{'s' * (k != 1)}"

    if "seeds_a" not in s:
        return ""
    if s.get("versus") == "gray" or "seeds_b" not in s:
        return n(s["seeds_a"])
    return f"{s['model']} {n(s['seeds_a'])}, {s['versus']} {n(s['seeds_b'])}"


def evidence(s: dict[str, Any], unit: str = "", digits: int = 2) -> str:
    """A test's numbers in words, as the point's own significance line gives them: difference, its 95%
    interval, p and Holm-adjusted p, seeds and photos (or why it was not tested)."""
    if s.get("p") is None and s.get("untested"):
        return f"not tested: {s['untested']}"
    text = f"{s['mean_diff']:+.{digits}f}{unit}"
    if s.get("ci_low") is not None and s.get("ci_high") is not None:
        text += f" [95% CI {s['ci_low']:+.{digits}f}, {s['ci_high']:+.{digits}f}]"
    if s.get("p") is not None:
        text += f", p = {_p(s['p'])}" + (f", Holm p = {_p(s['p_holm'])}" if s.get("p_holm") is not None else "")
    photos = s.get("n_photos")
    counts = [c for c in (_seed_count(s), None if photos is None else f"{photos} test photos") if c]
    text += f" ({', '.join(counts)})" if counts else ""
    if not s.get("significant") and photos is not None and photos < MIN_PHOTOS:
        text += f"; fewer than {MIN_PHOTOS} test photos are never significant"
    return text


def gray_sentence(curve: Curve, model: str, metric: str) -> str:
    unit, digits = _unit(curve, metric), _digits(curve, metric)
    verdicts = gray_verdicts(curve, model, metric)
    first = first_above_gray(curve, model, metric)
    name = _name(metric)
    if first is None:
        ran = [i for i, v in enumerate(verdicts) if v]
        where = curve.span if len(ran) == len(curve.points) else \
            f"at {', '.join(curve.labels[i] for i in ran)} (the only points run for it)"
        text = (f"{model} is not significantly better than gray on {name} {'within ' * (where == curve.span)}{where}"
                if ran else f"{model}: no test against gray on {name}")
        if ran:
            last = _test(curve.points[ran[-1]], model, "gray", metric)
            text += f"; at {curve.labels[ran[-1]]}: {evidence(last, unit, digits)}"
    else:
        s = _test(curve.points[first], model, "gray", metric)
        text = (f"{model} first beats gray significantly on {name} at {curve.labels[first]}: "
                f"{evidence(s, unit, digits)}")
        later = [curve.labels[i] for i, v in enumerate(verdicts) if i > first and v and v != "above"]
        if later:
            text += f"; not at {', '.join(later)}"
    below = [curve.labels[i] for i, v in enumerate(verdicts) if v == "below"]
    if below:
        text += f"; significantly worse than gray at {', '.join(below)}"
    return text + "."


def best_sentence(curve: Curve, index: int, metric: str) -> str | None:
    found = best_at(curve, index, metric)
    if found is None:
        return None
    best, runner, s = found
    unit, digits = _unit(curve, metric), _digits(curve, metric)
    name = _name(metric)
    mean = curve.lines[best][index].mean_ci(metric)[0]
    text = f"At {curve.labels[index]} the best on {name} is {best} ({_num(mean, digits)}{unit})"
    if runner is None:
        return text + ", the only model there."
    runner_mean = curve.lines[runner][index].mean_ci(metric)[0]
    if s is None:
        return text + f"; no test against {runner} ({_num(runner_mean, digits)}{unit})."
    if s.get("p") is None:
        return text + f"; its lead over {runner} ({_num(runner_mean, digits)}{unit}) is {evidence(s, unit, digits)}."
    verdict = "significant" if s.get("significant") else "not significant"
    return (text + f"; its lead over {runner} ({_num(runner_mean, digits)}{unit}) is {verdict}: "
            f"{evidence(s, unit, digits)}.")


def leader_sentence(curve: Curve, metric: str) -> str | None:
    """Where the lead changes hands along the axis (the crossovers between models)."""
    found = [best_at(curve, i, metric) for i in range(len(curve.points))]
    leaders = [f[0] if f is not None and f[1] is not None else None for f in found]  # a lead needs a runner-up
    runs: list[tuple[str, int, int]] = []
    for i, m in enumerate(leaders):
        if m is None:
            continue
        if runs and runs[-1][0] == m and runs[-1][2] == i - 1:
            runs[-1] = (m, runs[-1][1], i)
        else:
            runs.append((m, i, i))
    if len(runs) < 2:
        return None
    name = _name(metric)
    spans = [f"{m} at {curve.labels[a]}" + (f" to {curve.labels[b]}" if b > a else "") for m, a, b in runs]
    return f"The best mean on {name} changes hands along the axis: {'; '.join(spans)} (each lead's test above)."


def area_sentence(curve: Curve, metric: str) -> str:
    unit, d = _unit(curve, metric), _digits(curve, metric)
    higher = curve.metrics.get(metric, {}).get("higher_is_better", True)
    name = _name(metric)
    rows = [(m, *area(curve, m, metric)) for m in curve.lines]
    done = sorted([r for r in rows if math.isfinite(r[1])], key=lambda r: -r[1] if higher else r[1])
    parts = [f"{m} {_num(a, d)}" + (f" ± {_num(ci, d)}" if math.isfinite(ci) else "")
             + f" ({n} seed{'s' * (n != 1)})" for m, a, ci, n in done]
    missing = [m for m, a, *_ in rows if not math.isfinite(a)]
    text = (f"Area under the {name} curve (mean height over log2 {curve.unit_name}, {curve.labels[0]} to "
            f"{curve.labels[-1]}; mean ± 95% CI over seeds{unit and ', in' + unit}): "
            + ("; ".join(parts) if parts else "none complete"))
    g = gray_area(curve, metric)
    if math.isfinite(g) and not curve.metrics.get(metric, {}).get("reference_free"):
        text += f"; gray {_num(g, d)}"
    if missing:
        text += f"; not every point run for {', '.join(missing)}"
    return text + "."


def curve_sentences(curve: Curve) -> list[str]:
    """The answers, in order: when each model first beats gray, who is best at each point and whether the
    lead is significant, where the lead changes hands, and the area under each curve."""
    lines = []
    for metric in tested_metrics(curve):
        lines += [gray_sentence(curve, m, metric) for m in curve.lines]
        lines += [s for i in range(len(curve.points)) if (s := best_sentence(curve, i, metric))]
        if (s := leader_sentence(curve, metric)) is not None:
            lines.append(s)
    lines += [area_sentence(curve, metric) for metric in curve.metrics]
    return lines


# --- tables, plots and the report section ----------------------------------------------------------------
def curve_table(curve: Curve, metric: str) -> tuple[list[str], list[list[str]]]:
    """Rows: each model's mean ± CI at every point (with its gray verdict where tested), then the area."""
    header = ["model", *curve.labels, "area"]
    rows = []
    tested, d = metric in tested_metrics(curve), _digits(curve, metric)
    for model, points in curve.lines.items():
        verdicts = gray_verdicts(curve, model, metric) if tested else [""] * len(points)
        cells = [model]
        for p, v in zip(points, verdicts, strict=True):
            if p is None:
                cells.append("—")
                continue
            m, ci = p.mean_ci(metric)
            text = _num(m, d) + (f" ± {_num(ci, d)}" if math.isfinite(ci) else "")
            cells.append(text + {"above": " ▲", "below": " ▼"}.get(v, ""))
        a, ci, _ = area(curve, model, metric)
        cells.append(_num(a, d) + (f" ± {_num(ci, d)}" if math.isfinite(ci) else ""))
        rows.append(cells)
    rows.append(["gray", *[_num(v, d) for v in curve.gray.get(metric, [])], _num(gray_area(curve, metric), d)])
    return header, rows


def plot_curve(curve: Curve, path: Path) -> None:
    """One row per metric, one column per x axis; a line per model (mean over seeds) with its 95% CI band,
    and the gray baseline dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes_def = COMPUTE_AXES if curve.axis == BUDGET else DATA_AXES
    axes_def = [(label, key) for label, key in axes_def
                if any(p is not None and math.isfinite(getattr(p, key)) for pts in curve.lines.values() for p in pts)]
    metrics = list(curve.metrics)
    fig, axes = plt.subplots(len(metrics), len(axes_def), figsize=(5 * len(axes_def), 3.2 * len(metrics)),
                             squeeze=False)
    for row, metric in enumerate(metrics):
        unit = _unit(curve, metric).strip()
        for col, (xlabel, key) in enumerate(axes_def):
            ax = axes[row][col]
            for model, points in curve.lines.items():
                pts = [p for p in points if p is not None and math.isfinite(getattr(p, key))]
                if not pts:
                    continue
                x = np.asarray([getattr(p, key) for p in pts])
                mc = np.asarray([p.mean_ci(metric) for p in pts], dtype=np.float64)
                (line,) = ax.plot(x, mc[:, 0], marker="o", label=model)
                ok = np.isfinite(mc[:, 1])
                if ok.any():
                    ax.fill_between(x[ok], (mc[:, 0] - mc[:, 1])[ok], (mc[:, 0] + mc[:, 1])[ok],
                                    color=line.get_color(), alpha=0.15, linewidth=0)
            gray = [g for g in curve.gray.get(metric, []) if math.isfinite(g)]
            if gray and not curve.metrics[metric].get("reference_free"):
                ax.axhline(float(np.mean(gray)), color="gray", ls="--", label="gray baseline")
            ax.set_xscale("log", base=2 if key in ("images", "photos") else 10)
            ax.set(xlabel=xlabel, ylabel=f"test {metric}" + (f" ({unit})" if unit else ""))
            if row == 0 and col == 0:
                ax.legend(fontsize=7)
    fig.suptitle(curve.title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def curve_record(curve: Curve, sentences: list[str]) -> dict[str, Any]:
    """The curve as JSON: points, each model's per-point means, CIs and seeds, areas, sentences."""
    lines = {}
    for model, points in curve.lines.items():
        lines[model] = [None if p is None else {
            "seeds": sorted(p.seeds), "images": p.images, "flops": p.flops, "seconds": p.seconds, "photos": p.photos,
            **{metric: dict(zip(("mean", "ci"), p.mean_ci(metric), strict=True)) for metric in curve.metrics},
        } for p in points]
    return {
        "axis": curve.axis, "key": curve.key, "title": curve.title, "labels": curve.labels, "x": curve.x,
        "comparisons": [c.key for c in curve.points], "lines": lines, "gray": curve.gray,
        "area": {m: {metric: dict(zip(("mean", "ci", "n_seeds"), area(curve, m, metric), strict=True))
                     for metric in curve.metrics} for m in curve.lines},
        "first_above_gray": {m: {metric: (None if (i := first_above_gray(curve, m, metric)) is None
                                          else curve.labels[i]) for metric in tested_metrics(curve)}
                             for m in curve.lines},
        "sentences": sentences,
    }


def curve_rows(curve: Curve) -> list[dict[str, Any]]:
    """Long-format rows for curves.csv: one per (point, model, metric)."""
    rows = []
    for i, label in enumerate(curve.labels):
        for model, points in curve.lines.items():
            p = points[i]
            if p is None:
                continue
            for metric in curve.metrics:
                m, ci = p.mean_ci(metric)
                rows.append({"curve": curve.key, "axis": curve.axis, "point": label, "x": curve.x[i],
                             "model": model, "metric": metric, "mean": m, "ci": ci, "seeds": len(p.seeds),
                             "images": p.images, "flops": p.flops, "seconds": p.seconds, "photos": p.photos,
                             "gray": curve.gray[metric][i]})
    return rows


@dataclass
class CurveSection:
    """What the report adds for its curves: Markdown lines, JSON records, HTML, CSV rows."""

    curves: list[Curve]
    markdown: list[str]
    records: list[dict[str, Any]]
    html: str
    rows: list[dict[str, Any]]


def curve_section(comps: list, out: Path) -> CurveSection:
    """Find the curves among the report's comparisons, draw each to ``curve-<i>.png`` in ``out`` and
    return the report's text for them (empty when there is no curve)."""
    import html as html_lib

    from ganbench.report.tables import _img_tag, _markdown

    curves = build_curves(comps)
    md: list[str] = []
    parts: list[str] = []
    records = []
    for i, curve in enumerate(curves):
        png = out / f"curve-{i}.png"
        plot_curve(curve, png)
        sentences = curve_sentences(curve)
        records.append(curve_record(curve, sentences))
        md += [f"## {curve.title}", "", f"![curves]({png.name})", ""]
        parts += [f"<h2>{html_lib.escape(curve.title)}</h2>", _img_tag(png, "quality curves")]
        for metric in curve.metrics:
            header, rows = curve_table(curve, metric)
            frame = _frame(header, rows)
            md += [f"Test {metric}, mean ± 95% CI over seeds (▲ / ▼ significantly better / worse than gray):", "",
                   _markdown(frame), ""]
            parts += [f"<h3>test {html_lib.escape(metric)}</h3>", frame.to_html(index=False, border=0)]
        md += [f"- {s}" for s in sentences] + [""]
        parts.append("<ul>" + "".join(f"<li>{html_lib.escape(s)}</li>" for s in sentences) + "</ul>")
    return CurveSection(curves, md, records, "\n".join(parts), [r for c in curves for r in curve_rows(c)])


def _frame(header: list[str], rows: list[list[str]]):
    import pandas as pd

    return pd.DataFrame(rows, columns=header)


__all__ = ["Curve", "build_curves", "curve_sentences", "curve_section", "first_above_gray", "best_at", "area"]
