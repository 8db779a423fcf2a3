"""Reports: read every run folder into pandas, aggregate over seeds, compare with the gray baseline.

Writes ``<out>/report.md``, ``report.csv``, ``report.json`` and ``index.html`` (self-contained: images are
embedded), plus plots; returns the tables for the terminal.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganbench.core.errors import ResultsError
from ganbench.report.curves import curve_section
from ganbench.report.grouping import Row, group_rows, identity_text
from ganbench.score import diagnostics
from ganbench.score.stats import mean_ci
from ganbench.score.verdicts import MIN_PHOTOS, MetricInfo, compare_rows, line
from ganbench.store.results import (
    READABLE_SCHEMAS,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    iter_runs,
    read_json,
)

__all__ = ["write_report", "load_runs", "load_comparisons", "compare_results", "display_table", "console_table",
           "significance_lines", "MIN_PHOTOS"]


@dataclass
class RunInfo:
    path: Path
    record: dict[str, Any]
    metrics: dict[str, Any] | None
    per_image: pd.DataFrame | None
    status: str
    problem: str = ""


@dataclass
class Comparison:
    key: str
    runs: list[RunInfo]
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    significance: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""
    metrics: list[MetricInfo] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    #: runs left out of the table (superseded by a newer identity, duplicates of a seed) and why
    excluded: list[str] = field(default_factory=list)
    #: table cells that could not be computed and why
    problems: list[str] = field(default_factory=list)


def load_runs(results: Path) -> tuple[list[RunInfo], list[str]]:
    """Every run folder under ``results``; unreadable, incomplete or foreign ones are flagged, not read."""
    runs, notes = [], []
    for run in iter_runs(results):
        try:
            record = read_json(run.record_path)
        except ResultsError as exc:
            notes.append(f"skipped {run.path.name}: {exc}")
            continue
        schema = record.get("schema_version")
        if schema not in READABLE_SCHEMAS:
            notes.append(f"skipped {run.path.name}: results schema version {schema!r} is not readable by this "
                         f"ganbench (reads {sorted(READABLE_SCHEMAS)})")
            continue
        status = record.get("status", "unknown")
        metrics = per_image = None
        if status == "complete":
            try:
                metrics = read_json(run.path / "metrics.json")
                per_image = pd.read_csv(run.path / "per_image.csv")
            except (ResultsError, OSError, pd.errors.ParserError) as exc:
                status = "incomplete"
                notes.append(f"{run.path.name}: marked complete but unreadable ({exc})")
        elif status in ("running", "interrupted"):
            status = "incomplete"
        runs.append(RunInfo(run.path, record, metrics, per_image, status))
    return runs, notes


def _fmt(mean: float, ci: float, digits: int) -> str:
    if mean is None or not math.isfinite(mean):
        return "—"
    if ci is None or not math.isfinite(ci):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {ci:.{digits}f}"


def _recipe_text(record: dict[str, Any]) -> str:
    recipe = record["config"]["recipe"]
    spent = record.get("spent", {})
    if spent.get("generator_steps") and not spent.get("critic_steps"):  # no critic: the regression baseline
        opt = recipe.get("generator_optimizer", {})
        return f"{recipe.get('loss')} (no critic), generator {opt.get('name')} {opt.get('lr')}"
    opt = recipe.get("critic_optimizer", {})
    return f"{recipe.get('loss')}, {opt.get('name')} {opt.get('lr')}, n_critic {recipe.get('n_critic')}"


def metric_infos(runs: list[RunInfo]) -> list[MetricInfo]:
    """The metrics of a comparison as their own records describe them (metrics.json ``metrics``), in the
    order the runs computed them; a metric no record describes counts as higher-is-better, unitless."""
    described: dict[str, dict[str, Any]] = {}
    names: list[str] = []
    for r in runs:
        if r.metrics is None:
            continue
        described.update(r.metrics.get("metrics", {}))
        names += [n for n in r.record["config"].get("metrics", r.metrics.get("model", {})) if n not in names]
    return [MetricInfo(n, **{k: v for k, v in described.get(n, {}).items()
                             if k in ("higher_is_better", "unit", "reference_free")}) for n in names]


def _seed_mean(row: Row, values: dict[int, Any], what: str, problems: list[str]) -> tuple[float, float, int]:
    """Mean ± CI over the row's seeds of one value per seed; a missing value shrinks n (the table says
    so), a non-finite one leaves the cell empty with a problem line."""
    present = {s: v for s, v in values.items() if v is not None}
    try:
        mean, ci = mean_ci(list(present.values()))
    except ValueError:
        bad = next(s for s, v in present.items() if not math.isfinite(v))
        problems.append(f"{row.label} {what}: seed {bad} scored {present[bad]}, so no mean or CI is shown")
        return float("nan"), float("nan"), len(present)
    return mean, ci, len(present)


def _row_status(row: Row) -> str:
    statuses = sorted(set(row.seed_status().values()))
    if row.counted:
        return "complete" if statuses == ["complete"] else "/".join(statuses)
    div = [r.record.get("divergence") for r in row.runs if r.record.get("divergence")]
    if div:
        return f"diverged at step {div[0]['step']} ({', '.join(div[0]['losses'])})"
    return "/".join(statuses)


def _model_row(row: Row, metrics: list[MetricInfo], problems: list[str]) -> dict[str, Any]:
    done = row.counted
    first = row.runs[0].record
    out: dict[str, Any] = {"model": row.label, "recipe": _recipe_text(first),
                           "budget": first.get("budget", {}).get("name"), "seeds": len(done),
                           "status": _row_status(row), "identity": identity_text(row.identity)}
    for m in metrics:
        mean, ci, n = _seed_mean(row, {s: r.metrics["model"].get(m.name) for s, r in done.items()}, m.name,
                                 problems)
        out[m.name], out[f"{m.name}_ci"], out[f"{m.name}_n"] = mean, ci, n
        if m.reference_free:
            truth, _, _ = _seed_mean(row, {s: r.metrics.get("truth", {}).get(m.name) for s, r in done.items()},
                                     f"truth {m.name}", problems)
            out[f"{m.name}_gap"] = mean - truth if math.isfinite(truth) else float("nan")
    for key, values in (("images_per_s", {s: r.record.get("throughput", {}).get("images_per_s")
                                          for s, r in done.items()}),
                        ("peak_mem_mb", {s: (r.record.get("throughput", {}).get("peak_cuda_max_allocated_mb")
                                             or r.record.get("throughput", {}).get("peak_cpu_rss_mb"))
                                         for s, r in done.items()}),
                        ("images_seen", {s: r.record.get("spent", {}).get("images") for s, r in done.items()})):
        out[key], _, _ = _seed_mean(row, values, key, problems)
    out["selected"] = ",".join(sorted({r.metrics.get("selected", "") for r in done.values()})) or "—"
    return out


def _reference_rows(complete: list[RunInfo], metrics: list[MetricInfo]) -> list[dict[str, Any]]:
    gray = complete[0].metrics["gray"]
    truth = complete[0].metrics.get("truth", {})
    grow: dict[str, Any] = {"model": "gray", "recipe": "baseline: input L, a = b = 0", "budget": "—",
                            "seeds": "—", "status": "baseline"}
    trow: dict[str, Any] = {"model": "ground truth", "recipe": "the test photos themselves", "budget": "—",
                            "seeds": "—", "status": "reference"}
    for m in metrics:
        grow[m.name], grow[f"{m.name}_ci"] = gray.get(m.name, float("nan")), float("nan")
        trow[m.name], trow[f"{m.name}_ci"] = truth.get(m.name, float("nan")), float("nan")
        if m.reference_free:
            grow[f"{m.name}_gap"] = grow[m.name] - trow[m.name]
            trow[f"{m.name}_gap"] = 0.0
    has_truth = any(m.reference_free and m.name in truth for m in metrics)
    return [grow, trow] if has_truth else [grow]


def primary_metric(comp: Comparison) -> str:
    """The metric of the table's "vs gray" column: the first tested one the runs computed (psnr by default)."""
    return next((m.name for m in comp.metrics if not m.reference_free), "psnr")


