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

from ganbench.errors import ResultsError
from ganbench.results import (
    READABLE_SCHEMAS,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    iter_runs,
    read_json,
)
from ganbench.stats import mean_ci, paired_bootstrap

#: Fewer independent test photos than this never make a difference significant.
MIN_PHOTOS = 5
MAIN_METRICS = ["psnr", "mae", "ssim", "colorfulness"]
LOWER_IS_BETTER = {"mae"}


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


def build_comparison(key: str, runs: list[RunInfo]) -> Comparison:
    comp = Comparison(key, runs)
    first = runs[0].record
    budget = first.get("budget", {})
    comp.title = (f"{first.get('dataset_description', first['config']['dataset'])} · budget {budget.get('name')} "
                  f"({budget.get('image_size')}px, batch {budget.get('batch_size')}) · {first['config']['device']}")
    rows = []
    complete = [r for r in runs if r.status == "complete"]
    by_model: dict[str, list[RunInfo]] = {}
    for r in runs:
        by_model.setdefault(r.record["config"]["model"], []).append(r)
    for model, model_runs in by_model.items():
        done = [r for r in model_runs if r.status == "complete"]
        statuses = sorted({r.status for r in model_runs})
        row: dict[str, Any] = {
            "model": model, "recipe": _recipe_text(model_runs[0].record),
            "budget": model_runs[0].record.get("budget", {}).get("name"),
            "seeds": len(done), "status": "complete" if statuses == ["complete"] else "/".join(statuses),
        }
        for metric in MAIN_METRICS:
            vals = [r.metrics["model"].get(metric) for r in done]
            row[metric], row[f"{metric}_ci"] = mean_ci(vals)
        truth = [r.metrics["truth"].get("colorfulness") for r in done if r.metrics.get("truth")]
        t_mean, _ = mean_ci(truth)
        row["colorfulness_gap"] = row["colorfulness"] - t_mean if math.isfinite(t_mean) else float("nan")
        thr = [r.record.get("throughput", {}) for r in done]
        row["images_per_s"], _ = mean_ci([t.get("images_per_s") for t in thr])
        row["peak_mem_mb"], _ = mean_ci([t.get("peak_cuda_max_allocated_mb") or t.get("peak_cpu_rss_mb")
                                         for t in thr])
        spent = [r.record.get("spent", {}) for r in done]
        row["images_seen"], _ = mean_ci([s.get("images") for s in spent])
        row["selected"] = ",".join(sorted({r.metrics.get("selected", "") for r in done})) or "—"
        if not done:
            div = [r.record.get("divergence") for r in model_runs if r.record.get("divergence")]
            if div:
                row["status"] = f"diverged at step {div[0]['step']} ({', '.join(div[0]['losses'])})"
        rows.append(row)
    if complete:
        gray = complete[0].metrics["gray"]
        truth = complete[0].metrics.get("truth", {})
        grow: dict[str, Any] = {"model": "gray", "recipe": "baseline: input L, a = b = 0",
                                "budget": "—", "seeds": "—", "status": "baseline"}
        for metric in MAIN_METRICS:
            grow[metric], grow[f"{metric}_ci"] = gray.get(metric, float("nan")), float("nan")
        grow["colorfulness_gap"] = gray.get("colorfulness", float("nan")) - truth.get("colorfulness", float("nan"))
        rows.append(grow)
        if "colorfulness" in truth:
            rows.append({"model": "ground truth", "recipe": "the test photos themselves", "budget": "—",
                         "seeds": "—", "status": "reference", "colorfulness": truth["colorfulness"],
                         "colorfulness_ci": float("nan"), "psnr": float("nan"), "mae": float("nan"),
                         "ssim": float("nan"), "colorfulness_gap": 0.0})
    comp.table = pd.DataFrame(rows)
    comp.significance = significance(by_model)
    vs_gray = {s["model"]: s for s in comp.significance if s["versus"] == "gray" and s["metric"] == "psnr"}
    marks = []
    for _, row in comp.table.iterrows():
        s = vs_gray.get(row["model"])
        if s is None:
            marks.append("")
        elif not s["significant"]:
            marks.append("≈ gray (n.s.)")
        else:
            marks.append("above gray" if s["mean_diff"] > 0 else "below gray")
    comp.table["vs_gray"] = marks
    return comp


