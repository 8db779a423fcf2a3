"""Colourize images from Python: ``ganbench.colorize(images, run=...)`` on PIL images or numpy arrays of any size,
with a trained run folder (``generator.pt``), an exported folder (``generator.safetensors`` + ``generator.json``,
no pickle) or a file inside either. The work is ``ganbench colorize``'s (``ganbench.tools.colorize``): ab at the
model's scale, upsampled onto the input's own full-resolution L."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.core.errors import ConfigError
from ganbench.core.registry import Registry, load_registry
from ganbench.tools.colorize import colorize_batch, load_generator


class Colorizer:
    """A loaded generator, ready to colourize many images (``Colorizer(run)(images)``).

    ``run``: a run folder, an export folder, or a ``.pt`` / ``.safetensors`` file inside one; ``device``: cpu,
    cuda, ... (default: the CPU)."""

    def __init__(self, run: str | Path, device: str | torch.device = "cpu", registry: Registry | None = None) -> None:
        self.device = torch.device(device)
        registry = registry or load_registry()
        path = Path(run)
        if path.suffix == ".safetensors" or (path.is_dir() and (path / "generator.safetensors").is_file()):
            from ganbench.export.model import load_exported

            self.generator, config = load_exported(registry, path, self.device)
            self.image_size = int(config["image_size"])
        else:
            checkpoint = path if path.suffix == ".pt" else None
            self.generator, cfg = load_generator(registry, None if checkpoint else path, checkpoint, self.device)
            self.image_size = cfg.image_size

    def __call__(self, images: Any, batch_size: int = 8) -> Any:
        """One image or a sequence of them (PIL images, or uint8 arrays (H, W) gray / (H, W, 3) RGB / (H, W, 4)
        RGBA) -> the colourized image(s), each the input's size and kind (a PIL image for a PIL image, a uint8
        (H, W, 3) array for an array)."""
        single = not isinstance(images, (list, tuple))
        items: Sequence[Any] = [images] if single else images
        arrays = [_as_rgb(img) for img in items]
        out: list[np.ndarray] = []
        for start in range(0, len(arrays), max(1, batch_size)):
            out += colorize_batch(self.generator, arrays[start : start + batch_size], self.image_size, self.device)
        results = [_like(img, arr) for img, arr in zip(items, out, strict=True)]
        return results[0] if single else results


def colorize(images: Any, run: str | Path, device: str | torch.device = "cpu") -> Any:
    """Colourize one image or a list of images (PIL or numpy, any size) with the generator of ``run`` (a run
    folder, an export folder with ``generator.safetensors``, or a weights file inside either). Loads the
    generator on each call: keep a :class:`Colorizer` for many calls."""
    return Colorizer(run, device)(images)


def _as_rgb(image: Any) -> np.ndarray:
    """uint8 RGB (H, W, 3) from a PIL image or an array (gray, RGB, RGBA; uint8, or floats in [0, 1])."""
    if hasattr(image, "convert") and hasattr(image, "size"):  # a PIL image
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.size and float(arr.min()) >= 0.0 and float(arr.max()) <= 1.0:
            arr = np.round(arr * 255.0).astype(np.uint8)
        else:
            raise ConfigError(f"an image array must be uint8 (or floats in [0, 1]), got {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
        raise ConfigError(f"an image array must be (H, W), (H, W, 3) or (H, W, 4), got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _like(original: Any, rgb: np.ndarray) -> Any:
    if hasattr(original, "convert") and hasattr(original, "size"):
        from PIL import Image

        return Image.fromarray(rgb)
    return rgb
