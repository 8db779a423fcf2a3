"""The comparison tables as they are shown: the columns of each comparison, the terminal's and the Markdown
tables, the significance lines and notes under them, and how an image enters the HTML report."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

import pandas as pd

from ganbench.report.comparison import Comparison, format_ci, primary_metric
from ganbench.report.grouping import identity_text
from ganbench.score import set_level
from ganbench.score.evaluate import SPLIT_HALF_MIN_PHOTOS
from ganbench.score.verdicts import MIN_PHOTOS, MetricInfo, line
from ganbench.train.selection import floor_missed_note

__all__ = ["display_table", "console_table", "significance_lines", "set_significance_lines", "markdown", "img_tag",
           "MIN_PHOTOS"]


# --- rendering ----------------------------------------------------------------------------------------
def _metric_title(m: MetricInfo, n_images: int | None = None) -> str:
    unit = f" {m.unit}" if m.unit else ""
    if m.level == "set":  # one score for the whole test set, and on how many images
        arrow = f" {'↑' if m.higher_is_better else '↓'}" if m.tested else ""
        return f"{m.name}{unit}{arrow} (set, N = {n_images if n_images is not None else '?'})"
    return f"{m.name}{unit}" if m.reference_free else f"{m.name}{unit} {'↑' if m.higher_is_better else '↓'}"


def display_columns(comp: Comparison) -> list[tuple[str, str]]:
    """(table column, title) as shown: the comparison's own metrics in their order, each reference-free one
    with its gap to the ground truth."""
    cols = [("model", "model"),
            ("recipe", "recipe (generator; critic; loss + regularizers; G / D optimisers; n_critic)"),
            ("budget", "budget")]
    for m in comp.metrics:
        cols.append((m.name, _metric_title(m, comp.set_n.get(m.name))))
        if m.reference_free:
            cols.append((f"{m.name}_gap", f"Δ {m.name} vs truth"))
    return cols + [("images_per_s", "images/s"), ("peak_mem_mb", "peak MB"), ("seeds", "seeds"),
                   ("vs_gray", f"vs gray ({primary_metric(comp)})"), ("status", "status")]


def _digits(values: pd.Series) -> int:
    finite = values.dropna().abs()
    return 4 if len(finite) and finite.max() < 2 else 2


def _best_rows(comp: Comparison, models: pd.DataFrame) -> dict[str, Any]:
    """Per column the best model row: metrics with a reference by their own direction, and images/s."""
    directions = {m.name: m.higher_is_better for m in comp.metrics if not m.reference_free and m.tested}
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
                text = format_ci(v, ci, digits[col]) if isinstance(v, (int, float)) and v is not None else "—"
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


def markdown(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(row[c]).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines)


def significance_lines(comp: Comparison) -> list[str]:
    return [line(s) for s in comp.significance]


def set_significance_lines(comp: Comparison) -> list[str]:
    return [set_level.line(s) for s in comp.set_significance]


def set_level_note(comp: Comparison) -> list[str]:
    """What the set-level columns are, and the ground-truth row's split-half floor."""
    if not comp.set_metrics():
        return []
    names = ", ".join(m.name for m in comp.set_metrics())
    warnings = sorted({f"{name}: {info['warning']}" for row in comp.rows for r in row.counted.values()
                       for name, info in (r.metrics or {}).get("set_level", {}).items() if info.get("warning")})
    floor = (f"the ground-truth row shows the truth's split-half value (half the test photos against the other "
             f"half, from {SPLIT_HALF_MIN_PHOTOS} photos per half): differences below it are within what a different "
             "test set would give")
    hidden = [f"{name} ({n} photos per half)" for name, n in comp.split_half_hidden.items()]
    if hidden:
        floor += (f"; the truth's split-half value is not shown for {', '.join(hidden)}: below {SPLIT_HALF_MIN_PHOTOS}"
                  " photos per half it says more about which photos fell in which half than about the test set "
                  "(docs/metrics.md)")
    return warnings + [
        f"Set-level metrics ({names}) score the whole test set once per seed (N = test crops); their ± is over "
        f"seeds only, and {floor}."]


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
    return [floor_missed_note(model, seeds) for model, seeds in sorted(missed.items())]


def provenance(comp: Comparison) -> dict[str, Any]:
    rec = comp.runs[0].record
    p = rec.get("provenance", {})
    return {"ganbench": p.get("ganbench_version"), "git commit": p.get("git_commit"), "torch": p.get("torch_version"),
            "device": f"{p.get('device')} ({p.get('device_name')})", "date": p.get("date"),
            "command": rec.get("command")}


SIGNIFICANCE_HEADER = (
    "Paired differences (row − other) over seeds and test photos, two-sided, p-values Holm-adjusted over every "
    f"line of this table; significant = Holm-adjusted p < 0.05 with at least {MIN_PHOTOS} test photos "
    "(rules: docs/metrics.md):")


def img_tag(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