def _per_image_mean(runs: list[RunInfo], column: str) -> pd.Series | None:
    """Per test *photo* scores, averaged over seeds and over the fixed crops of one photo (crops of one
    photo are not independent samples, so the bootstrap resamples photos)."""
    frames = [r.per_image.set_index("image")[column] for r in runs
              if r.per_image is not None and column in r.per_image.columns]
    if not frames:
        return None
    per_crop = pd.concat(frames, axis=1).mean(axis=1)
    photo = per_crop.index.to_series().str.split("#").str[0]
    return per_crop.groupby(photo.values).mean()


def significance(by_model: dict[str, list[RunInfo]]) -> list[dict[str, Any]]:
    """Paired bootstrap over test images (scores averaged over seeds) for each model against the gray
    baseline and against every other model, for PSNR and MAE."""
    out = []
    models = {m: [r for r in rs if r.status == "complete"] for m, rs in by_model.items()}
    models = {m: rs for m, rs in models.items() if rs}
    for metric in ("psnr", "mae"):
        scores = {m: _per_image_mean(rs, f"model_{metric}") for m, rs in models.items()}
        for m, rs in models.items():
            gray = _per_image_mean(rs, f"gray_{metric}")
            if scores[m] is None or gray is None:
                continue
            res = paired_bootstrap(scores[m].values, gray.loc[scores[m].index].values)
            res["significant"] = res["significant"] and res["n"] >= MIN_PHOTOS
            out.append({"model": m, "versus": "gray", "metric": metric, **res})
        names = sorted(m for m in scores if scores[m] is not None)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                common = scores[a].index.intersection(scores[b].index)
                if len(common) == 0:
                    continue
                res = paired_bootstrap(scores[a].loc[common].values, scores[b].loc[common].values)
                res["significant"] = res["significant"] and res["n"] >= MIN_PHOTOS
                out.append({"model": a, "versus": b, "metric": metric, **res})
    return out


def group_comparisons(runs: list[RunInfo]) -> list[Comparison]:
    groups: dict[str, list[RunInfo]] = {}
    for r in runs:
        groups.setdefault(r.record.get("comparison", "?"), []).append(r)
    comps = [build_comparison(k, v) for k, v in groups.items()]
    comps.sort(key=lambda c: max(r.path.name for r in c.runs), reverse=True)  # newest first
    return comps


# --- rendering ----------------------------------------------------------------------------------------
DISPLAY = [("model", "model"), ("recipe", "recipe (loss, critic optimiser, n_critic)"), ("budget", "budget"),
           ("psnr", "PSNR dB"), ("mae", "MAE (0-255)"), ("ssim", "SSIM"),
           ("colorfulness", "colourfulness"), ("colorfulness_gap", "Δ colourf. vs truth"),
           ("images_per_s", "images/s"), ("peak_mem_mb", "peak MB"), ("seeds", "seeds"),
           ("vs_gray", "vs gray (PSNR)"), ("status", "status")]
DIGITS = {"psnr": 2, "mae": 2, "ssim": 4, "colorfulness": 2, "colorfulness_gap": 2, "images_per_s": 1,
          "peak_mem_mb": 0}


def display_table(comp: Comparison) -> pd.DataFrame:
    """Strings as shown to people: mean ± 95% CI, the best model value per column marked with *."""
    t = comp.table
    models = t[~t["model"].isin(["gray", "ground truth"])]
    best: dict[str, Any] = {}
    for col in ("psnr", "mae", "ssim", "images_per_s"):
        vals = models[col].dropna() if col in models else pd.Series(dtype=float)
        if len(vals) > 1:
            best[col] = vals.idxmin() if col in LOWER_IS_BETTER else vals.idxmax()
    out = []
    for idx, row in t.iterrows():
        r = {}
        for col, title in DISPLAY:
            v = row.get(col)
            if col in DIGITS:
                ci = row.get(f"{col}_ci", float("nan"))
                text = _fmt(v, ci, DIGITS[col]) if isinstance(v, (int, float)) and v is not None else "—"
                if best.get(col) == idx:
                    text += " *"
                r[title] = text
            else:
                r[title] = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
        out.append(r)
    return pd.DataFrame(out)


