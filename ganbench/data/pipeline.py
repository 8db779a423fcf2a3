"""Data pipeline: robust decoding, decode-and-resize once, deterministic training crops, fixed eval crops.

Datasets (plugins) only say which images exist and how to read them; everything here is shared. Training
batches are a pure function of (seed, batch index): the same on every run, and resuming at batch k needs
nothing but k.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFile, ImageOps

from ganbench.core.contract import DatasetSplits, ImageItem
from ganbench.core.errors import DataError
from ganbench.data.store import DiskImages, build_store, item_identity, use_disk
from ganbench.data.unusable import UnusableImage

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
#: Pillow refuses images above this many pixels by default (decompression bomb); photos are far smaller.
Image.MAX_IMAGE_PIXELS = 200_000_000


def _to_rgb(img: Image.Image) -> Image.Image:
    """Pillow modes -> RGB. RGBA/LA/transparent palettes are composited on white; CMYK is converted;
    16-bit and float grayscale are rescaled (and then rejected as grayscale)."""
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        return Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    if img.mode != "RGB":
        return img.convert("RGB")
    return img


def decode_image(source: str | Path | bytes, max_side: int | None = None, allow_gray: bool = False) -> np.ndarray:
    """Decode a file to uint8 RGB (H, W, 3), EXIF orientation applied.

    ``max_side``: a JPEG is decoded at a reduced scale (``draft``) when it is much larger than needed, so
    a 50-megapixel photo never costs 50 megapixels of memory. Raises :class:`UnusableImage`.
    """
    try:
        fp = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    except OSError as exc:
        raise UnusableImage(f"cannot open ({exc.strerror or exc})") from None
    with fp:
        head = fp.read(1)
        if not head:
            raise UnusableImage("empty file")
        fp.seek(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img: Image.Image = Image.open(fp)
                if max_side and img.format == "JPEG" and min(img.size) > 2 * max_side:
                    img.draft("RGB", (max_side, max_side))
                ImageFile.LOAD_TRUNCATED_IMAGES = False
                img.load()
        except Image.UnidentifiedImageError:
            raise UnusableImage("not an image (unrecognised format)") from None
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
            raise UnusableImage(f"corrupt or truncated ({exc})") from None
        with contextlib.suppress(Exception):  # a broken EXIF block must not cost the photo
            img = ImageOps.exif_transpose(img)
        if not allow_gray and img.mode in ("1", "L", "LA", "I;16", "I;16B", "I;16L", "I", "F"):
            raise UnusableImage(f"grayscale image (mode {img.mode}): no colour to learn")
        arr = np.asarray(_to_rgb(img), dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise UnusableImage(f"unexpected shape {arr.shape}")
    if not allow_gray and is_gray(arr):
        raise UnusableImage("grayscale content (R = G = B): no colour to learn")
    return arr


def is_gray(arr: np.ndarray) -> bool:
    """True if a uint8 RGB image has no colour (R, G and B within 2 of each other, on a sample)."""
    step = max(1, int(math.sqrt(arr.shape[0] * arr.shape[1] / 65536)))
    sample = arr[::step, ::step].astype(np.int16)
    return int(np.abs(sample[..., 0] - sample[..., 1]).max()) <= 2 and int(
        np.abs(sample[..., 1] - sample[..., 2]).max()
    ) <= 2


def resize_short_side(arr: np.ndarray, short: int) -> np.ndarray:
    """Resize (antialiased, bicubic) so the shorter side is ``short``; smaller images are upscaled."""
    h, w = arr.shape[:2]
    scale = short / min(h, w)
    size = (max(short, round(w * scale)), max(short, round(h * scale)))
    if size == (w, h):
        return arr
    return np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0))


def key_bucket(key: str) -> float:
    """A stable pseudo-random number in [0, 1) for a photo's key (its first 8 SHA-1 bytes): ranking by it gives a
    split that depends on the photo alone, not on the listing's order or on other photos."""
    return int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big") / 2**64


def hold_out(items: list[ImageItem], fraction: float) -> tuple[list[ImageItem], list[ImageItem]]:
    """A deterministic by-photo split: the ``fraction`` of ``items`` with the lowest :func:`key_bucket` of their
    key is held out (at least one, none from a single item); both parts keep the items' order."""
    if len(items) < 2:
        return list(items), []
    k = max(1, round(fraction * len(items)))
    held = {it.key for it in sorted(items, key=lambda it: key_bucket(it.key))[:k]}
    return [it for it in items if it.key not in held], [it for it in items if it.key in held]


