"""The report on disk: the report's sections built once (``document.py``) from the stored comparisons and
rendered (``render.py``) to ``<out>/report.md``, ``index.html`` (self-contained: images embedded) and
``report.json``; ``report.csv`` and ``curves.csv`` hold the tables' numbers. Pictures, per comparison ``i``:
``forest-i.png`` (each verdict with its CI), ``tradeoff-i.png`` (perception–distortion),
``training-curves-i.png`` (losses and validation PSNR over training), ``samples-i.png`` (every model on the same
test crops); per curve across comparisons: ``quality-curve-i.png`` (test metrics against compute or photos)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganbench.core.errors import ResultsError
from ganbench.core.options import RunSettings, default, show
from ganbench.report.comparison import Comparison, load_comparisons
from ganbench.report.curve_section import curve_section
from ganbench.report.document import Block, Figure, Gallery, Lines, Report, Section, Table, Text
from ganbench.report.forest import plot_forest
from ganbench.report.render import to_html, to_json, to_markdown
from ganbench.report.tables import (
    SIGNIFICANCE_HEADER,
    console_table,
    display_table,
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
    """Read every run under ``results``, build the report once (:func:`build_report`) and write it to ``out``
    (default ``results/report``) as report.md, index.html and report.json, with report.csv and curves.csv."""
    comps, notes, out, _ = write_report_document(results, out)
    return comps, notes, out


def write_report_document(results: Path, out: Path | None = None
                          ) -> tuple[list[Comparison], list[str], Path, Report]:
    """:func:`write_report`, returning the report document too (what ``ganbench report`` prints)."""
    results = Path(results)
    comps, notes = load_comparisons(results)
    out = Path(out) if out else results / "report"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsError(f"cannot create {out}: {exc.strerror}") from None
    curves = curve_section(comps, out)  # quality against budget and data, across comparisons (curves.py)
    report = build_report(comps, notes, out, curves.sections)
    atomic_write_text(out / "report.md", to_markdown(report))
    atomic_write_text(out / "report.csv", pd.concat([_csv_frame(c) for c in comps]).to_csv(index=False))
    atomic_write_json(out / "report.json", to_json(report))
    if curves.rows:
        atomic_write_text(out / "curves.csv", pd.DataFrame(curves.rows).to_csv(index=False))
    atomic_write_text(out / "index.html", to_html(report, out))
    return comps, notes, out, report


def build_report(comps: list[Comparison], notes: list[str], out: Path, curve_sections: list[Section]) -> Report:
    """The report's sections: the curves, one per comparison (drawing its figures into ``out``), the notes."""
    report = Report("ganbench report", list(curve_sections))
    report.sections += [comparison_section(comp, out, i) for i, comp in enumerate(comps)]
    if notes:
        report.sections.append(Section("Notes", "notes", [Lines(notes)], notes))
    return report


#: What the comparison table shows, under it.
TABLE_TEXT = ("Mean ± 95% confidence interval over seeds; * best model per column; gray = input L with a = b = 0; "
              "the table uses the generator selected on the validation photos (not the test photos): by default "
              f"the highest validation PSNR among those at least {FLOOR} as colourful as the photos (rule in each "
              "run's metrics.json).")


