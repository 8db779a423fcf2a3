"""The perception–distortion plot of one comparison (Blau & Michaeli 2018): distortion (PSNR by default) against
realism (the first tested set-level metric: the colour-distribution distance or KID), one point per model with
its 95% CIs over seeds on both axes, the gray baseline and the regression baseline (l1) marked."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ganbench.report.comparison import Comparison, primary_metric
from ganbench.store.images import save_plot

#: The row drawn as the regression baseline (no critic) when the comparison has it.
REGRESSION = "l1"


def tradeoff_axes(comp: Comparison) -> tuple[str, str] | None:
    """(realism metric, distortion metric) of the plot, or None when the comparison has no tested set-level
    metric or no distortion metric in its table."""
    realism = next((m.name for m in comp.set_metrics() if m.tested), None)
    distortion = primary_metric(comp)
    if realism is None or realism not in comp.table or distortion not in comp.table:
        return None
    return realism, distortion


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def tradeoff_plot(comp: Comparison, path: Path) -> bool:
    """Write the plot to ``path`` (PNG); False (nothing written) when the comparison cannot have one."""
    axes = tradeoff_axes(comp)
    if axes is None:
        return False
    realism, distortion = axes
    info = {m.name: m for m in comp.metrics}
    points = [row for _, row in comp.table.iterrows()
              if row["model"] != "ground truth" and _finite(row[realism]) and _finite(row[distortion])]
    if not points:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    for row in points:
        model = row["model"]
        xerr = row.get(f"{realism}_ci")
        yerr = row.get(f"{distortion}_ci")
        style: dict[str, Any] = {"marker": "s", "color": "gray", "ms": 9} if model == "gray" else (
            {"marker": "D", "color": "black", "ms": 8} if model == REGRESSION else {"marker": "o", "ms": 7})
        ax.errorbar(row[realism], row[distortion], xerr=xerr if _finite(xerr) else None,
                    yerr=yerr if _finite(yerr) else None, capsize=3, ls="none", **style)
        ax.annotate(model + (" (baseline)" if model == "gray" else " (no critic)" if model == REGRESSION else ""),
                    (row[realism], row[distortion]), textcoords="offset points", xytext=(6, 5), fontsize=8)
    truth = comp.table[comp.table["model"] == "ground truth"]
    if len(truth) and _finite(truth.iloc[0].get(realism)):
        ax.axvline(truth.iloc[0][realism], color="green", ls=":", label="truth split-half (floor)")
        ax.legend(fontsize=8, loc="best")
    r, d = info[realism], info[distortion]
    n = comp.set_n.get(realism)
    ax.set_xlabel(f"{realism}{f' ({r.unit})' if r.unit else ''}: {'higher' if r.higher_is_better else 'lower'} is "
                  f"more realistic (set, N = {n})")
    ax.set_ylabel(f"{distortion}{f' ({d.unit})' if d.unit else ''}: {'higher' if d.higher_is_better else 'lower'} "
                  "is less distortion")
    ax.set_title("perception–distortion: one point per model, 95% CI over seeds", fontsize=10)
    ax.grid(alpha=0.3)
    save_plot(fig, path)
    return True
