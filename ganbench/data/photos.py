"""A dataset's training photos as a run keeps them, for the commands that time the input pipeline
(``ganbench data bench``, ``ganbench bench --with-data``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganbench.core.registry import Registry
from ganbench.data.filelist import open_dataset
from ganbench.data.pipeline import ImageSet, prepare


def train_photos(registry: Registry, dataset: str, options: dict[str, Any], size: int,
                 cache_dir: Path | None = None) -> ImageSet:
    """The dataset's training photos as a run keeps them (short side 2·size)."""
    splits = open_dataset(registry, dataset, options)
    return prepare(splits.train, 2 * size, cache_dir)


__all__ = ["train_photos"]