def _vs_gray_marks(comp: Comparison, metric: str) -> list[str]:
    vs_gray = {s["model"]: s for s in comp.significance if s["versus"] == "gray" and s["metric"] == metric}
    marks = []
    for model in comp.table["model"]:
        s = vs_gray.get(model)
        if s is None or s.get("p") is None:
            marks.append("")
        elif not s["significant"]:
            marks.append("≈ gray (n.s.)")
        else:
            marks.append("above gray" if s["better"] == model else "below gray")
    return marks


def build_comparison(key: str, runs: list[RunInfo]) -> Comparison:
    comp = Comparison(key, runs)
    first = runs[0].record
    budget = first.get("budget", {})
    comp.title = (f"{first.get('dataset_description', first['config']['dataset'])} · budget {budget.get('name')} "
                  f"({budget.get('image_size')}px, batch {budget.get('batch_size')}) · {first['config']['device']}")
    comp.metrics = metric_infos(runs)
    comp.rows, comp.excluded = group_rows(sorted(runs, key=lambda r: r.path.name))
    table = [_model_row(row, comp.metrics, comp.problems) for row in comp.rows]
    complete = [r for row in comp.rows for r in row.counted.values()]
    if complete:
        table += _reference_rows(complete, comp.metrics)
    comp.table = pd.DataFrame(table)
    comp.significance = compare_rows({row.label: {s: r.per_image for s, r in row.counted.items()}
                                      for row in comp.rows if row.counted}, comp.metrics)
    comp.table["vs_gray"] = _vs_gray_marks(comp, primary_metric(comp))
    return comp