def list_images(root: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Every image file below ``root`` (by extension, case-insensitive), in a stable order; other files
    are reported as skipped."""
    files, skipped = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name.startswith("."):
            continue
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            files.append(path)
        else:
            skipped.append((str(path), "not an image extension"))
    return files, skipped


def file_item(path: Path, key: str | None = None, max_side: int | None = None) -> ImageItem:
    return ImageItem(key=key or str(path), load=lambda: decode_image(path, max_side=max_side), path=path)


@dataclass
class ImageSet:
    """Decoded, resized uint8 RGB images of one split: in memory (a list of arrays) or on disk
    (:class:`ganbench.data.store.DiskImages`, read per access)."""

    keys: list[str]
    images: Sequence[np.ndarray]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)


def _cache_name(item: ImageItem, short: int) -> str | None:
    ident = item_identity(item, short)
    return None if ident is None else hashlib.sha256(ident.encode()).hexdigest()[:24] + ".npy"


def prepare(
    items: Sequence[ImageItem], short: int, cache_dir: Path | None = None, warn=None
) -> ImageSet:
    """Decode every item once and resize it so its short side is ``short``; unusable files are skipped
    with a reason. With ``cache_dir`` the resized pixels are kept as .npy files keyed by path, size,
    mtime and settings, so later runs skip decoding."""
    keys, images, skipped = [], [], []
    for item in items:
        name = _cache_name(item, short) if cache_dir is not None else None
        if name is not None and cache_dir is not None and (cache_dir / name).exists():
            try:
                images.append(np.load(cache_dir / name, allow_pickle=False))
                keys.append(item.key)
                continue
            except (OSError, ValueError):
                pass  # a damaged cache entry is rebuilt below
        try:
            arr = resize_short_side(item.load(), short)
        except UnusableImage as exc:
            skipped.append((item.key, str(exc)))
            if warn:
                warn(f"skipping {item.key}: {exc}")
            continue
        if name is not None and cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = cache_dir / f".{name}.{os.getpid()}.{id(arr)}.tmp"  # processes may share the cache
            with open(tmp, "wb") as fh:
                np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)
            tmp.replace(cache_dir / name)
        keys.append(item.key)
        images.append(np.ascontiguousarray(arr))
    return ImageSet(keys, images, skipped)


def prepare_on_disk(items: Sequence[ImageItem], short: int, cache_dir: Path | None = None, warn=None) -> ImageSet:
    """What :func:`prepare` gives, with the pixels in a disk store (``ganbench.data.store``) instead of memory:
    decoded one photo at a time, read back per batch."""
    keys, images, skipped = build_store(items, short, cache_dir, lambda item: resize_short_side(item.load(), short),
                                        warn)
    return ImageSet(keys, images, skipped)


def eval_crops(images: ImageSet, size: int, crops: int) -> tuple[torch.Tensor, list[str]]:
    """Fixed evaluation crops as uint8 (N, size, size, 3): the centre crop at short side ``size``; with
    ``crops`` = 5, also the four quadrants of the centre 2·size square at short side 2·size."""
    out, keys = [], []
    for key, arr in zip(images.keys, images.images, strict=True):
        base = resize_short_side(arr, size)
        h, w = base.shape[:2]
        top, left = (h - size) // 2, (w - size) // 2
        out.append(base[top : top + size, left : left + size])
        keys.append(f"{key}#center")
        if crops > 1:
            big = resize_short_side(arr, 2 * size)
            h, w = big.shape[:2]
            top, left = (h - 2 * size) // 2, (w - 2 * size) // 2
            for i, (dy, dx) in enumerate([(0, 0), (0, size), (size, 0), (size, size)][: crops - 1]):
                out.append(big[top + dy : top + dy + size, left + dx : left + dx + size])
                keys.append(f"{key}#q{i}")
    if not out:
        return torch.empty(0, size, size, 3, dtype=torch.uint8), []
    return torch.from_numpy(np.stack(out)), keys


class TrainSampler:
    """Batch ``k`` of a run is a pure function of (seed, k): images in a per-epoch permutation, a random
    square crop of 50-100% of the short side, resized to ``size``, and a random horizontal flip."""

    def __init__(self, images: ImageSet, size: int, batch_size: int, seed: int, min_scale: float = 0.5):
        if len(images) == 0:
            raise DataError("no usable training images")
        self.images: Sequence[torch.Tensor] | DiskImages
        if isinstance(images.images, DiskImages):
            self.images = images.images  # read per sample
        else:
            self.images = [torch.from_numpy(np.array(a, copy=True)) for a in images.images]
        self.size, self.batch_size, self.seed, self.min_scale = size, batch_size, seed, min_scale
        self._perm_epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.images)

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._perm_epoch:
            g = torch.Generator().manual_seed(_mix_seed(self.seed, 0xE90C, epoch))
            self._perm, self._perm_epoch = torch.randperm(len(self.images), generator=g), epoch
        return self._perm

    def batch(self, index: int, part: slice | None = None) -> torch.Tensor:
        """Float RGB in [0, 1], (B, 3, size, size), on the CPU: global batch ``index``, or the ``part`` of
        its rows one data-parallel rank trains on (each sample has its own seeded generator, so a part is
        exactly those rows of the whole batch)."""
        n, b = len(self.images), self.batch_size
        rows = range(b)[part] if part is not None else range(b)
        out = torch.empty(len(rows), 3, self.size, self.size)
        for row, j in enumerate(rows):
            g = torch.Generator().manual_seed(_mix_seed(self.seed, 0xBA7C, index, j))
            pos = index * b + j
            img = self._image(int(self._permutation(pos // n)[pos % n]))
            h, w = img.shape[:2]
            short = min(h, w)
            lo = min(short, max(self.size, round(self.min_scale * short)))
            side = int(torch.randint(lo, short + 1, (1,), generator=g))
            top = int(torch.randint(0, h - side + 1, (1,), generator=g))
            left = int(torch.randint(0, w - side + 1, (1,), generator=g))
            crop = img[top : top + side, left : left + side].permute(2, 0, 1)[None].float()
            if side != self.size:
                crop = F.interpolate(crop, size=(self.size, self.size), mode="bilinear",
                                     antialias=side > self.size, align_corners=False)
            if bool(torch.rand((), generator=g) < 0.5):
                crop = crop.flip(-1)
            out[row] = crop[0]
        return out.div_(255.0).clamp_(0.0, 1.0)


    def _image(self, i: int) -> torch.Tensor:
        img = self.images[i]
        return torch.from_numpy(img) if isinstance(img, np.ndarray) else img


def _mix_seed(*parts: int) -> int:
    h = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") & 0x7FFF_FFFF_FFFF_FFFF


@dataclass
class PreparedData:
    train: ImageSet
    val: torch.Tensor
    val_keys: list[str]
    test: torch.Tensor
    test_keys: list[str]
    description: str
    skipped: list[tuple[str, str]]


def prepare_splits(
    splits: DatasetSplits, size: int, train_scale: float = 2.0, cache_dir: Path | None = None, warn=None,
    store: str | None = None,
) -> PreparedData:
    """Decode and resize every split once. Training photos are kept at short side ``train_scale·size``
    (crops of 50-100% of it are taken), in memory or, for a dataset larger than memory, in a disk store
    (``store``: memory, disk or auto, see :func:`ganbench.data.store.use_disk`); evaluation photos become fixed
    crops."""
    short = round(train_scale * size)
    on_disk = use_disk(len(splits.train), short, store)
    train = (prepare_on_disk if on_disk else prepare)(splits.train, short, cache_dir, warn)
    if len(train) == 0:
        raise DataError(f"no usable training images in {splits.description or 'the dataset'}")
    val = prepare(splits.val, _eval_short(splits, size), cache_dir, warn)
    test = prepare_test(splits, size, cache_dir, warn)
    val_t, val_keys = eval_crops(val, size, splits.eval_crops)
    skipped = list(splits.skipped) + train.skipped + val.skipped + test.skipped
    return PreparedData(train, val_t, val_keys, test.crops, test.keys, splits.description, skipped)


@dataclass
class EvalData:
    """The test split alone, as fixed crops: what ``ganbench evaluate`` scores."""

    crops: torch.Tensor
    keys: list[str]
    photos: int
    skipped: list[tuple[str, str]]


def prepare_test(splits: DatasetSplits, size: int, cache_dir: Path | None = None, warn=None) -> EvalData:
    """Decode and crop the test split only (evaluation needs no training photos). ``skipped`` holds the
    test photos that could not be used, with reasons."""
    test = prepare(splits.test, _eval_short(splits, size), cache_dir, warn)
    if len(test) == 0:
        raise DataError(f"no usable test images in {splits.description or 'the dataset'}")
    crops, keys = eval_crops(test, size, splits.eval_crops)
    return EvalData(crops, keys, len(test), test.skipped)


def _eval_short(splits: DatasetSplits, size: int) -> int:
    return 2 * size if splits.eval_crops > 1 else size


def default_cache_dir() -> Path:
    """Where decoded images are cached: $GANBENCH_CACHE, else ganbench/ in the user's cache folder."""
    env = os.environ.get("GANBENCH_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ganbench"
