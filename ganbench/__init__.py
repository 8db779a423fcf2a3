"""ganbench: benchmark GAN recipes for automatic image colourization.

``ganbench.colorize(images, run=...)`` colourizes PIL images or numpy arrays with a trained run
(``ganbench.inference``); ``ganbench.Colorizer`` keeps one generator loaded for many calls."""

from typing import Any

from ganbench.core.version import __version__

__all__ = ["__version__", "colorize", "Colorizer"]


def __getattr__(name: str) -> Any:
    """``colorize`` and ``Colorizer`` import torch: only when asked for."""
    if name in ("colorize", "Colorizer"):
        from ganbench import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'ganbench' has no attribute {name!r}")