def _markdown(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(row[c]).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines)


def significance_lines(comp: Comparison) -> list[str]:
    lines = []
    for s in comp.significance:
        unit = "dB" if s["metric"] == "psnr" else ""
        verdict = "significant" if s["significant"] else "not significant"
        if s["n"] < MIN_PHOTOS:
            verdict = f"not significant (fewer than {MIN_PHOTOS} test photos)"
        wins = ""
        if "n_above" in s:
            better = s["n_below"] if s["metric"] in LOWER_IS_BETTER else s["n_above"]
            wins = f"; {s['model']} better on {better} of them"
        lines.append(f"{s['model']} − {s['versus']} ({s['metric'].upper()}): {s['mean_diff']:+.3f} {unit} "
                     f"[95% CI {s['ci_low']:+.3f}, {s['ci_high']:+.3f}], {verdict} (n = {s['n']} test photos{wins})")
    return lines


def selection_notes(comp: Comparison) -> list[str]:
    """Models whose selected generator never reached the colourfulness floor on validation (their table
    row is then the highest-validation-PSNR generator, which may be close to gray)."""
    missed: dict[str, list[int]] = {}
    for r in comp.runs:
        if r.metrics is not None and r.metrics.get("best_meets_floor") is False:
            cfg = r.record.get("config", {})
            missed.setdefault(cfg.get("model", "?"), []).append(cfg.get("seed", "?"))
    return [f"{model} (seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, sorted(seeds)))}): no validated "
            "generator reached the colourfulness floor, so the table uses the one with the highest validation "
            "PSNR" for model, seeds in sorted(missed.items())]


def _provenance(comp: Comparison) -> dict[str, Any]:
    rec = comp.runs[0].record
    p = rec.get("provenance", {})
    return {"ganbench": p.get("ganbench_version"), "git commit": p.get("git_commit"), "torch": p.get("torch_version"),
            "device": f"{p.get('device')} ({p.get('device_name')})", "date": p.get("date"),
            "command": rec.get("command")}


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
    md, csv_frames, js = ["# ganbench report", ""], [], []
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
            md += ["Paired bootstrap over test images:", ""] + [f"- {line}" for line in sig] + [""]
        md += ["Provenance: " + ", ".join(f"{k} {v}" for k, v in _provenance(comp).items()), ""]
        frame = comp.table.copy()
        frame.insert(0, "comparison", comp.key)
        csv_frames.append(frame)
        js.append({"comparison": comp.key, "title": comp.title, "rows": _records(comp.table),
                   "significance": comp.significance, "selection_notes": chosen,
                   "provenance": _provenance(comp),
                   "runs": [str(r.path) for r in comp.runs]})
        _plots(comp, out, i)
        _sample_grid(comp, out, i)
    if notes:
        md += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    atomic_write_text(out / "report.md", "\n".join(md))
    atomic_write_text(out / "report.csv", pd.concat(csv_frames).to_csv(index=False))
    atomic_write_json(out / "report.json", {"comparisons": js, "notes": notes})
    atomic_write_text(out / "index.html", render_html(comps, notes, out))
    return comps, notes, out


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    recs = json.loads(df.to_json(orient="records"))
    return recs


