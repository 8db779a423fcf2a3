"""The report on disk: ``<out>/report.md``, ``report.csv``, ``report.json`` and ``index.html`` (self-contained:
images embedded), plots and sample grids, and the curves across comparisons."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganbench.core.errors import ResultsError
from ganbench.core.options import RunSettings, default, show
from ganbench.report.comparison import Comparison, load_comparisons
from ganbench.report.curve_section import curve_section
from ganbench.report.forest import plot_forest
from ganbench.report.tables import (
    SIGNIFICANCE_HEADER,
    display_table,
    img_tag,
    markdown,
    provenance,
    row_notes,
    selection_notes,
    set_level_note,
    set_significance_lines,
    significance_lines,
)
from ganbench.report.tradeoff import tradeoff_plot
from ganbench.score import diagnostics
from ganbench.score.set_level import SET_HEADER
from ganbench.store.images import save_plot
from ganbench.store.results import (
    atomic_write_json,
    atomic_write_text,
)

#: The default colourfulness floor of checkpoint selection, as the report's text shows it.
FLOOR = show(default(RunSettings, "colorfulness_floor"))


def write_report(results: Path, out: Path | None = None) -> tuple[list[Comparison], list[str], Path]:
    results = Path(results)
    comps, notes = load_comparisons(results)
    out = Path(out) if out else results / "report"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsError(f"cannot create {out}: {exc.strerror}") from None
    curves = curve_section(comps, out)  # quality against budget and data, across comparisons (curves.py)
    md, csv_frames, js = ["# ganbench report", "", *curves.markdown], [], []
    for i, comp in enumerate(comps):
        disp = display_table(comp)
        md += [f"## {comp.title}", "", markdown(disp), "",
               "Mean ± 95% confidence interval over seeds; * best model per column; the table uses the generator "
               "selected on the validation photos (not the test photos): by default the highest validation "
               f"PSNR among those at least {FLOOR} as colourful as the photos (rule in each run's metrics.json).", ""]
        chosen = selection_notes(comp)
        md += [f"- {line}" for line in chosen] + ([""] if chosen else [])
        sig = significance_lines(comp)
        if plot_forest(comp.significance, out / f"forest-{i}.png", comp.title):
            md += [f"![verdicts: each difference with its 95% CI](forest-{i}.png)", ""]
        if sig:
            md += [SIGNIFICANCE_HEADER, ""] + [f"- {line}" for line in sig] + [""]
        md += [*set_level_note(comp), ""] if set_level_note(comp) else []
        set_sig = set_significance_lines(comp)
        if set_sig:
            md += [SET_HEADER, ""] + [f"- {line}" for line in set_sig] + [""]
        if tradeoff_plot(comp, out / f"tradeoff-{i}.png"):
            md += [f"![perception–distortion](tradeoff-{i}.png)", ""]
        md += ["Rows:", ""] + [f"- {line}" for line in row_notes(comp)] + [""]
        md += [f"- {line}" for line in diagnostics.report_lines(comp)] + [""]
        md += ["Provenance: " + ", ".join(f"{k} {v}" for k, v in provenance(comp).items()), ""]
        frame = comp.table.copy()
        frame.insert(0, "comparison", comp.key)
        csv_frames.append(frame)
        js.append({"comparison": comp.key, "title": comp.title, "rows": _records(comp.table),
                   "significance": comp.significance, "set_significance": comp.set_significance,
                   "set_level_images": comp.set_n, "selection_notes": chosen,
                   "adversary": diagnostics.report_lines(comp),
                   "provenance": provenance(comp), "row_notes": row_notes(comp),
                   "runs": [str(r.path) for r in comp.runs],
                   "counted_runs": {row.label: {s: str(r.path) for s, r in row.counted.items()} for row in comp.rows}})
        _plots(comp, out, i)
        _sample_grid(comp, out, i)
    if notes:
        md += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    atomic_write_text(out / "report.md", "\n".join(md))
    atomic_write_text(out / "report.csv", pd.concat(csv_frames).to_csv(index=False))
    atomic_write_json(out / "report.json", {"comparisons": js, "curves": curves.records, "notes": notes})
    if curves.rows:
        atomic_write_text(out / "curves.csv", pd.DataFrame(curves.rows).to_csv(index=False))
    atomic_write_text(out / "index.html", render_html(comps, notes, out, curves.html))
    return comps, notes, out


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    recs = json.loads(df.to_json(orient="records"))
    return recs


def _counted(comp: Comparison):
    """(row, seed, run) for every run the table counts, rows in table order, seeds ascending."""
    return [(row, seed, row.counted[seed]) for row in comp.rows for seed in row.seeds]


def _plots(comp: Comparison, out: Path, index: int) -> None:
    """Losses / Wasserstein estimate over steps and validation PSNR against images and seconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    gray_val = None
    plotted: dict[str, set[str]] = {}
    for row, seed, r in _counted(comp):
        label = f"{row.label} s{seed}"
        hist = r.path / "history.csv"
        val = r.path / "validation.csv"
        if hist.exists() and hist.stat().st_size:
            h = pd.read_csv(hist)
            wasserstein = "w_estimate" in h and h["w_estimate"].notna().any()  # empty: the loss has none
            y = h["w_estimate"] if wasserstein else h["d_loss"]
            axes[0].plot(h["step"], y, label=label)
            what = "Wasserstein estimate" if wasserstein else "critic loss"
            plotted.setdefault(what, set()).add(str(r.record.recipe.get("loss")))
        if val.exists() and val.stat().st_size:
            v = pd.read_csv(val)
            axes[1].plot(v["images"], v["val_psnr"], marker="o", label=label)
            axes[2].plot(v["seconds"], v["val_psnr"], marker="o", label=label)
            if "gray_val_psnr" in v and gray_val is None:
                gray_val = float(v["gray_val_psnr"].iloc[0])
    axes[0].set(title=critic_plot_title(plotted), xlabel="generator step")
    axes[1].set(title="validation PSNR vs images seen", xlabel="generator images", ylabel="dB")
    axes[2].set(title="validation PSNR vs training seconds", xlabel="seconds", ylabel="dB")
    if gray_val is not None:
        for ax in axes[1:]:
            ax.axhline(gray_val, color="gray", ls="--", label="gray baseline (validation)")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    save_plot(fig, out / f"curves-{index}.png")