def comparison_section(comp: Comparison, out: Path, i: int) -> Section:
    """One comparison: its table, verdicts, figures (drawn into ``out`` as ``*-<i>.png``), notes and provenance."""
    chosen = selection_notes(comp)
    adversary = diagnostics.report_lines(comp)
    blocks: list[Block] = [Table(display_table(comp), console=console_table(comp)), Text(TABLE_TEXT),
                           Lines(chosen)]
    if plot_forest(comp.significance, out / f"forest-{i}.png", comp.title):
        blocks.append(Figure(f"forest-{i}.png", "Verdicts at a glance (each difference with its 95% CI)",
                             "verdicts: each difference with its 95% CI"))
    blocks.append(Lines(significance_lines(comp), heading=SIGNIFICANCE_HEADER))
    blocks += [Text(line) for line in set_level_note(comp)]
    blocks.append(Lines(set_significance_lines(comp), heading=SET_HEADER))
    if tradeoff_plot(comp, out / f"tradeoff-{i}.png"):
        blocks.append(Figure(f"tradeoff-{i}.png", "Perception–distortion", "perception-distortion plot"))
    blocks.append(Lines(row_notes(comp), heading="Rows:", console_lines=comp.excluded + comp.problems))
    blocks.append(Lines(adversary, console_lines=[]))
    if _training_plot(comp, out / f"training-curves-{i}.png"):
        blocks.append(Figure(f"training-curves-{i}.png", "Training curves",
                             "critic loss or Wasserstein estimate over steps; validation PSNR against images "
                             "and seconds"))
    if _sample_grid(comp, out / f"samples-{i}.png"):
        blocks.append(Figure(f"samples-{i}.png", "Samples on fixed test crops (gray input | each model | truth)",
                             "sample grid"))
    blocks.append(Gallery("Per-run sample grids", [(r.path.name, r.path / "samples.png")
                                                   for _, _, r in _counted(comp) if (r.path / "samples.png").exists()]))
    blocks.append(Text("Provenance: " + ", ".join(f"{k} {v}" for k, v in provenance(comp).items())))
    data = {"comparison": comp.key, "title": comp.title, "rows": _records(comp.table),
            "significance": comp.significance, "set_significance": comp.set_significance,
            "set_level_images": comp.set_n, "selection_notes": chosen, "adversary": adversary,
            "provenance": provenance(comp), "row_notes": row_notes(comp), "runs": [str(r.path) for r in comp.runs],
            "counted_runs": {row.label: {s: str(r.path) for s, r in row.counted.items()} for row in comp.rows}}
    return Section(comp.title, "comparison", blocks, data)


def _csv_frame(comp: Comparison) -> pd.DataFrame:
    frame = comp.table.copy()
    frame.insert(0, "comparison", comp.key)
    return frame


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    recs = json.loads(df.to_json(orient="records"))
    return recs


def _counted(comp: Comparison):
    """(row, seed, run) for every run the table counts, rows in table order, seeds ascending."""
    return [(row, seed, row.counted[seed]) for row in comp.rows for seed in row.seeds]


def _training_plot(comp: Comparison, path: Path) -> bool:
    """Losses / Wasserstein estimate over steps and validation PSNR against images and seconds, of every run the
    table counts; False (nothing drawn) when it counts none."""
    if not _counted(comp):
        return False
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
    save_plot(fig, path)
    return True


def critic_plot_title(plotted: dict[str, set[str]]) -> str:
    """The critic plot's title, naming what it shows per loss: ``critic: Wasserstein estimate (wasserstein);
    critic loss (bce, hinge)``."""
    if not plotted:
        return "critic"
    return "critic: " + "; ".join(f"{what} ({', '.join(sorted(losses))})" for what, losses in sorted(plotted.items()))


def _sample_grid(comp: Comparison, path: Path) -> bool:
    """gray input | each model (its first complete seed) | truth, on the same fixed test crops; False when
    fewer than one model has samples."""
    from ganbench.store.images import grid, save_png

    columns: dict[str, np.ndarray] = {}
    truth = None
    for row, _, r in _counted(comp):
        stored = r.path / "samples.npz"
        if row.label in columns or not stored.exists():
            continue
        with np.load(stored, allow_pickle=False) as z:
            if truth is None:
                columns["gray input"], truth = z["gray"], z["truth"]
            elif z["truth"].shape != truth.shape:
                continue
            columns[row.label] = z["pred"]
    if truth is None or len(columns) < 2:
        return False
    columns["truth"] = truth
    save_png(grid(columns), path)
    return True
