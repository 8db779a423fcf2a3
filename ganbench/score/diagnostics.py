"""Is the adversary doing anything? The logged ratio of the adversarial gradient to the L1 term's on the
generator's output, summarised per run (metrics.json) and per model (the report), and what each critic
recipe adds over the L1-only baseline trained with the same generator optimiser."""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

#: history.csv column: ‖∂(adversarial loss)/∂fake‖ / ‖∂(λ_L1·L1)/∂fake‖ at the generator's output.
RATIO_COLUMN = "adv_to_l1_grad"
#: Below this ratio the report calls an adversary's pull on the generator negligible.
NEGLIGIBLE = 0.01
#: The recipe fields an L1 baseline must share with a model to isolate what the critic adds.
SHARED_WITH_BASELINE = ("generator", "generator_options", "generator_optimizer", "l1_weight", "lr_decay")


def adversary_summary(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """metrics.json's ``adversary``: the ratio's median over the logged steps and over their second half
    (None for a run without a critic)."""
    values = [float(row[RATIO_COLUMN]) for row in history
              if row.get(RATIO_COLUMN) is not None and math.isfinite(float(row[RATIO_COLUMN]))]
    if not values:
        return None
    return {"adv_to_l1_grad_median": statistics.median(values),
            "adv_to_l1_grad_median_second_half": statistics.median(values[len(values) // 2:]),
            "measurements": len(values),
            "definition": "||d(adversarial loss)/d fake|| / ||d(l1_weight * L1)/d fake|| at the generator output"}


def _model_runs(comp) -> dict[str, list]:
    """The report's rows (label -> the complete runs it counts, one per seed)."""
    return {row.label: list(row.counted.values()) for row in comp.rows if row.counted}


def adversary_line(comp) -> str | None:
    """One line: each critic model's median adversarial-to-L1 gradient ratio (median over its seeds)."""
    parts = []
    for model, runs in _model_runs(comp).items():
        values = [r.metrics.adversary["adv_to_l1_grad_median"] for r in runs if r.metrics.adversary]
        if values:
            v = statistics.median(values)
            parts.append(f"{model} {v:.3g}" + (f" (negligible, < {NEGLIGIBLE:g})" if v < NEGLIGIBLE else ""))
    if not parts:
        return None
    return ("Adversary's pull on the generator, ‖∂adv/∂fake‖ / ‖∂(λ_L1·L1)/∂fake‖ (median over training): "
            + ", ".join(parts))


def _shared(record: Any) -> str:
    recipe = record.recipe
    return json.dumps({k: recipe.get(k) for k in SHARED_WITH_BASELINE}, sort_keys=True)


def critic_gain_lines(comp) -> list[str]:
    """For each critic model, its PSNR difference to the L1-only baseline of the comparison that shares its
    generator, generator optimiser, λ_L1 and schedule (the paired test of the report's significance)."""
    runs = _model_runs(comp)
    baselines = {m: rs for m, rs in runs.items() if not rs[0].record.spent.get("critic_steps")}
    tests = {(s["model"], s["versus"]): s for s in comp.significance if s.get("metric") == "psnr"}
    lines = []
    for model, rs in runs.items():
        if model in baselines:
            continue
        for base, brs in baselines.items():
            if _shared(rs[0].record) != _shared(brs[0].record):
                continue
            s, sign = tests.get((model, base)), 1.0
            if s is None and (base, model) in tests:
                s, sign = tests[(base, model)], -1.0
            if s is None:
                continue
            opt = rs[0].record.recipe.get("generator_optimizer", {})
            head = (f"What the critic adds to {model}: {model} − {base} (same generator, optimiser {opt.get('name')} "
                    f"{opt.get('lr')}, λ_L1 and schedule)")
            if s.get("untested") or "mean_diff" not in s:
                lines.append(f"{head}: PSNR not tested ({s.get('untested', 'no test')})")
                continue
            lo, hi = sorted((sign * s["ci_low"], sign * s["ci_high"]))
            verdict = "significant" if s["significant"] else "not significant"
            p = s.get("p_holm")
            p_text = "" if p is None else f"Holm-adjusted p = {p:.3g}; "
            lines.append(f"{head}: PSNR {sign * s['mean_diff']:+.3f} dB [95% CI {lo:+.3f}, {hi:+.3f}], {verdict} "
                         f"({p_text}n = {s.get('n_photos', s.get('n'))} test photos)")
    return lines


def report_lines(comp) -> list[str]:
    line = adversary_line(comp)
    return ([line] if line else []) + critic_gain_lines(comp)
