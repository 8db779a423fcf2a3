"""``ganbench evaluate``: a trained run's selected generator scored again, on its own held-out test split or on
any dataset, beside the gray baseline."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ganbench.core.config import RunConfig
from ganbench.core.errors import ResultsError
from ganbench.core.registry import Registry
from ganbench.core.reporting import Reporter, as_reporter
from ganbench.data.filelist import open_dataset
from ganbench.data.pipeline import prepare_test
from ganbench.grid.plan import normalise_options
from ganbench.score.evaluate import (
    evaluate_images,
    reference_scores,
    score_sets,
    set_info,
    set_reference_scores,
    summarize,
)
from ganbench.store.results import open_run
from ganbench.tools.colorize import load_generator
from ganbench.train.networks import check_shapes
from ganbench.train.precision import resolve_device


def evaluate_run(path: Path, registry: Registry, dataset: str | None = None,
                 dataset_options: dict[str, Any] | None = None, image_size: int | None = None,
                 device: str = "auto", reporter: Reporter | None = None, cache_dir: Path | None = None) -> dict:
    """Re-score a trained run's generator on any dataset. By default the held-out test split of the one
    it was trained on; a dataset named here is scored whole: a dataset registered with
    ``accepts=("evaluate_all",)`` gets ``evaluate_all=True`` (every usable photo is a test photo)."""
    reporter = as_reporter(reporter)
    run = open_run(path)
    record = run.record()
    if not (run.path / "generator.pt").exists():
        raise ResultsError(f"{path} has no generator.pt (status {record.get('status')}): nothing to evaluate")
    cfg = RunConfig.from_dict(record["config"])
    dev = resolve_device(device)
    options = dict(cfg.dataset_options)
    if dataset is not None:
        registry.get("dataset", dataset)
        options = normalise_options(dataset_options or {})
        if registry.accepts("dataset", dataset, "evaluate_all"):
            _note_training_photos(cfg, dataset, options, reporter)
            options["evaluate_all"] = True
        cfg.dataset = dataset
    if image_size is not None:
        cfg.budget = replace(cfg.budget, image_size=image_size)
    check_shapes(registry, cfg.recipe, cfg.budget, cfg.model)
    splits = open_dataset(registry, cfg.dataset, options)  # a dataset's OSError is a DataError there
    data = prepare_test(splits, cfg.image_size, cache_dir=cache_dir)  # skipped files are returned
    generator, _ = load_generator(registry, run=run.path, device=dev)
    metrics = {name: registry.create("metric", name) for name in cfg.metrics}
    scores, pred = evaluate_images(generator, data.crops, metrics, dev)
    refs = reference_scores(metrics, data.crops)
    sets = score_sets(metrics, pred, data.crops)
    set_refs = set_reference_scores(metrics, data.crops, data.keys)
    skipped = [{"file": f, "reason": r} for f, r in [*splits.skipped, *data.skipped]]
    return {"run": str(run.path), "model": cfg.model, "dataset": cfg.dataset, "description": splits.description,
            "image_size": cfg.image_size, "n_photos": data.photos, "n_test_images": int(data.crops.shape[0]),
            "skipped": skipped,
            "scores": {**summarize(scores), **sets}, "gray": {**summarize(refs["gray"]), **set_refs["gray"]},
            "truth": {**summarize(refs["truth"]), **set_refs["truth"]},
            "set_level": set_info(metrics, set_refs["n_images"], set_refs["n_split_half"],
                          set_refs["split_half_photos"])}


def _note_training_photos(trained: RunConfig, dataset: str, options: dict[str, Any], reporter: Reporter) -> None:
    """Scoring the whole folder a run trained on includes its training photos: say so."""
    scored = options.get("test_root") or options.get("data_root")
    if dataset == trained.dataset and scored is not None and scored == trained.dataset_options.get("data_root"):
        reporter.message(f"note: {scored} is the folder this run trained on: every photo in it is scored, its "
                         "training photos included (leave out --dataset to score only its held-out test split)")
