"""The curves in the report: a table and a plot per curve and metric, its sentences, and the records
(``curves.csv``, the JSON) written beside the comparisons."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganbench.report.curve_sentences import curve_sentences, digits_of, number_text, unit_of
from ganbench.report.curves import (
    BUDGET,
    COMPUTE_AXES,
    DATA_AXES,
    Curve,
    area,
    build_curves,
    first_above_gray,
    gray_area,
    gray_tests,
    gray_verdicts,
    tested_metrics,
)
from ganbench.report.document import Block, Figure, Lines, Section, Table
from ganbench.report.forest import plot_forest
from ganbench.score.verdicts import MIN_SEEDS
from ganbench.store.images import save_plot


# --- tables, plots and the report section ----------------------------------------------------------------
def curve_table(curve: Curve, metric: str) -> tuple[list[str], list[list[str]]]:
    """Rows: each model's mean ± CI at every point (with its gray verdict where tested), then the area."""
    header = ["model", *curve.labels, "area"]
    rows = []
    tested, d = metric in tested_metrics(curve), digits_of(curve, metric)
    for model, points in curve.lines.items():
        verdicts = gray_verdicts(curve, model, metric) if tested else [""] * len(points)
        cells = [model]
        for p, v in zip(points, verdicts, strict=True):
            if p is None:
                cells.append("—")
                continue
            m, ci = p.mean_ci(metric)
            text = number_text(m, d) + (f" ± {number_text(ci, d)}" if math.isfinite(ci) else "")
            cells.append(text + {"above": " ▲", "below": " ▼", "generator": " (g)"}.get(v, ""))
        a, ci, _ = area(curve, model, metric)
        cells.append(number_text(a, d) + (f" ± {number_text(ci, d)}" if math.isfinite(ci) else ""))
        rows.append(cells)
    gray = [number_text(v, d) for v in curve.gray.get(metric, [])]
    rows.append(["gray", *gray, number_text(gray_area(curve, metric), d)])
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
        unit = unit_of(curve, metric).strip()
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
    save_plot(fig, path, dpi=80)


def curve_forest_lines(curve: Curve) -> list[dict[str, Any]]:
    """Each model's line against gray at every point of the curve, on every tested metric, labelled
    ``model @ point``, with ``significant`` as the curve's verdict (corrected across its points, the ▲ / ▼ of the
    table): what the curve's forest plot draws."""
    out = []
    for metric in tested_metrics(curve):
        for model in curve.lines:
            for label, s in zip(curve.labels, gray_tests(curve, model, metric), strict=True):
                if s is not None:
                    out.append({**s, "model": f"{model} @ {label}",
                                "significant": bool(s.get("curve_significant")),
                                "generator_significant": bool(s.get("generator_significant"))})
    return out


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
    """What the report adds for its curves: one report section per curve, and curves.csv's rows."""

    curves: list[Curve]
    sections: list[Section]
    rows: list[dict[str, Any]]


def curve_section(comps: list, out: Path) -> CurveSection:
    """Find the curves among the report's comparisons, draw each to ``quality-curve-<i>.png`` in ``out`` and
    return the report's sections for them (none when there is no curve)."""
    curves = build_curves(comps)
    sections = []
    for i, curve in enumerate(curves):
        png = out / f"quality-curve-{i}.png"
        plot_curve(curve, png)
        sentences = curve_sentences(curve)
        blocks: list[Block] = [Figure(png.name, "", "quality curves: each model's test metrics against "
                                      f"{'compute' if curve.axis == BUDGET else 'training photos'}")]
        forest = out / f"curve-forest-{i}.png"
        if plot_forest(curve_forest_lines(curve), forest, f"{curve.title}: each point against gray",
                       "significantly better / worse than gray, corrected across the curve's points (▲ / ▼)"):
            blocks.append(Figure(forest.name, "", "forest plot: each point against gray, 95% CI per point"))
        for metric in curve.metrics:
            header, rows = curve_table(curve, metric)
            blocks.append(Table(_frame(header, rows), caption=(
                f"Test {metric}, mean ± 95% CI over seeds (▲ / ▼ significantly better / worse than gray, "
                f"corrected across the curve's points; (g): fewer than {MIN_SEEDS} seeds, no recipe-level "
                "claim):")))
        blocks.append(Lines(sentences))
        sections.append(Section(curve.title, "curve", blocks, curve_record(curve, sentences)))
    return CurveSection(curves, sections, [r for c in curves for r in curve_rows(c)])


def _frame(header: list[str], rows: list[list[str]]):
    import pandas as pd

    return pd.DataFrame(rows, columns=header)


__all__ = ["curve_section", "curve_table", "plot_curve", "curve_forest_lines"]
