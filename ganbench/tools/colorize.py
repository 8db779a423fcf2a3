"""Colourize photos with a trained generator, at the input's full resolution.

ab is predicted at the model's scale (short side = the training image size, each side a multiple of the
generator's stride), upsampled to the full size and combined with the full-resolution L, so no detail of
the input is lost. Grayscale and colour inputs alike (colour ones are reduced to their L first).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganbench.core.config import RunConfig
from ganbench.core.errors import ConfigError, ResultsError
from ganbench.core.registry import Registry
from ganbench.data.color import lab_to_net, lab_to_uint8, uint8_to_lab
from ganbench.data.pipeline import IMAGE_EXTENSIONS, UnusableImage, decode_image
from ganbench.store.results import atomic_write_bytes, open_run, safe_load
from ganbench.train.networks import build_generator

OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF",
                  ".tiff": "TIFF"}


def load_generator(registry: Registry, run: Path | None = None, checkpoint: Path | None = None,
                   device: torch.device = torch.device("cpu")) -> tuple[torch.nn.Module, RunConfig]:
    """The generator of a run folder (or of a checkpoint file inside one), weights loaded safely."""
    if run is None and checkpoint is None:
        raise ConfigError("give --run RUN_DIR or --checkpoint FILE")
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        if not checkpoint.is_file():
            raise ResultsError(f"checkpoint {checkpoint} does not exist")
        run = checkpoint.parent
    assert run is not None
    rd = open_run(run)
    cfg = RunConfig.from_dict(rd.record().config)
    weights = checkpoint or rd.path / "generator.pt"
    state = safe_load(weights)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ResultsError(f"{weights} is not a generator state dict")
    generator = build_generator(registry, cfg.recipe, cfg.budget)
    try:
        generator.load_state_dict(state)
    except RuntimeError:
        raise ResultsError(f"{weights} does not match the run's generator ({cfg.recipe.generator}); "
                           f"is it from another run?") from None
    return generator.to(device).eval(), cfg


def _stride(generator: torch.nn.Module) -> int:
    depth = getattr(generator, "depth", None)
    return 2 ** depth if depth else 1


def model_size(generator: torch.nn.Module, h: int, w: int, size: int) -> tuple[int, int]:
    """The generator's input size for an (h, w) photo: short side ``size``, sides multiples of its stride."""
    stride = _stride(generator)
    scale = size / min(h, w)
    return max(stride, round(h * scale / stride) * stride), max(stride, round(w * scale / stride) * stride)


def model_input(rgb: np.ndarray, shape: tuple[int, int], device: torch.device) -> torch.Tensor:
    full = torch.from_numpy(np.array(rgb, dtype=np.uint8, copy=True))[None].to(device)
    small = F.interpolate(full.permute(0, 3, 1, 2).float(), size=shape, mode="bilinear", antialias=True,
                          align_corners=False).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
    return lab_to_net(uint8_to_lab(small))[0]


def _combine(rgb: np.ndarray, ab: torch.Tensor, device: torch.device) -> np.ndarray:
    """Full-resolution L of the input + the predicted ab upsampled to it."""
    h, w = rgb.shape[:2]
    full = torch.from_numpy(np.array(rgb, dtype=np.uint8, copy=True))[None].to(device)
    ab_full = F.interpolate(ab[None].float().clamp(-1, 1) * 110.0, size=(h, w), mode="bilinear",
                            align_corners=False)
    lab = torch.cat([uint8_to_lab(full)[:, :1], ab_full], dim=1)
    return lab_to_uint8(lab)[0].cpu().numpy()


@torch.no_grad()
def colorize_batch(generator: torch.nn.Module, images: list[np.ndarray], size: int,
                   device: torch.device) -> list[np.ndarray]:
    """Colourize photos of any sizes; photos whose model inputs have the same shape share a batch."""
    shapes = [model_size(generator, img.shape[0], img.shape[1], size) for img in images]
    out: list[np.ndarray | None] = [None] * len(images)
    for shape in dict.fromkeys(shapes):
        idx = [i for i, s in enumerate(shapes) if s == shape]
        ab = generator(torch.cat([model_input(images[i], shape, device) for i in idx]))
        for j, i in enumerate(idx):
            out[i] = _combine(images[i], ab[j], device)
    return out  # type: ignore[return-value]


def colorize_array(generator: torch.nn.Module, rgb: np.ndarray, size: int, device: torch.device) -> np.ndarray:
    """uint8 RGB (H, W, 3) of any size -> colourized uint8 RGB of the same size and the same L."""
    return colorize_batch(generator, [rgb], size, device)[0]


def iter_inputs(inputs: Iterable[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    files, missing = [], []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        elif item.is_file():
            files.append(item)
        else:
            missing.append((str(item), "does not exist"))
    return files, missing


@dataclass
class ColorizeResult:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def colorize_files(
    generator: torch.nn.Module, cfg: RunConfig, inputs: Iterable[Path], out_dir: Path, device: torch.device,
    ext: str | None = None, compare: bool = False, on_file: Callable[[Path], None] | None = None,
    batch_size: int = 8,
) -> ColorizeResult:
    files, failed = iter_inputs(inputs)
    result = ColorizeResult(failed=list(failed))
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsError(f"cannot create {out_dir}: {exc.strerror}") from None
    if ext is not None and ext.lower() not in OUTPUT_FORMATS:
        raise ConfigError(f"unknown output format '{ext}': use one of {', '.join(OUTPUT_FORMATS)}")
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    seen: set[str] = set()
    for start in range(0, len(files), batch_size):
        decoded = []
        for path in files[start : start + batch_size]:
            try:
                decoded.append((path, decode_image(path, allow_gray=True)))
            except UnusableImage as exc:
                result.failed.append((str(path), str(exc)))
                if on_file:
                    on_file(path)
        outputs = colorize_batch(generator, [rgb for _, rgb in decoded], cfg.image_size, device) if decoded else []
        for (path, rgb), out in zip(decoded, outputs, strict=True):
            _write(path, rgb, out, out_dir, ext, compare, seen, result)
            if on_file:
                on_file(path)
    return result


def _write(path: Path, rgb: np.ndarray, out: np.ndarray, out_dir: Path, ext: str | None, compare: bool,
           seen: set[str], result: ColorizeResult) -> None:
    """Save one result (input | output with ``compare``) under a name no other input of this call took."""
    if compare:
        out = np.concatenate([rgb, np.full((rgb.shape[0], 8, 3), 255, np.uint8), out], axis=1)
    suffix = (ext or path.suffix).lower()
    if suffix not in OUTPUT_FORMATS:
        suffix = ".png"
    name = path.stem + suffix
    while name in seen:  # two inputs with one stem (from different folders) never overwrite
        name = f"{path.stem}-{len(seen)}{suffix}"
    seen.add(name)
    buf = io.BytesIO()
    fmt = OUTPUT_FORMATS[suffix]
    Image.fromarray(out).save(buf, format=fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    atomic_write_bytes(out_dir / name, buf.getvalue())
    result.written.append(out_dir / name)