def critic_plot_title(plotted: dict[str, set[str]]) -> str:
    """The critic plot's title, naming what it shows per loss: ``critic: Wasserstein estimate (wasserstein);
    critic loss (bce, hinge)``."""
    if not plotted:
        return "critic"
    return "critic: " + "; ".join(f"{what} ({', '.join(sorted(losses))})" for what, losses in sorted(plotted.items()))


def _sample_grid(comp: Comparison, out: Path, index: int) -> None:
    """gray input | each model (its first complete seed) | truth, on the same fixed test crops."""
    from ganbench.store.images import grid, save_png

    columns: dict[str, np.ndarray] = {}
    truth = None
    for row, _, r in _counted(comp):
        path = r.path / "samples.npz"
        if row.label in columns or not path.exists():
            continue
        with np.load(path, allow_pickle=False) as z:
            if truth is None:
                columns["gray input"], truth = z["gray"], z["truth"]
            elif z["truth"].shape != truth.shape:
                continue
            columns[row.label] = z["pred"]
    if truth is None or len(columns) < 2:
        return
    columns["truth"] = truth
    save_png(grid(columns), out / f"samples-{index}.png")


def render_html(comps: list[Comparison], notes: list[str], out: Path, curves_html: str = "") -> str:
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>ganbench report</title><style>",
             "body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
             "td:first-child,th:first-child,td:nth-child(2),th:nth-child(2),td:nth-last-child(-n+2),"
             "th:nth-last-child(-n+2){text-align:left}img{max-width:100%}.grids img{margin:4px}"
             "</style></head><body><h1>ganbench report</h1>", curves_html]
    for i, comp in enumerate(comps):
        parts.append(f"<h2>{html.escape(comp.title)}</h2>")
        parts.append(display_table(comp).to_html(index=False, escape=True, border=0))
        parts.append("<p>Mean ± 95% CI over seeds; * best per column; gray = input L with a = b = 0.</p>")
        parts += [f"<p>{html.escape(line)}</p>" for line in selection_notes(comp)]
        sig = significance_lines(comp)
        forest = out / f"forest-{i}.png"
        if forest.exists():
            parts.append("<h3>Verdicts at a glance (each difference with its 95% CI)</h3>")
            parts.append(img_tag(forest, "forest plot of the significance lines"))
        if sig:
            parts.append(f"<p>{html.escape(SIGNIFICANCE_HEADER)}</p>")
            parts.append("<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in sig) + "</ul>")
        parts += [f"<p>{html.escape(line)}</p>" for line in set_level_note(comp)]
        set_sig = set_significance_lines(comp)
        if set_sig:
            parts.append(f"<p>{html.escape(SET_HEADER)}</p>")
            parts.append("<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in set_sig) + "</ul>")
        tradeoff = out / f"tradeoff-{i}.png"
        if tradeoff.exists():
            parts.append("<h3>Perception–distortion</h3>")
            parts.append(img_tag(tradeoff, "perception-distortion plot"))
        parts.append("<p>Rows:</p><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in row_notes(comp)) + "</ul>")
        parts += [f"<p>{html.escape(line)}</p>" for line in diagnostics.report_lines(comp)]
        curves = out / f"curves-{i}.png"
        if curves.exists():
            parts.append(img_tag(curves, "training curves"))
        combined = out / f"samples-{i}.png"
        if combined.exists():
            parts.append("<h3>Samples on fixed test crops (gray input | each model | truth)</h3>")
            parts.append(img_tag(combined, "sample grid"))
        parts.append("<details><summary>Per-run sample grids</summary><div class='grids'>")
        for _, _, r in _counted(comp):
            s = r.path / "samples.png"
            if s.exists():
                parts.append(f"<figure style='display:inline-block'>{img_tag(s, r.path.name)}"
                             f"<figcaption>{html.escape(r.path.name)}</figcaption></figure>")
        parts.append("</div></details>")
        prov = provenance(comp)
        parts.append("<p><small>" + html.escape("; ".join(f"{k}: {v}" for k, v in prov.items())) + "</small></p>")
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
