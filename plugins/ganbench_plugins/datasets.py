"""Datasets: the embedded photos (the default), any folder of photos, and Places365 as distributed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganbench.api import (
    DataError,
    DatasetSplits,
    ImageItem,
    UnusableImage,
    file_item,
    hookimpl,
    is_gray,
    key_bucket,
    list_images,
)

# --- embedded -----------------------------------------------------------------------------------------
# Natural colour photos shipped inside scikit-image and scikit-learn wheels (no download). Split by photo:
# the two stereo motorcycle views are near-duplicates, so both stay in training.
EMBEDDED_SPLIT = {
    "train": ["astronaut", "rocket", "motorcycle_left", "motorcycle_right", "china"],
    "val": ["coffee"],
    "test": ["chelsea", "flower"],
}


def _embedded_loader(name: str):
    def load() -> np.ndarray:
        import skimage.data

        if name.startswith("motorcycle_"):
            left, right, _ = skimage.data.stereo_motorcycle()
            arr = left if name.endswith("left") else right
        elif name in ("china", "flower"):
            from sklearn.datasets import load_sample_image

            arr = load_sample_image(f"{name}.jpg")
        else:
            arr = getattr(skimage.data, name)()
        arr = np.ascontiguousarray(arr[..., :3]).astype(np.uint8)
        if is_gray(arr):
            raise UnusableImage("grayscale")
        return arr

    return load


def embedded() -> DatasetSplits:
    items = {
        split: [ImageItem(key=f"embedded:{n}", load=_embedded_loader(n)) for n in names]
        for split, names in EMBEDDED_SPLIT.items()
    }
    return DatasetSplits(
        items["train"], items["val"], items["test"],
        description="embedded photos (scikit-image + scikit-learn): 5 train, 1 val, 2 test photos",
        eval_crops=5,
    )


# --- folder -------------------------------------------------------------------------------------------



def _check_root(root, what: str) -> Path:
    if root is None:
        raise DataError(f"{what} needs --data-root DIR")
    path = Path(root).expanduser()
    if not path.exists():
        raise DataError(f"{what}: data root {path} does not exist")
    if not path.is_dir():
        raise DataError(f"{what}: data root {path} is not a folder")
    return path


def _listing(root: Path, what: str) -> tuple[list[Path], list[tuple[str, str]]]:
    files, skipped = list_images(root)
    if not files:
        raise DataError(f"{what}: no image files (jpg, png, webp, bmp, tif) under {root}")
    return files, skipped


def _file_items(paths: list[Path], base: Path, max_side: int) -> list[ImageItem]:
    """Items keyed by their path relative to ``base``."""
    return [file_item(p, key=p.relative_to(base).as_posix(), max_side=max_side) for p in paths]


def _split_by_hash(paths: list[Path], root: Path, fraction: float) -> tuple[list[Path], list[Path]]:
    """Deterministic by-file split: the ``fraction`` of files with the lowest hash of their relative path
    (at least one when there are two or more files)."""
    if len(paths) < 2:
        return list(paths), []
    ranked = sorted(paths, key=lambda p: key_bucket(p.relative_to(root).as_posix()))
    k = max(1, round(fraction * len(paths)))
    held = set(ranked[:k])
    return [p for p in paths if p not in held], [p for p in paths if p in held]


def folder(
    data_root=None, test_root=None, limit: int | None = None, val_fraction: float = 0.1,
    test_fraction: float = 0.15, max_side: int = 1024, evaluate_all: bool = False,
) -> DatasetSplits:
    """Every image under ``data_root`` (recursively, stable order). Evaluation on ``test_root`` when
    given, else on a deterministic by-file split; validation is another by-file split of the rest.
    ``evaluate_all`` (what ``ganbench evaluate`` asks for): every image under ``test_root``, else under
    ``data_root``, is a test photo; nothing is split off, nothing trains."""
    if evaluate_all:
        return _whole_folder_as_test(test_root if test_root is not None else data_root, max_side)
    root = _check_root(data_root, "--dataset folder")
    files, skipped = _listing(root, "--dataset folder")
    if test_root is not None:
        troot = _check_root(test_root, "--test-root")
        test_files, tskipped = _listing(troot, "--test-root")
        skipped += tskipped
        rest = files
    else:
        troot = root
        rest, test_files = _split_by_hash(files, root, test_fraction)
        if not test_files:
            raise DataError(f"--dataset folder: {root} has one image; need two or more, or --test-root")
    train_files, val_files = _split_by_hash(rest, root, val_fraction)
    if not val_files:  # a single training photo: validate on the test split's first photo
        val_files = test_files[:1]
    if limit is not None:
        train_files = train_files[:limit]

    return DatasetSplits(
        train=_file_items(train_files, root, max_side), val=_file_items(val_files, root, max_side),
        test=_file_items(test_files, troot, max_side),
        description=f"folder {root}" + (f" (test: {troot})" if test_root else ""),
        skipped=skipped,
    )


def _whole_folder_as_test(root, max_side: int) -> DatasetSplits:
    if root is None:
        raise DataError("--dataset folder needs --data-root DIR or --test-root DIR (the photos to score)")
    root = _check_root(root, "--dataset folder")
    files, skipped = _listing(root, "--dataset folder")
    return DatasetSplits(
        train=[], val=[], test=_file_items(files, root, max_side),
        description=f"folder {root} (every photo)", skipped=skipped,
    )


# --- Places365 ----------------------------------------------------------------------------------------
_PLACES_LAYOUT = {
    # variant: (train list, train folder, val list, val folder)
    "small": ("places365_train_standard.txt", "data_256_standard", "places365_val.txt", "val_256"),
    "large": ("places365_train_standard.txt", "data_large_standard", "places365_val.txt", "val_large"),
}
_PLACES_CHALLENGE = {"small": "data_256", "large": "data_large"}


def _read_list(path: Path) -> list[str]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        name = line.split()[0]
        if not name:
            raise DataError(f"{path}:{n}: malformed line {line!r}")
        out.append(name.lstrip("/"))
    return out


def _spread(paths: list[Path], root: Path, limit: int) -> list[Path]:
    """``limit`` of ``paths`` spread evenly over their folders (the Places365 categories): round-robin over
    the categories, each in hash order, so every category is represented once ``limit`` reaches their number
    and no two differ by more than one image (or by what a small category lacks). Deterministic (hashes of
    the paths relative to ``root``, wherever the data lie) and returned in list order."""
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(paths):
        groups.setdefault(p.parent.relative_to(root).as_posix(), []).append(i)
    queues = [sorted(idx, key=lambda i: key_bucket(paths[i].relative_to(root).as_posix()))
              for _, idx in sorted(groups.items(), key=lambda kv: key_bucket(kv[0]))]
    picked: list[int] = []
    for rank in range(max(map(len, queues), default=0)):
        picked += [q[rank] for q in queues if rank < len(q)][: limit - len(picked)]
        if len(picked) >= limit:
            break
    return [paths[i] for i in sorted(picked)]


def places365(
    data_root=None, split: str = "train-standard", variant: str = "small", limit: int | None = None,
    val_limit: int | None = 500, test_limit: int | None = 2000, max_side: int = 1024,
) -> DatasetSplits:
    """Places365 in the official layout (torchvision's ``Places365``): file lists at the root, images
    under ``data_256_standard/`` (train) and ``val_256/`` (val), or the ``large`` variants. Trains on the
    train list, evaluates on the val list: the first ``val_limit`` val images validate, the next
    ``test_limit`` test (deterministic). Never downloads: get the archives from the Places365 site."""
    what = "--dataset places365"
    if variant not in _PLACES_LAYOUT:
        raise DataError(f"{what}: --variant must be small or large, not '{variant}'")
    if split not in ("train-standard", "train-challenge", "val"):
        raise DataError(f"{what}: --split must be train-standard, train-challenge or val, not '{split}'")
    hint = " (Places365 is not downloaded by ganbench: fetch and unpack it from the official site)"
    if data_root is None:
        raise DataError(f"{what} needs --data-root ROOT{hint}")
    root = Path(data_root).expanduser()
    if not root.is_dir():
        raise DataError(f"{what}: data root {root} does not exist{hint}")
    train_list, train_dir, val_list, val_dir = _PLACES_LAYOUT[variant]
    if split == "train-challenge":
        train_list, train_dir = "places365_train_challenge.txt", _PLACES_CHALLENGE[variant]
    needed = [root / train_list, root / val_list] if split != "val" else [root / val_list]
    for path in needed:
        if not path.is_file():
            raise DataError(f"{what}: expected the list file {path}{hint}")
    for folder_name in ([train_dir] if split != "val" else []) + [val_dir]:
        if not (root / folder_name).is_dir():
            raise DataError(f"{what}: expected the image folder {root / folder_name}{hint}")
    val_names = _read_list(root / val_list)
    if split == "val":
        # train and evaluate within the val list: a deterministic by-file split of it
        val_paths = [root / val_dir / n for n in val_names]
        ranked = sorted(val_paths, key=lambda p: key_bucket(p.name))
        n_eval = max(2, len(ranked) // 5)
        held = set(ranked[:n_eval])
        train_paths = [p for p in val_paths if p not in held]
        eval_paths = [p for p in val_paths if p in held]
    else:
        train_paths = [root / train_dir / n for n in _read_list(root / train_list)]
        eval_paths = [root / val_dir / n for n in val_names]
    if limit is not None:
        train_paths = _spread(train_paths, root, limit)
    n_val = min(val_limit or 0, len(eval_paths) // 2)
    val_paths = eval_paths[:n_val]
    test_paths = eval_paths[n_val : n_val + test_limit] if test_limit else eval_paths[n_val:]

    def items(paths):
        return [file_item(p, key=p.relative_to(root).as_posix(), max_side=max_side) for p in paths]

    return DatasetSplits(
        train=items(train_paths), val=items(val_paths), test=items(test_paths),
        description=f"Places365 ({variant}, {split}) at {root}: {len(train_paths)} train, "
        f"{len(val_paths)} val, {len(test_paths)} test",
    )


@hookimpl
def register_datasets(register):
    register("embedded", embedded, description="photos shipped in scikit-image and scikit-learn (default)")
    register("folder", folder, description="any folder of photos: --data-root DIR [--test-root DIR]",
             accepts=("evaluate_all",))
    register("places365", places365, description="Places365, official layout: --data-root ROOT")
