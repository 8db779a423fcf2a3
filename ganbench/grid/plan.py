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
from ganbench.core.registry import Registry
from ganbench.core.request import RunRequest
from ganbench.train.distributed import info as dist_info
from ganbench.train.distributed import local_device
from ganbench.train.precision import AUTOCAST, check_compile_supported, default_precision, resolve_device
from ganbench.train.setup import run_config


def plan_comparison(request: RunRequest, registry: Registry) -> list[RunConfig]:
    """Validate everything a comparison needs and return one RunConfig per (model, seed)."""
    if not request.models:
        raise ConfigError("no models given: use --models dcgan,wgan,wgan-gp")
    if len(set(request.models)) != len(request.models):
        raise ConfigError("a model is named twice in --models")
    device = (local_device(resolve_device(request.device), dist_info()) if request.device_here
              else torch.device(request.device))
    precision = request.precision or default_precision(device)
    if precision not in AUTOCAST:
        raise ConfigError(f"unknown precision '{precision}': use fp32, bf16 or fp16")
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
        registry.get("metric", name)
    if "psnr" not in metrics:
        raise ConfigError("the psnr metric is required (validation selects the best generator by it)")
    registry.get("dataset", request.dataset)
    eval_every = request.eval_every if request.eval_every is not None else budget.eval_every
    if eval_every < 0 or request.checkpoint_every < 0:
        raise ConfigError("--eval-every and --checkpoint-every must be >= 0")
    if not 0 <= request.colorfulness_floor <= 1:
        raise ConfigError(f"--colorfulness-floor must be in [0, 1], got {request.colorfulness_floor:g}")
    if not 0 <= request.ema < 1:
        raise ConfigError(f"--ema must be in [0, 1) (a decay; 0 = off), got {request.ema:g}")
    configs = []
    for model in request.models:
        cfg = run_config(registry, model, budget, request.sets, request.config, dataset=request.dataset,
                         dataset_options=normalise_options(request.dataset_options), device=str(device),
                         precision=precision, compile=request.compile, eval_every=eval_every,
                         checkpoint_every=request.checkpoint_every, metrics=list(metrics), ema=request.ema,
                         colorfulness_floor=request.colorfulness_floor)
        cfg.identity = run_identity(registry, cfg.recipe, request.dataset, list(metrics))
        configs += [replace(cfg, seed=seed) for seed in request.seeds]
    return configs


def normalise_options(options: dict[str, Any]) -> dict[str, Any]:
    """Dataset options as recorded: unset ones dropped, folders made absolute."""
    out = {}
    for k, v in options.items():
        if v is None:
            continue
        if k == "file_list":
            v = str(Path(v).expanduser().resolve())
        elif k in ("data_root", "test_root"):
            p = Path(v).expanduser()
            # a folder, a file, or a shard pattern in an existing folder; else a name (a Hugging Face hub id)
            if p.exists() or (p.parent != Path(".") and p.parent.exists()) or any(c in p.name for c in "{*?["):
                v = str(p.resolve())
        out[k] = v
    return out
