"""The installed ganbench's version, at the bottom of the package so that every layer can record it (provenance,
exported models) without importing the top-level package (``ganbench.__version__`` re-exports it)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ganbench")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