def _plots(comp: Comparison, out: Path, index: int) -> None:
    """Losses / Wasserstein estimate over steps and validation PSNR against images and seconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    gray_val = None
    for r in comp.runs:
        label = f"{r.record['config']['model']} s{r.record['config']['seed']}"
        hist = r.path / "history.csv"
        val = r.path / "validation.csv"
        if hist.exists() and hist.stat().st_size:
            h = pd.read_csv(hist)
            y = h["w_estimate"] if h["w_estimate"].abs().sum() > 0 else h["d_loss"]
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
    from ganbench.images import grid, save_png

    columns: dict[str, np.ndarray] = {}
    truth = None
    for r in comp.runs:
        model = r.record["config"]["model"]
        path = r.path / "samples.npz"
        if r.status != "complete" or model in columns or not path.exists():
            continue
        with np.load(path, allow_pickle=False) as z:
            if truth is None:
                columns["gray input"], truth = z["gray"], z["truth"]
            elif z["truth"].shape != truth.shape:
                continue
            columns[model] = z["pred"]
    if truth is None or len(columns) < 2:
        return
    columns["truth"] = truth
    save_png(grid(columns), out / f"samples-{index}.png")


def _img_tag(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def render_html(comps: list[Comparison], notes: list[str], out: Path) -> str:
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>ganbench report</title><style>",
             "body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
             "td:first-child,th:first-child,td:nth-child(2),th:nth-child(2),td:nth-last-child(-n+2),"
             "th:nth-last-child(-n+2){text-align:left}img{max-width:100%}.grids img{margin:4px}"
             "</style></head><body><h1>ganbench report</h1>"]
    for i, comp in enumerate(comps):
        parts.append(f"<h2>{html.escape(comp.title)}</h2>")
        parts.append(display_table(comp).to_html(index=False, escape=True, border=0))
        parts.append("<p>Mean ± 95% CI over seeds; * best per column; gray = input L with a = b = 0.</p>")
        parts += [f"<p>{html.escape(line)}</p>" for line in selection_notes(comp)]
        sig = significance_lines(comp)
        if sig:
            parts.append("<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in sig) + "</ul>")
        curves = out / f"curves-{i}.png"
        if curves.exists():
            parts.append(_img_tag(curves, "training curves"))
        combined = out / f"samples-{i}.png"
        if combined.exists():
            parts.append("<h3>Samples on fixed test crops (gray input | each model | truth)</h3>")
            parts.append(_img_tag(combined, "sample grid"))
        parts.append("<details><summary>Per-run sample grids</summary><div class='grids'>")
        for r in comp.runs:
            s = r.path / "samples.png"
            if r.status == "complete" and s.exists():
                parts.append(f"<figure style='display:inline-block'>{_img_tag(s, r.path.name)}"
                             f"<figcaption>{html.escape(r.path.name)}</figcaption></figure>")
        parts.append("</div></details>")
        prov = _provenance(comp)
        parts.append("<p><small>" + html.escape("; ".join(f"{k}: {v}" for k, v in prov.items())) + "</small></p>")
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


__all__ = ["write_report", "load_runs", "load_comparisons", "compare_results", "display_table", "significance_lines"]


def compare_results(dir_a: Path, dir_b: Path, out: Path) -> pd.DataFrame:
    """Two result sets side by side (two machines, two versions): per comparison and model, each metric in
    A and B and the difference B − A. Comparisons are matched by their settings key."""
    tables = []
    for label, d in (("A", dir_a), ("B", dir_b)):
        for comp in load_comparisons(d)[0]:
            t = comp.table.copy()
            t["comparison"], t["title"], t["set"] = comp.key, comp.title, label
            tables.append(t)
    both = pd.concat(tables)
    cols = ["psnr", "mae", "ssim", "colorfulness", "images_per_s"]
    a = both[both["set"] == "A"].set_index(["comparison", "model"])[cols].add_suffix("_A")
    b = both[both["set"] == "B"].set_index(["comparison", "model"])[cols].add_suffix("_B")
    joined = a.join(b, how="outer")
    for c in cols:
        joined[f"{c}_diff"] = joined[f"{c}_B"] - joined[f"{c}_A"]
    joined = joined.reset_index()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "compare.csv", joined.to_csv(index=False))
    show = joined[["model"] + [f"{c}_{s}" for c in ("psnr", "mae", "images_per_s") for s in ("A", "B", "diff")]]
    md = ["# ganbench comparison of two result sets", "", f"A = {dir_a}, B = {dir_b}", "",
          _markdown(show.round(3).astype(object).where(show.notna(), "—")), ""]
    atomic_write_text(out / "compare.md", "\n".join(md))
    return joined
