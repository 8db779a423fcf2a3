"""What a curve says in words: where each model first beats the gray baseline, who leads at each point and
over the whole curve (the area under it), each claim with its evidence (difference, CI, p, Holm p, seeds and
photos) and never more than the tables at those points say."""

from __future__ import annotations

import math
from typing import Any

from ganbench.report.curves import (
    Curve,
    area,
    best_at,
    first_above_gray,
    gray_area,
    gray_tests,
    gray_verdicts,
    tested_metrics,
)
from ganbench.score.verdicts import MIN_PHOTOS, MIN_SEEDS


# --- sentences --------------------------------------------------------------------------------------------
def unit_of(curve: Curve, metric: str) -> str:
    unit = curve.metrics.get(metric, {}).get("unit") or ""
    return f" {unit}" if unit and unit != "0-255" else ""


def _name(metric: str) -> str:
    return metric.upper() if metric in ("psnr", "mae", "ssim") else metric


def digits_of(curve: Curve, metric: str) -> int:
    """4 decimals for scores that live in [0, 1] (SSIM), else 2."""
    values = [v for v in curve.gray.get(metric, []) if math.isfinite(v)]
    values += [p.mean_ci(metric)[0] for pts in curve.lines.values() for p in pts if p is not None]
    values = [abs(v) for v in values if math.isfinite(v)]
    return 4 if values and max(values) <= 1.5 else 2


