"""The plugin contract: one hook per kind of thing a plugin can add.

Every hook receives a ``register(name, factory, **meta)`` callable. Names are part of a benchmark's
identity, so a name registered twice (by two plugins, or twice by one) is an error naming both.
See docs/plugins.md for each hook's factory signature.
"""

from __future__ import annotations

import pluggy

PROJECT = "ganbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_generators(register):
    """Register generator factories: ``factory(**options) -> nn.Module`` mapping L (N,1,H,W) to ab (N,2,H,W)."""


@hookspec
def register_critics(register):
    """Register critic factories: ``factory(norm=..., **options) -> nn.Module`` scoring (L, ab) (N,3,H,W)."""


@hookspec
def register_losses(register):
    """Register adversarial losses: ``factory(**options) -> ganbench.api.AdversarialLoss``."""


@hookspec
def register_regularizers(register):
    """Register critic regularizers: ``factory(**options) -> ganbench.api.Regularizer`` (a penalty any loss can
    take from a recipe's ``regularizers`` list)."""


@hookspec
def register_models(register):
    """Register model recipes: ``factory() -> ganbench.api.Recipe`` (or a dict of its fields)."""


@hookspec
def register_datasets(register):
    """Register datasets: ``factory(**options) -> ganbench.api.DatasetSplits``."""


@hookspec
def register_metrics(register):
    """Register metrics: ``factory() -> ganbench.api.Metric``."""


@hookspec
def register_executors(register):
    """Register grid executors: ``factory(**options) -> ganbench.grid.Executor`` (where each run executes)."""


@hookspec
def register_trackers(register):
    """Register experiment trackers: ``factory(*, run_dir, run_name, results) -> ganbench.api.Tracker`` (where a
    run's hyper-parameters, scalars, sample grids and final metrics are sent while it trains, rank 0 only)."""
