"""The verdicts at a glance: a forest plot per tested metric (each significance line's difference with its 95%
interval, the zero line, the verdict), above the sentences in the HTML and as ``forest-<i>.png``; and the short
verdict summary the console prints after ``ganbench run``.

Recipe-level lines (every seeded side with MIN_SEEDS seeds) are drawn as dots with a solid interval, filled
(red) when significant; generator-level lines (fewer seeds: a claim about the trained generators only) as gray
diamonds with a dashed interval, filled when their photos-only test is significant, so a one-seed result never
looks like a recipe verdict."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ganbench.score.verdicts import MIN_SEEDS

__all__ = ["plot_forest", "verdict_summary"]


def _finite(*xs: Any) -> bool:
    return all(isinstance(x, int | float) and math.isfinite(x) for x in xs)


def _label(s: dict[str, Any]) -> str:
    return f"{s['model']} − {s['versus']}"


def plot_forest(significance: list[dict[str, Any]], path: Path, title: str = "",
                significant_means: str = "significant (Holm)") -> bool:
    """Write the forest plot of these lines to ``path`` (PNG); False (nothing written) without a tested line.
    ``significant_means`` says in the legend what a filled dot is."""
    metrics = list(dict.fromkeys(s["metric"] for s in significance
                                 if s.get("p") is not None and _finite(s.get("mean_diff"))))
    if not metrics:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ganbench.store.images import save_plot

    rows = max(sum(1 for s in significance if s["metric"] == m) for m in metrics)
    height = 0.45 * rows + 1.9  # inches: the rows, the axis labels and a two-line header
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics) + 1.5, height), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        lines = [s for s in significance if s["metric"] == metric]
        for y, s in enumerate(reversed(lines)):
            d, lo, hi = s.get("mean_diff"), s.get("ci_low"), s.get("ci_high")
            if not _finite(d):
                continue
            generator = s.get("claim") == "generator"
            decided = s.get("significant") or s.get("generator_significant")
            colour = "0.55" if generator else ("tab:red" if s.get("significant") else "tab:blue")
            if _finite(lo, hi):
                ax.plot([lo, hi], [y, y], color=colour, ls="--" if generator else "-", lw=1.6)
            ax.plot([d], [y], marker="D" if generator else "o", ms=7, color=colour,
                    markerfacecolor=colour if decided else "white")
            if s.get("p") is None:
                ax.annotate("not tested", (d, y), textcoords="offset points", xytext=(6, 4), fontsize=7)
        ax.axvline(0.0, color="black", lw=0.8)
        ax.locator_params(axis="x", nbins=5)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
        unit = lines[0].get("unit") or ""
        higher = lines[0].get("higher_is_better", True)
        ax.set_yticks(range(len(lines)), [_label(s) for s in reversed(lines)], fontsize=8)
        ax.set_xlabel(f"difference{', ' + unit if unit else ''} ({'higher' if higher else 'lower'} is better)")
        ax.set_title(metric, fontsize=10)
    fig.suptitle((title + "\n" if title else "") + f"● {significant_means} ○ not   ◆ ◇ generator-level (fewer than "
                 f"{MIN_SEEDS} seeds: about these trained generators, no recipe claim), filled when its photos-only "
                 "test is significant", fontsize=8)
    save_plot(fig, path, top=1.0 - (0.16 * (2 if title else 1) + 0.12) / height)  # room for the two-line header
    return True


def verdict_summary(significance: list[dict[str, Any]], metric: str) -> list[str]:
    """A few lines for the console: per row against gray on ``metric`` (the table's mark) and the significant
    recipe-level differences between rows, or why there are none."""
    vs_gray = [s for s in significance if s["metric"] == metric and s["versus"] == "gray"]
    pairs = [s for s in significance if s["metric"] == metric and s["versus"] != "gray"]
    out = []
    recipe = [s for s in vs_gray if s.get("claim") != "generator" and s.get("p") is not None]
    above = [s["model"] for s in recipe if s.get("significant") and s["better"] == s["model"]]
    below = [s["model"] for s in recipe if s.get("significant") and s["better"] != s["model"]]
    same = [s["model"] for s in recipe if not s.get("significant")]
    parts = [f"better than gray: {', '.join(above)}" if above else "",
             f"worse than gray: {', '.join(below)}" if below else "",
             f"not distinguishable from gray: {', '.join(same)}" if same else ""]
    if any(parts):
        out.append(f"{metric} (recipe level, seeds): " + "; ".join(p for p in parts if p) + ".")
    won = [f"{s['better']} over {s['versus'] if s['better'] == s['model'] else s['model']}" for s in pairs
           if s.get("significant")]
    if won:
        out.append(f"{metric} between models: significantly better: {'; '.join(won)}.")
    elif any(s.get("claim") != "generator" and s.get("p") is not None for s in pairs):
        out.append(f"{metric} between models: no significant difference.")
    few = [s for s in vs_gray if s.get("claim") == "generator"]
    if few:
        n = max(s.get("seeds_a") or 1 for s in few)
        out.append(f"{', '.join(s['model'] for s in few)}: {n} seed{'s' * (n != 1)}, so no recipe-level verdict "
                   f"(these lines speak for the trained generators only); a recipe-level verdict needs {MIN_SEEDS} "
                   f"seeds: rerun with --seeds {MIN_SEEDS} (finished seeds are reused).")
    untested = [s for s in vs_gray if s.get("p") is None]
    if untested:
        out.append(f"not tested: {', '.join(s['model'] for s in untested)} ({untested[0].get('untested')}).")
    return out