def number_text(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "—"


def _p(p: float) -> str:
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def _seed_count(s: dict[str, Any]) -> str:
    def n(k: int) -> str:
        return f"{k} seed{'s' * (k != 1)}"

    if "seeds_a" not in s:
        return ""
    if s.get("versus") == "gray" or "seeds_b" not in s:
        return n(s["seeds_a"])
    return f"{s['model']} {n(s['seeds_a'])}, {s['versus']} {n(s['seeds_b'])}"


def evidence(s: dict[str, Any] | None, unit: str = "", digits: int = 2) -> str:
    """A test's numbers in words, as the point's own significance line gives them: difference, its 95%
    interval, p, Holm-adjusted p (within the point's table) and the p corrected across the curve's points,
    seeds and photos (or why it was not tested)."""
    if s is None:
        return "not tested"
    if s.get("p") is None and s.get("untested"):
        return f"not tested: {s['untested']}"
    text = f"{s['mean_diff']:+.{digits}f}{unit}"
    if s.get("ci_low") is not None and s.get("ci_high") is not None:
        text += f" [95% CI {s['ci_low']:+.{digits}f}, {s['ci_high']:+.{digits}f}]"
    if s.get("p") is not None:
        text += f", p = {_p(s['p'])}" + (f", Holm p = {_p(s['p_holm'])}" if s.get("p_holm") is not None else "")
        text += f", across the curve p = {_p(s['p_curve'])}" if s.get("p_curve") is not None else ""
    photos = s.get("n_photos")
    counts = [c for c in (_seed_count(s), None if photos is None else f"{photos} test photos") if c]
    text += f" ({', '.join(counts)})" if counts else ""
    if not s.get("significant") and photos is not None and photos < MIN_PHOTOS:
        text += f"; fewer than {MIN_PHOTOS} test photos are never significant"
    return text


def _generator_only(curve: Curve, model: str, metric: str) -> str:
    return (f"{model}: no recipe-level claim against gray on {_name(metric)} (fewer than {MIN_SEEDS} seeds at "
            f"every point run; a curve with --seeds {MIN_SEEDS} can make one)")


def gray_sentence(curve: Curve, model: str, metric: str) -> str:
    unit, digits = unit_of(curve, metric), digits_of(curve, metric)
    verdicts = gray_verdicts(curve, model, metric)
    tests = gray_tests(curve, model, metric)
    first = first_above_gray(curve, model, metric)
    name = _name(metric)
    recipe = [i for i, v in enumerate(verdicts) if v in ("above", "below", "n.s.")]
    if not recipe and "generator" in verdicts:
        return _generator_only(curve, model, metric) + "."
    if first is None:
        ran = recipe
        where = curve.span if len(ran) == len(curve.points) else \
            f"at {', '.join(curve.labels[i] for i in ran)} (the only points tested for it)"
        text = (f"{model} is not significantly better than gray on {name} {'within ' * (where == curve.span)}{where}"
                if ran else f"{model}: no test against gray on {name}")
        if ran:
            last = tests[ran[-1]]
            assert last is not None
            text += f"; at {curve.labels[ran[-1]]}: {evidence(last, unit, digits)}"
    else:
        s = tests[first]
        assert s is not None
        text = (f"{model} first beats gray significantly on {name} at {curve.labels[first]} (corrected across "
                f"the curve's points): {evidence(s, unit, digits)}")
        later = [curve.labels[i] for i, v in enumerate(verdicts) if i > first and v and v != "above"]
        if later:
            text += f"; not at {', '.join(later)}"
    below = [curve.labels[i] for i, v in enumerate(verdicts) if v == "below"]
    if below:
        text += f"; significantly worse than gray at {', '.join(below)}"
    return text + "."


def best_sentence(curve: Curve, index: int, metric: str) -> str | None:
    found = best_at(curve, index, metric)
    if found is None:
        return None
    best, runner, s = found
    unit, digits = unit_of(curve, metric), digits_of(curve, metric)
    name = _name(metric)
    best_point, runner_point = curve.lines[best][index], curve.lines[runner][index] if runner else None
    assert best_point is not None  # best_at ranks only the models run at this point
    mean = best_point.mean_ci(metric)[0]
    text = f"At {curve.labels[index]} the highest mean on {name} is {best} ({number_text(mean, digits)}{unit})"
    if runner is None:
        return text + ", the only model there."
    assert runner_point is not None
    runner_mean = runner_point.mean_ci(metric)[0]
    if s is None:
        return text + f"; no test against {runner} ({number_text(runner_mean, digits)}{unit})."
    if s.get("p") is None:
        lead = evidence(s, unit, digits)
        return text + f"; its lead over {runner} ({number_text(runner_mean, digits)}{unit}) is {lead}."
    if s.get("claim") == "generator":
        verdict = f"not a recipe-level claim (fewer than {MIN_SEEDS} seeds)"
    else:
        verdict = "significant" if s.get("curve_significant") else "not significant"
    return (text + f"; its lead over {runner} ({number_text(runner_mean, digits)}{unit}) is {verdict}: "
            f"{evidence(s, unit, digits)}.")


def leader_sentence(curve: Curve, metric: str) -> str | None:
    """Where a significant lead changes hands along the axis: only points whose leader is significantly ahead
    of the runner-up (corrected across the points) count; None when fewer than two such leaders differ."""
    found = [best_at(curve, i, metric) for i in range(len(curve.points))]
    leaders = [f[0] if f is not None and f[2] is not None and f[2].get("curve_significant") else None
               for f in found]
    runs: list[tuple[str, int, int]] = []
    for i, m in enumerate(leaders):
        if m is None:
            continue
        if runs and runs[-1][0] == m and runs[-1][2] == i - 1:
            runs[-1] = (m, runs[-1][1], i)
        else:
            runs.append((m, i, i))
    if len({m for m, _, _ in runs}) < 2:
        return None
    name = _name(metric)
    spans = [f"{m} at {curve.labels[a]}" + (f" to {curve.labels[b]}" if b > a else "") for m, a, b in runs]
    return (f"The significant lead on {name} changes hands along the axis: {'; '.join(spans)} (each lead's test "
            "above, corrected across the points).")


def area_sentence(curve: Curve, metric: str) -> str:
    unit, d = unit_of(curve, metric), digits_of(curve, metric)
    higher = curve.metrics.get(metric, {}).get("higher_is_better", True)
    name = _name(metric)
    rows = [(m, *area(curve, m, metric)) for m in curve.lines]
    done = sorted([r for r in rows if math.isfinite(r[1])], key=lambda r: -r[1] if higher else r[1])
    parts = [f"{m} {number_text(a, d)}" + (f" ± {number_text(ci, d)}" if math.isfinite(ci) else "")
             + f" ({n} seed{'s' * (n != 1)})" for m, a, ci, n in done]
    missing = [m for m, a, *_ in rows if not math.isfinite(a)]
    text = (f"Area under the {name} curve (mean height over log2 {curve.unit_name}, {curve.labels[0]} to "
            f"{curve.labels[-1]}; mean ± 95% CI over seeds{unit and ', in' + unit}): "
            + ("; ".join(parts) if parts else "none complete"))
    g = gray_area(curve, metric)
    if math.isfinite(g) and not curve.metrics.get(metric, {}).get("reference_free"):
        text += f"; gray {number_text(g, d)}"
    if missing:
        text += f"; not every point run for {', '.join(missing)}"
    return text + "."


def curve_sentences(curve: Curve) -> list[str]:
    """The answers, in order: when each model first beats gray, who is best at each point and whether the
    lead is significant, where the lead changes hands, and the area under each curve."""
    lines = []
    for metric in tested_metrics(curve):
        lines += [gray_sentence(curve, m, metric) for m in curve.lines]
        lines += [s for i in range(len(curve.points)) if (s := best_sentence(curve, i, metric))]
        if (s := leader_sentence(curve, metric)) is not None:
            lines.append(s)
    lines += [area_sentence(curve, metric) for metric in curve.metrics]
    return lines
