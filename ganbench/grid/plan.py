"""Step 1, the plan: a request checked as a whole (models, metrics, budget, device, precision, every recipe
built on the meta device) and turned into one RunConfig per (model, seed) before anything trains, so a bad
input fails fast with one line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from ganbench.core.budgets import parse_budget
from ganbench.core.config import DEFAULT_METRICS, RunConfig, run_identity
from ganbench.core.errors import ConfigError
from ganbench.core.options import DatasetOptions, declared, settings_of
from ganbench.core.options import check as check_options
from ganbench.core.registry import Registry
from ganbench.core.request import RunRequest
from ganbench.train.distributed import info as dist_info
from ganbench.train.distributed import local_device
from ganbench.train.precision import check_compile_supported, resolve_device, resolve_precision
from ganbench.train.setup import run_config


def plan_comparison(request: RunRequest, registry: Registry) -> list[RunConfig]:
    """Validate everything a comparison needs and return one RunConfig per (model, seed)."""
    if not request.models:
        raise ConfigError("no models given: use --models dcgan,wgan,wgan-gp")
    if len(set(request.models)) != len(request.models):
        raise ConfigError("a model is named twice in --models")
    check_options(request)  # every declared option's bounds and choices (a request built in code, too)
    device = (local_device(resolve_device(request.device), dist_info()) if request.device_here
              else torch.device(request.device))
    if request.precision == "auto" and device.type == "cpu" and (not request.device_here or dist_info().world > 1):
        raise ConfigError("--precision auto times a probe where it runs: not for a grid planned here and trained "
                          "elsewhere or by several processes; pass fp32 or bf16")
    precision = resolve_precision(request.precision, device)
    if request.compile:
        check_compile_supported()
    budget = parse_budget(request.budget, default="gpu" if device.type == "cuda" else "cpu")
    if request.image_size is not None:
        budget = replace(budget, image_size=request.image_size)
    if request.batch_size is not None:
        budget = replace(budget, batch_size=request.batch_size)
    if budget.batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {budget.batch_size}")
    if budget.image_size < 16:
        raise ConfigError(f"image size must be >= 16, got {budget.image_size}")
    metrics = request.metrics or list(DEFAULT_METRICS)
    for name in metrics:
        registry.create("metric", name)  # one that cannot be built (its weights missing) fails before any training
    if "psnr" not in metrics:
        raise ConfigError("the psnr metric is required (validation selects the best generator by it)")
    registry.get("dataset", request.dataset)
    for name in request.trackers:
        registry.get("tracker", name)
    eval_every = request.eval_every if request.eval_every is not None else budget.eval_every
    configs = []
    for model in request.models:
        cfg = run_config(registry, model, budget, request.sets, request.config, dataset=request.dataset,
                         dataset_options=normalise_options(request.dataset_options), device=str(device),
                         precision=precision, eval_every=eval_every, metrics=list(metrics),
                         **settings_of(request))
        cfg.identity = run_identity(registry, cfg.recipe, request.dataset, list(metrics))
        configs += [replace(cfg, seed=seed) for seed in request.seeds]
    return configs


#: The dataset options that name files or folders (recorded absolute).
PATH_OPTIONS = tuple(d.name for d in declared(DatasetOptions) if d.spec.type is Path)


def normalise_options(options: dict[str, Any]) -> dict[str, Any]:
    """Dataset options as recorded: unset ones dropped, folders made absolute."""
    out = {}
    for k, v in options.items():
        if v is None:
            continue
        if k in PATH_OPTIONS:
            p = Path(v).expanduser()
            # a folder, a file, or a shard pattern in an existing folder, recorded absolute; a data root that is
            # none of these is a name (a Hugging Face hub id) and stays as given
            if k != "data_root" or p.exists() or (p.parent != Path(".") and p.parent.exists()) or any(
                    c in p.name for c in "{*?["):
                v = str(p.resolve())
            else:
                v = str(v)
        elif k in ("data_root", "test_root"):
            p = Path(v).expanduser()
            # a folder, a file, or a shard pattern in an existing folder; else a name (a Hugging Face hub id)
            if p.exists() or (p.parent != Path(".") and p.parent.exists()) or any(c in p.name for c in "{*?["):
                v = str(p.resolve())
        out[k] = v
    return out
