"""The stored runs as comparisons: every run folder read, runs grouped by what they share (dataset, budget,
device, precision) into comparisons, each model row aggregated over its seeds beside the gray baseline and the
ground truth, and the significance of every difference."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ganbench.core.errors import ResultsError
from ganbench.report.grouping import Row, group_rows, identity_text
from ganbench.score.evaluate import split_half_shown
from ganbench.score.set_level import compare_seed_values
from ganbench.score.stats import mean_ci
from ganbench.score.verdicts import MIN_SEEDS, MetricInfo, compare_rows
from ganbench.store.results import (
    READABLE_SCHEMAS,
    iter_runs,
    read_json,
)


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
    #: set-level lines (ganbench.score.set_level): tested over seeds, their own Holm family
    set_significance: list[dict[str, Any]] = field(default_factory=list)
    #: per set-level metric, the number of test images (crops) it was computed on
    set_n: dict[str, int] = field(default_factory=dict)
    #: set-level metrics whose truth split-half value the runs hold but the report hides (too few photos per
    #: half, ``ganbench.score.evaluate.SPLIT_HALF_MIN_PHOTOS``), with their photos per half
    split_half_hidden: dict[str, int | None] = field(default_factory=dict)

    def image_metrics(self) -> list[MetricInfo]:
        return [m for m in self.metrics if m.level != "set"]

    def set_metrics(self) -> list[MetricInfo]:
        return [m for m in self.metrics if m.level == "set"]


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


def format_ci(mean: float, ci: float, digits: int) -> str:
    if mean is None or not math.isfinite(mean):
        return "—"
    if ci is None or not math.isfinite(ci):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {ci:.{digits}f}"


def _options_text(options: dict[str, Any]) -> str:
    return "" if not options else "(" + ", ".join(f"{k}={v}" for k, v in sorted(options.items())) + ")"


def _optimizer_text(spec: dict[str, Any]) -> str:
    extra = {k: v for k, v in spec.items() if k not in ("name", "lr")}
    betas = extra.pop("betas", None)
    text = f"{spec.get('name')} {spec.get('lr'):g}" if isinstance(spec.get("lr"), (int, float)) else str(spec)
    if betas is not None:
        text += f" ({', '.join(f'{b:g}' for b in betas)})"
    return text + (" " + _options_text(extra) if extra else "")


def recipe_text(recipe: dict[str, Any], uses_critic: bool = True) -> str:
    """A whole recipe in one line: generator, critic (its options), loss (its options) + regularizers, both
    optimisers with their learning rates, n_critic -- so two rows that differ in any of them read apart."""
    generator = f"{recipe.get('generator')}{_options_text(recipe.get('generator_options') or {})}"
    g_opt = f"G {_optimizer_text(recipe.get('generator_optimizer') or {})}"
    if not uses_critic:
        return f"{generator}; no critic; loss {recipe.get('loss')}; {g_opt}"
    loss = f"{recipe.get('loss')}{_options_text(recipe.get('loss_options') or {})}"
    for spec in recipe.get("regularizers") or []:
        loss += f" + {spec.get('name')}{_options_text({k: v for k, v in spec.items() if k != 'name'})}"
    critic = f"{recipe.get('critic')}{_options_text(recipe.get('critic_options') or {})}"
    return (f"{generator}; {critic}; {loss}; {g_opt} / D {_optimizer_text(recipe.get('critic_optimizer') or {})}; "
            f"n_critic {recipe.get('n_critic')}")


def _recipe_text(record: dict[str, Any]) -> str:
    spent = record.get("spent", {})
    no_critic = bool(spent.get("generator_steps")) and not spent.get("critic_steps")  # the regression baseline
    return recipe_text(record["config"]["recipe"], uses_critic=not no_critic)


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
                             if k in ("higher_is_better", "unit", "reference_free", "level", "tested", "ceiling")})
            for n in names]


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
    first = complete[0].metrics
    assert first is not None  # complete runs have their metrics
    gray = first["gray"]
    sets = first.get("set_level", {})  # the truth's split-half value only where enough photos make it a yardstick
    truth = {n: v for n, v in first.get("truth", {}).items() if n not in sets or split_half_shown(sets[n])}
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
    has_truth = any((m.reference_free or m.level == "set") and m.name in truth for m in metrics)
    return [grow, trow] if has_truth else [grow]


def primary_metric(comp: Comparison) -> str:
    """The metric of the table's "vs gray" column: the first tested one the runs computed (psnr by default)."""
    return next((m.name for m in comp.image_metrics() if not m.reference_free), "psnr")


def _vs_gray_marks(comp: Comparison, metric: str) -> list[str]:
    """Per table row: 'above gray' / 'below gray' / '≈ gray (n.s.)' for a recipe-level line (MIN_SEEDS seeds);
    a row with fewer seeds is marked as what it is, a claim about its trained generators
    ('1 generator: above gray (recipe: needs 3 seeds)')."""
    vs_gray = {s["model"]: s for s in comp.significance if s["versus"] == "gray" and s["metric"] == metric}
    marks = []
    for model in comp.table["model"]:
        s = vs_gray.get(model)
        if s is None or s.get("p") is None:
            marks.append("")
        elif s.get("claim") == "generator":
            k = s.get("seeds_a", 1)
            where = ("≈ gray" if not s.get("generator_significant") else
                     "above gray" if s["better"] == model else "below gray")
            marks.append(f"{k} generator{'s' * (k != 1)}: {where} (recipe: needs {MIN_SEEDS} seeds)")
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
                                      for row in comp.rows if row.counted}, comp.image_metrics())
    tested_sets = [m for m in comp.set_metrics() if m.tested]
    if complete and tested_sets:
        comp.set_significance = compare_seed_values(
            {row.label: {s: r.metrics["model"] for s, r in row.counted.items()} for row in comp.rows if row.counted},
            complete[0].metrics.get("gray", {}), tested_sets)
    split_n: dict[str, Any] = {}
    for r in complete:
        for name, info in r.metrics.get("set_level", {}).items():
            comp.set_n.setdefault(name, info.get("n_images"))
            split_n.setdefault(name, info.get("n_split_half") if split_half_shown(info) else None)
            if not split_half_shown(info) and name in r.metrics.get("truth", {}):
                comp.split_half_hidden.setdefault(name, info.get("split_half_photos", info.get("n_split_half")))
    for m in comp.set_metrics():  # the N each set-level cell was computed on (per half for the truth's floor)
        comp.table[f"{m.name}_images"] = [split_n.get(m.name) if model == "ground truth" else comp.set_n.get(m.name)
                                          for model in comp.table["model"]]
    comp.table["vs_gray"] = _vs_gray_marks(comp, primary_metric(comp))
    return comp


def group_comparisons(runs: list[RunInfo]) -> list[Comparison]:
    groups: dict[str, list[RunInfo]] = {}
    for r in runs:
        groups.setdefault(r.record.get("comparison", "?"), []).append(r)
    comps = [build_comparison(k, v) for k, v in groups.items()]
    comps.sort(key=lambda c: max(r.path.name for r in c.runs), reverse=True)  # newest first
    return comps


def load_comparisons(results: Path) -> tuple[list[Comparison], list[str]]:
    """Every comparison in a results folder (newest first) and notes on folders that were skipped."""
    results = Path(results)
    if not results.is_dir():
        raise ResultsError(f"results folder {results} does not exist: run `ganbench run` first")
    runs, notes = load_runs(results)
    if not runs:
        raise ResultsError(f"no runs under {results}/runs: run `ganbench run` first")
    return group_comparisons(runs), notes
