"""Everything a plugin needs, in the one module a plugin imports: the hook marker, the types plugins implement
or return, the errors they raise and the helpers the built-ins use. The core never imports a plugin.

    from ganbench.api import AdversarialLoss, Recipe, hookimpl

This module is the public face only: each name lives in the part of the package that owns it
(``ganbench.core``, ``ganbench.data``, ``ganbench.train``), and this import path stays when those move.
Executor plugins also use ``ganbench.grid`` (docs/plugins.md).
"""

from __future__ import annotations

from ganbench.core.contract import (
    AdversarialLoss,
    CriticInputs,
    DatasetSplits,
    ImageItem,
    ImageSource,
    Metric,
    OptimizerSpec,
    Recipe,
    Regularizer,
    SizeHints,
    init_weights,
)
from ganbench.core.errors import ConfigError, DataError, GanbenchError, PluginError
from ganbench.core.hookspecs import hookimpl
from ganbench.data.pipeline import UnusableImage, file_item, is_gray, list_images
from ganbench.train.distributed import global_rows, global_scores, rank_slice
from ganbench.train.penalties import (
    PENALTY_REDUCTIONS,
    critic_input_gradient,
    fp16_autocast_on,
    gradient_norms,
    per_image_score,
)

__all__ = [
    # the hook marker (decorate your register_* functions with it)
    "hookimpl",
    # what plugins implement or return
    "AdversarialLoss", "Regularizer", "CriticInputs",
    "OptimizerSpec", "Recipe", "SizeHints", "DatasetSplits", "ImageItem", "ImageSource", "Metric",
    # errors a plugin raises for a user to read (one line, documented exit code)
    "GanbenchError", "ConfigError", "DataError", "PluginError",
    # helpers: network initialisation, dataset building blocks, data-parallel randomness
    "init_weights", "UnusableImage", "file_item", "list_images", "is_gray", "rank_slice", "global_rows",
    "global_scores",
    # gradient penalties: a patch critic's per-image score, its input gradient, per-image gradient norms
    "per_image_score", "critic_input_gradient", "gradient_norms", "fp16_autocast_on", "PENALTY_REDUCTIONS",
]
