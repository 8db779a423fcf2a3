"""Everything a plugin needs, in the one module a plugin imports: the hook marker, the types plugins implement
or return, the errors they raise and the helpers the built-ins use. The core never imports a plugin.

    from ganbench.api import AdversarialLoss, Recipe, hookimpl

This module is the public face only: each name lives in the part of the package that owns it
(``ganbench.core``, ``ganbench.data``, ``ganbench.train``), and this import path stays when those move.
Executor plugins also use ``ganbench.grid`` (docs/plugins.md).
"""

from __future__ import annotations

from ganbench.core.budgets import parse_duration
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
    SetMetric,
    SizeHints,
    Tracker,
    init_weights,
)
from ganbench.core.errors import ConfigError, DataError, GanbenchError, PluginError
from ganbench.core.hookspecs import hookimpl
from ganbench.core.reporting import BaseReporter, Reporter
from ganbench.data.color import uint8_to_lab
from ganbench.data.pipeline import (
    IMAGE_EXTENSIONS,
    UnusableImage,
    decode_image,
    file_item,
    hold_out,
    is_gray,
    key_bucket,
    list_images,
)
from ganbench.track.session import TrackerUnavailable, require
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
    "SetMetric",
    "Tracker",
    # errors a plugin raises for a user to read (one line, documented exit code)
    "GanbenchError", "ConfigError", "DataError", "PluginError",
    # what a run and a grid report to (executor plugins drive one; subclass BaseReporter for a display)
    "Reporter", "BaseReporter",
    # helpers: network initialisation, dataset building blocks, data-parallel randomness, durations (90s, 1.5h)
    "init_weights", "UnusableImage", "file_item", "list_images", "is_gray", "rank_slice", "global_rows",
    "global_scores", "parse_duration",
    # colour: uint8 RGB (N, H, W, 3) -> float32 Lab (N, 3, H, W), the conversion the core scores with
    "uint8_to_lab",
    # trackers: import an optional package, or switch the tracker off with one line naming the extra
    "require", "TrackerUnavailable",
    # datasets: decode one image file as the built-ins do, and the extensions they read
    "decode_image", "IMAGE_EXTENSIONS",
    # datasets: a split that depends on each photo's key alone
    "key_bucket", "hold_out",
    # gradient penalties: a patch critic's per-image score, its input gradient, per-image gradient norms
    "per_image_score", "critic_input_gradient", "gradient_norms", "fp16_autocast_on", "PENALTY_REDUCTIONS",
]
