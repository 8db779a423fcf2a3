"""Why a run trains again, and re-scoring instead of retraining.

A run's key carries its identity per part (``run_identity``: recipe hash, generator, critic, loss,
regularizers, dataset, each by the source of the module that defines it). When no run has the key, the newest
stored run of the same model and seed that does not match says what changed: :func:`why_trains_again`. Metrics
are outside the key: a complete run whose metric plugins changed since it was scored (run.json ``scoring``)
has its stored generators scored again (:func:`rescore`), not trained again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganbench.core.config import RunConfig
from ganbench.core.registry import Registry
from ganbench.data.pipeline import PreparedData
from ganbench.grid.finish import write_scores
from ganbench.score.evaluate import evaluate_images, reference_scores
from ganbench.store.records import RunRecord
from ganbench.store.results import RunDir, iter_runs, safe_load
from ganbench.train.networks import build_generator

#: config fields whose change retrains a run, as a user names them
_OPTIONS = ("budget", "dataset_options", "device", "precision", "compile", "eval_every", "metrics", "ema",
            "colorfulness_floor")


def _changed_value(old: str | None, new: str | None) -> str:
    """``bce: ganbench 0.1.0, my_plugin.losses@aaa`` -> ``...@bbb``, shortened to what differs."""
    if old is None:
        return f"new: {new}"
    if new is None:
        return f"gone (was {old})"
    return f"{old} -> {new.split(', ')[-1] if old.split(', ')[:-1] == new.split(', ')[:-1] else new}"


def identity_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two identities, one phrase per part (``loss bce: ... -> ...``). An identity recorded
    before identities were per part (``plugins``) says so."""
    if "plugins" in old and "plugins" not in new:
        return ["identity recorded per distribution by an older ganbench (now per part)"]
    out = []
    if old.get("recipe_hash") != new.get("recipe_hash"):
        out.append("recipe changed")
    for part in sorted((set(old) | set(new)) - {"recipe_hash"}):
        if old.get(part) != new.get(part):
            out.append(f"{part} changed ({_changed_value(old.get(part), new.get(part))})")
    return out


def why_trains_again(results: Path, cfg: RunConfig) -> str | None:
    """Why this run, with no stored run of its key, trains although the same model and seed were trained
    before: what changed since the newest such run (its parts, recipe or options); None when none exists."""
    newest: tuple[Path, RunRecord] | None = None
    for run in iter_runs(results):
        try:
            record = run.record()
        except Exception:  # noqa: BLE001  (an unreadable run.json is not this run's business)
            continue
        if record.model != cfg.model or record.config.get("seed") != cfg.seed or record.key == cfg.run_key():
            continue
        if newest is None or run.path.name > newest[0].name:
            newest = (run.path, record)
    if newest is None:
        return None
    path, record = newest
    changes = identity_changes(record.identity, cfg.identity)
    now = cfg.to_dict()
    changes += [f"{key} changed" for key in _OPTIONS if record.config.get(key) != now.get(key)]
    if not changes:
        return None
    return f"trains again: {'; '.join(changes)} since {path.name}"


def scoring_changes(record: RunRecord, scoring: dict[str, str]) -> list[str]:
    """The metrics whose plugin changed since the run was scored (its recorded ``scoring``); a run scored
    before ``scoring`` was recorded has none (nothing to compare)."""
    recorded = record.scoring
    if not recorded:
        return []
    return sorted(name for name, ident in scoring.items() if name in recorded and recorded[name] != ident)


def _scores(registry: Registry, cfg: RunConfig, weights: Path, data: PreparedData, metrics: dict,
            device: torch.device) -> tuple[dict[str, Any], torch.Tensor]:
    generator = build_generator(registry, cfg.recipe, cfg.budget)
    generator.load_state_dict(safe_load(weights))
    return evaluate_images(generator.to(device).eval(), data.test, metrics, device)


def rescore(run: RunDir, registry: Registry, cfg: RunConfig, data: PreparedData, scoring: dict[str, str],
            device: torch.device) -> None:
    """Score a complete run's stored generators (selected and last) again with today's metric plugins, on its
    test crops, and rewrite its scores (metrics.json, per_image.csv) and ``scoring``; the weights stay."""
    metrics = {name: registry.create("metric", name) for name in cfg.metrics}
    summary = run.metrics()
    model = _scores(registry, cfg, run.path / "generator.pt", data, metrics, device)
    last = _scores(registry, cfg, run.path / "generator_last.pt", data, metrics, device)
    summary.update(**write_scores(run, data, metrics, model, last, reference_scores(metrics, data.test),
                                  summary.selected))
    run.write_metrics(summary)
    run.update_record(scoring=scoring)
