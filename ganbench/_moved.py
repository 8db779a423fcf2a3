"""Names that moved, kept importable from where they were for at least one release, with a DeprecationWarning
naming the new place (docs/plugins.md, "The public API"). A module that lost names sets
``__getattr__ = moved(__name__, {name: new_module, ...})``."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

#: The release from which the moved names below may be gone (they stay through every 0.2.x release).
REMOVED_IN = "0.3.0"

#: Old module -> {name: the public module that has it now}.
MOVED: dict[str, dict[str, str]] = {
    "ganbench.hookspecs": {"hookimpl": "ganbench.api", "hookspec": "ganbench.core.hookspecs"},
    "ganbench.errors": {n: "ganbench.api" for n in ("GanbenchError", "ConfigError", "DataError", "PluginError")},
    "ganbench.data": {n: "ganbench.api" for n in ("file_item", "list_images", "is_gray", "UnusableImage")},
}


def moved(module: str, names: dict[str, str] | None = None) -> Callable[[str], Any]:
    """A module ``__getattr__`` that finds each moved name in its new module, warning once per import site."""
    table = MOVED[module] if names is None else names

    def __getattr__(name: str) -> Any:
        if name not in table:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new = table[name]
        warnings.warn(f"{module}.{name} has moved: import it from {new} ({module}.{name} goes in ganbench "
                      f"{REMOVED_IN})", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(new), name)

    return __getattr__
