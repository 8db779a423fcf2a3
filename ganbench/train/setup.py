"""The one way from a model name to a run config and a trainer: resolve the recipe (registered or from a
config file, ``--set`` on top), check it against the budget (its networks built on the meta device), and
build the trainer. The planner (runs), ``ganbench bench``, ``ganbench.testing``, the tests and the
benchmarks all go through here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ganbench.core.budgets import Budget, parse_budget
from ganbench.core.config import ConfigFile, RunConfig, resolve_recipe
from ganbench.core.registry import Registry
from ganbench.data.pipeline import PreparedData
from ganbench.data.synthetic import synthetic_data
from ganbench.train.batches import BatchSource
from ganbench.train.networks import check_shapes
from ganbench.train.precision import resolve_device, resolve_precision
from ganbench.train.trainer import Trainer


def run_config(registry: Registry, model: str, budget: Budget, sets: dict[str, Any] | None = None,
               config: ConfigFile | None = None, dataset: str = "synthetic", **settings: Any) -> RunConfig:
    """The checked RunConfig of ``model`` under ``budget``; ``settings``: RunConfig's other fields (seed,
    device, precision, metrics, ...)."""
    recipe = resolve_recipe(registry, model, config, sets)
    check_shapes(registry, recipe, budget, model)
    return RunConfig(model=model, recipe=recipe, dataset=dataset, dataset_options=settings.pop("dataset_options", {}),
                     budget=budget, **settings)


def build_trainer(
    registry: Registry, model: str, budget: str | Budget = "smoke", image_size: int | None = None,
    batch_size: int | None = None, sets: dict[str, Any] | None = None, config: ConfigFile | None = None,
    device: str = "cpu", precision: str | None = "fp32", metrics: Sequence[str] = (), data: PreparedData | None = None,
    channels_last: bool | None = None, batches: BatchSource | None = None, **settings: Any,
) -> Trainer:
    """A Trainer of ``model`` as a run builds it: the budget (a name or ``--budget`` text, or a Budget) with
    ``image_size``/``batch_size`` on top, ``sets`` on the recipe, the metrics named (validation needs psnr),
    on synthetic images unless ``data`` is given; ``precision`` None: the fixed default (bf16 on CUDA, fp32 on a
    CPU), ``auto``: a fresh probe; ``settings``: RunConfig's other fields (seed, ema,
    compile, colorfulness_floor, ...)."""
    dev = resolve_device(device)
    b = parse_budget(budget) if isinstance(budget, str) else budget
    b = replace(b, image_size=image_size or b.image_size, batch_size=batch_size or b.batch_size)
    cfg = run_config(registry, model, b, sets, config, device=str(dev), precision=resolve_precision(precision, dev),
                     metrics=list(metrics), **settings)
    return Trainer(cfg, registry, data or synthetic_data(b.image_size), dev,
                   {name: registry.create("metric", name) for name in metrics}, channels_last=channels_last,
                   batches=batches)
