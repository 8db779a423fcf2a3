"""``--file-list FILE`` on any dataset: only the photos a published split names (ImageNet ctest10k, COCO-Stuff
val, Places365 val, ...), applied by the core to what the dataset plugin returns, so every dataset — a third
party's included — gets it without knowing of it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ganbench.core.contract import DatasetSplits, ImageItem
from ganbench.core.errors import DataError
from ganbench.core.registry import Registry


def read_file_list(path: Path) -> list[str]:
    """The names in a list file: the first whitespace-separated field of each line (``name.jpg 17`` -> the
    name), blank lines and ``#`` comments ignored, leading ``/`` and ``./`` dropped."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"--file-list {path}: cannot read it ({exc})") from None
    names = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name = line.split()[0].replace("\\", "/")
        while name.startswith(("./", "/")):
            name = name[2:] if name.startswith("./") else name[1:]
        names.append(name)
    if not names:
        raise DataError(f"--file-list {path}: names no file")
    return names


def _suffixes(key: str) -> list[str]:
    parts = key.replace("\\", "/").split("/")
    return ["/".join(parts[i:]) for i in range(len(parts))]


def apply_file_list(splits: DatasetSplits, path: Path) -> DatasetSplits:
    """``splits`` with only the photos named in the list at ``path``. A name matches a photo whose key is it
    or ends with ``/`` + it (``n01440764/x.JPEG`` and ``x.JPEG`` both match ``val/n01440764/x.JPEG``). Names
    that match no photo are counted among the skipped; none matching is an error."""
    names = read_file_list(path)
    wanted = set(names)
    found: set[str] = set()

    def keep(items) -> list[ImageItem]:
        out = []
        for item in items:
            hit = next((s for s in _suffixes(item.key) if s in wanted), None)
            if hit is not None:
                found.add(hit)
                out.append(item)
        return out

    train, val, test = keep(splits.train), keep(splits.val), keep(splits.test)
    if not (train or val or test):
        raise DataError(f"--file-list {path}: none of its {len(names)} names is a photo of the dataset "
                        f"(first: {names[0]}; dataset keys look like "
                        f"{next((it.key for it in [*splits.train, *splits.val, *splits.test]), 'nothing')})")
    missing = [n for n in dict.fromkeys(names) if n not in found]
    skipped = list(splits.skipped) + [(n, f"listed in {Path(path).name} but not in the dataset") for n in missing]
    return replace(splits, train=train, val=val, test=test, skipped=skipped,
                   description=f"{splits.description} (file list {Path(path).name}: {len(names) - len(missing)} "
                               f"of {len(names)} listed photos)")


def open_dataset(registry: Registry, name: str, options: dict[str, Any]) -> DatasetSplits:
    """The dataset plugin's splits for ``options``, with ``file_list`` (an option of every dataset, handled here)
    applied to them."""
    options = dict(options)
    file_list = options.pop("file_list", None)
    splits = registry.create("dataset", name, **options)
    return apply_file_list(splits, Path(file_list)) if file_list else splits