def group_comparisons(runs: list[RunInfo]) -> list[Comparison]:
    groups: dict[str, list[RunInfo]] = {}
    for r in runs:
        groups.setdefault(r.record.get("comparison", "?"), []).append(r)
    comps = [build_comparison(k, v) for k, v in groups.items()]
    comps.sort(key=lambda c: max(r.path.name for r in c.runs), reverse=True)  # newest first
    return comps


# --- rendering ----------------------------------------------------------------------------------------
def _metric_title(m: MetricInfo) -> str:
    unit = f" {m.unit}" if m.unit else ""
    return f"{m.name}{unit}" if m.reference_free else f"{m.name}{unit} {'↑' if m.higher_is_better else '↓'}"


def display_columns(comp: Comparison) -> list[tuple[str, str]]:
    """(table column, title) as shown: the comparison's own metrics in their order, each reference-free one
    with its gap to the ground truth."""
    cols = [("model", "model"), ("recipe", "recipe (loss, critic optimiser, n_critic)"), ("budget", "budget")]
    for m in comp.metrics:
        cols.append((m.name, _metric_title(m)))
        if m.reference_free:
            cols.append((f"{m.name}_gap", f"Δ {m.name} vs truth"))
    return cols + [("images_per_s", "images/s"), ("peak_mem_mb", "peak MB"), ("seeds", "seeds"),
                   ("vs_gray", f"vs gray ({primary_metric(comp)})"), ("status", "status")]


def _digits(values: pd.Series) -> int:
    finite = values.dropna().abs()
    return 4 if len(finite) and finite.max() < 2 else 2


def _best_rows(comp: Comparison, models: pd.DataFrame) -> dict[str, Any]:
    """Per column the best model row: metrics with a reference by their own direction, and images/s."""
    directions = {m.name: m.higher_is_better for m in comp.metrics if not m.reference_free}
    directions["images_per_s"] = True
    best = {}
    for col, higher in directions.items():
        vals = models[col].dropna() if col in models else pd.Series(dtype=float)
        if len(vals) > 1:
            best[col] = vals.idxmax() if higher else vals.idxmin()
    return best


def display_table(comp: Comparison) -> pd.DataFrame:
    """Strings as shown to people: mean ± 95% CI (with its own n when fewer seeds have the value), the best
    model value per column marked with *."""
    t = comp.table
    models = t[~t["model"].isin(["gray", "ground truth"])]
    best = _best_rows(comp, models)
    digits = {"images_per_s": 1, "peak_mem_mb": 0}
    for m in comp.metrics:
        digits[m.name] = _digits(t[m.name]) if m.name in t else 2
        digits[f"{m.name}_gap"] = digits[m.name]
    out = []
    for idx, row in t.iterrows():
        r = {}
        for col, title in display_columns(comp):
            v = row.get(col)
            if col in digits:
                ci = row.get(f"{col}_ci", float("nan"))
                text = _fmt(v, ci, digits[col]) if isinstance(v, (int, float)) and v is not None else "—"
                n = row.get(f"{col}_n")
                if isinstance(row.get("seeds"), int) and n is not None and n == n and int(n) != row["seeds"]:
                    text += f" (n = {int(n)})"
                if best.get(col) == idx:
                    text += " *"
                r[title] = text
            else:
                r[title] = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
        out.append(r)
    return pd.DataFrame(out)


