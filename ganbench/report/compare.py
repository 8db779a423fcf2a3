"""``ganbench report --compare A B``: the same comparisons in two result sets side by side (B − A)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ganbench.report.comparison import load_comparisons
from ganbench.report.tables import markdown
from ganbench.store.results import (
    atomic_write_text,
)


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
    sized = [f"{m}_images" for m in metrics if metrics[m].level == "set"]  # the N of each set-level cell
    cols = [c for c in [*metrics, *sized, "images_per_s"] if c in both]
    a = both[both["set"] == "A"].set_index(["comparison", "model"])[cols].add_suffix("_A")
    b = both[both["set"] == "B"].set_index(["comparison", "model"])[cols].add_suffix("_B")
    joined = a.join(b, how="outer")
    for c in cols:
        joined[f"{c}_diff"] = joined[f"{c}_B"] - joined[f"{c}_A"]
    unequal = []
    for m in (m for m in metrics if f"{m}_images" in cols):  # a set-level score compares only at equal N
        differs = joined[f"{m}_images_A"].notna() & joined[f"{m}_images_B"].notna() & (
            joined[f"{m}_images_A"] != joined[f"{m}_images_B"])
        joined.loc[differs, f"{m}_diff"] = float("nan")
        if differs.any():
            unequal.append(f"{m}: no B − A where A and B scored different numbers of test images (N)")
    joined = joined.reset_index()
    joined.attrs["tested"] = [m for m in cols if m in metrics and not metrics[m].reference_free
                              and (metrics[m].level != "set" or metrics[m].tested)]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "compare.csv", joined.to_csv(index=False))
    show = joined[compare_columns(joined)]
    md = ["# ganbench comparison of two result sets", "", f"A = {dir_a}, B = {dir_b}", "",
          markdown(show.round(3).astype(object).where(show.notna(), "—")), "", *[f"- {u}" for u in unequal]]
    atomic_write_text(out / "compare.md", "\n".join(md))
    return joined


def compare_columns(joined: pd.DataFrame) -> list[str]:
    """The columns of a two-set comparison worth showing: A, B and B − A of each tested metric, images/s."""
    metric_cols = [f"{c}_{s}" for c in joined.attrs.get("tested", []) for s in ("A", "B", "diff")]
    metric_cols += [f"{c}_images_{s}" for c in joined.attrs.get("tested", []) for s in ("A", "B")
                    if f"{c}_images_A" in joined]
    return ["model", *metric_cols, "images_per_s_A", "images_per_s_B"]