#: Columns the terminal table leaves out (the files have them).
_CONSOLE_DROP = ("recipe", "budget", "peak_mem_mb")


def console_table(comp: Comparison) -> pd.DataFrame:
    """The display table without the widest columns, for the terminal."""
    keep = [title for col, title in display_columns(comp) if col not in _CONSOLE_DROP and not col.endswith("_gap")]
    return display_table(comp)[keep]


def _markdown(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(row[c]).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines)


def significance_lines(comp: Comparison) -> list[str]:
    return [line(s) for s in comp.significance]


def row_notes(comp: Comparison) -> list[str]:
    """What produced each row (recipe hash, plugin versions), runs left out and why, cells left empty."""
    notes = [f"{row.label}: seeds {', '.join(map(str, row.seeds)) or 'none complete'}; {identity_text(row.identity)}"
             for row in comp.rows]
    return notes + comp.excluded + comp.problems


def selection_notes(comp: Comparison) -> list[str]:
    """Models whose selected generator never reached the colourfulness floor on validation (their table
    row is then the highest-validation-PSNR generator, which may be close to gray)."""
    missed: dict[str, list[int]] = {}
    for row in comp.rows:
        for seed, r in row.counted.items():
            if r.metrics.get("best_meets_floor") is False:
                missed.setdefault(row.label, []).append(seed)
    return [f"{model} (seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, sorted(seeds)))}): no validated "
            "generator reached the colourfulness floor, so the table uses the one with the highest validation "
            "PSNR" for model, seeds in sorted(missed.items())]


def _provenance(comp: Comparison) -> dict[str, Any]:
    rec = comp.runs[0].record
    p = rec.get("provenance", {})
    return {"ganbench": p.get("ganbench_version"), "git commit": p.get("git_commit"), "torch": p.get("torch_version"),
            "device": f"{p.get('device')} ({p.get('device_name')})", "date": p.get("date"),
            "command": rec.get("command")}


SIGNIFICANCE_HEADER = (
    "Paired differences (row − other) over seeds and test photos, two-sided, p-values Holm-adjusted over every "
    f"line of this table; significant = Holm-adjusted p < 0.05 with at least {MIN_PHOTOS} test photos "
    "(rules: docs/metrics.md):")


def load_comparisons(results: Path) -> tuple[list[Comparison], list[str]]:
    """Every comparison in a results folder (newest first) and notes on folders that were skipped."""
    results = Path(results)
    if not results.is_dir():
        raise ResultsError(f"results folder {results} does not exist: run `ganbench run` first")
    runs, notes = load_runs(results)
    if not runs:
        raise ResultsError(f"no runs under {results}/runs: run `ganbench run` first")
    return group_comparisons(runs), notes


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
        md += [f"## {comp.title}", "", _markdown(disp), "",
               "Mean ± 95% confidence interval over seeds; * best model per column; the table uses the generator "
               "selected on the validation photos (not the test photos): by default the highest validation "
               "PSNR among those at least 1/3 as colourful as the photos (rule in each run's metrics.json).", ""]
        chosen = selection_notes(comp)
        md += [f"- {line}" for line in chosen] + ([""] if chosen else [])
        sig = significance_lines(comp)
        if sig:
            md += [SIGNIFICANCE_HEADER, ""] + [f"- {line}" for line in sig] + [""]
        md += ["Rows:", ""] + [f"- {line}" for line in row_notes(comp)] + [""]
        md += [f"- {line}" for line in diagnostics.report_lines(comp)] + [""]
        md += ["Provenance: " + ", ".join(f"{k} {v}" for k, v in _provenance(comp).items()), ""]
        frame = comp.table.copy()
        frame.insert(0, "comparison", comp.key)
        csv_frames.append(frame)
        js.append({"comparison": comp.key, "title": comp.title, "rows": _records(comp.table),
                   "significance": comp.significance, "selection_notes": chosen,
                   "adversary": diagnostics.report_lines(comp),
                   "provenance": _provenance(comp), "row_notes": row_notes(comp),
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
    for row, seed, r in _counted(comp):
        label = f"{row.label} s{seed}"
        hist = r.path / "history.csv"
        val = r.path / "validation.csv"
        if hist.exists() and hist.stat().st_size:
            h = pd.read_csv(hist)
            y = h["w_estimate"] if h["w_estimate"].notna().any() else h["d_loss"]  # empty: the loss has none
            axes[0].plot(h["step"], y, label=label)
        if val.exists() and val.stat().st_size:
            v = pd.read_csv(val)
            axes[1].plot(v["images"], v["val_psnr"], marker="o", label=label)
            axes[2].plot(v["seconds"], v["val_psnr"], marker="o", label=label)
            if "gray_val_psnr" in v and gray_val is None:
                gray_val = float(v["gray_val_psnr"].iloc[0])
    axes[0].set(title="critic: Wasserstein estimate (or BCE loss)", xlabel="generator step")
    axes[1].set(title="validation PSNR vs images seen", xlabel="generator images", ylabel="dB")
    axes[2].set(title="validation PSNR vs training seconds", xlabel="seconds", ylabel="dB")
    if gray_val is not None:
        for ax in axes[1:]:
            ax.axhline(gray_val, color="gray", ls="--", label="gray baseline (validation)")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    atomic_write_bytes(out / f"curves-{index}.png", buf.getvalue())


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


def _img_tag(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


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
        if sig:
            parts.append(f"<p>{html.escape(SIGNIFICANCE_HEADER)}</p>")
            parts.append("<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in sig) + "</ul>")
        parts.append("<p>Rows:</p><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in row_notes(comp)) + "</ul>")
        parts += [f"<p>{html.escape(line)}</p>" for line in diagnostics.report_lines(comp)]
        curves = out / f"curves-{i}.png"
        if curves.exists():
            parts.append(_img_tag(curves, "training curves"))
        combined = out / f"samples-{i}.png"
        if combined.exists():
            parts.append("<h3>Samples on fixed test crops (gray input | each model | truth)</h3>")
            parts.append(_img_tag(combined, "sample grid"))
        parts.append("<details><summary>Per-run sample grids</summary><div class='grids'>")
        for _, _, r in _counted(comp):
            s = r.path / "samples.png"
            if s.exists():
                parts.append(f"<figure style='display:inline-block'>{_img_tag(s, r.path.name)}"
                             f"<figcaption>{html.escape(r.path.name)}</figcaption></figure>")
        parts.append("</div></details>")
        prov = _provenance(comp)
        parts.append("<p><small>" + html.escape("; ".join(f"{k}: {v}" for k, v in prov.items())) + "</small></p>")
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def compare_results(dir_a: Path, dir_b: Path, out: Path) -> pd.DataFrame:
    """Two result sets side by side (two machines, two versions): per comparison and model, each metric in
    A and B and the difference B − A. Comparisons are matched by their settings key; the metrics are those
    the runs recorded. ``joined.attrs["tested"]`` lists the metrics with a reference (the console shows them)."""
    tables, metrics = [], {}
    for label, d in (("A", dir_a), ("B", dir_b)):
        for comp in load_comparisons(d)[0]:
            t = comp.table.copy()
            t["comparison"], t["title"], t["set"] = comp.key, comp.title, label
            tables.append(t)
            metrics.update({m.name: m for m in comp.metrics})
    both = pd.concat(tables)
    cols = [c for c in [*metrics, "images_per_s"] if c in both]
    a = both[both["set"] == "A"].set_index(["comparison", "model"])[cols].add_suffix("_A")
    b = both[both["set"] == "B"].set_index(["comparison", "model"])[cols].add_suffix("_B")
    joined = a.join(b, how="outer")
    for c in cols:
        joined[f"{c}_diff"] = joined[f"{c}_B"] - joined[f"{c}_A"]
    joined = joined.reset_index()
    joined.attrs["tested"] = [m for m in cols if m in metrics and not metrics[m].reference_free]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "compare.csv", joined.to_csv(index=False))
    show = joined[compare_columns(joined)]
    md = ["# ganbench comparison of two result sets", "", f"A = {dir_a}, B = {dir_b}", "",
          _markdown(show.round(3).astype(object).where(show.notna(), "—")), ""]
    atomic_write_text(out / "compare.md", "\n".join(md))
    return joined


def compare_columns(joined: pd.DataFrame) -> list[str]:
    """The columns of a two-set comparison worth showing: A, B and B − A of each tested metric, images/s."""
    metric_cols = [f"{c}_{s}" for c in joined.attrs.get("tested", []) for s in ("A", "B", "diff")]
    return ["model", *metric_cols, "images_per_s_A", "images_per_s_B"]
