"""WebDataset-style tar shards (``--dataset webdataset --data-root 'shards-{0000..0099}.tar'``), read with the
standard library's ``tarfile``: no ``webdataset`` package.

A shard is an uncompressed tar; a sample is the files sharing a key (the member's path up to the first dot of
its name: ``0001/abc.jpg`` and ``0001/abc.cls`` are sample ``0001/abc``), and its image is its member with an
image extension. Each shard is listed once (its member headers); a photo is read by seeking to its bytes in
the shard, so no shard is unpacked. Samples without an image, shards that are not tars and shards cut short
are skipped with a reason and counted (what ``folder`` does with bad files); a corrupt image is skipped when
decoded, like any other.
"""

from __future__ import annotations

import glob
import re
import tarfile
from pathlib import Path

from ganbench.api import IMAGE_EXTENSIONS, DataError, DatasetSplits, ImageItem, decode_image, hold_out, hookimpl

_BRACES = re.compile(r"\{([^{}]*)\}")


def expand_braces(pattern: str) -> list[str]:
    """``a-{0000..0002}.tar`` -> a-0000.tar, a-0001.tar, a-0002.tar (zero padding kept); ``{x,y}`` -> x, y;
    several groups multiply, in order."""
    m = _BRACES.search(pattern)
    if m is None:
        return [pattern]
    body = m.group(1)
    rng = re.fullmatch(r"(\d+)\.\.(\d+)", body)
    if rng:
        lo, hi = int(rng.group(1)), int(rng.group(2))
        width = len(rng.group(1)) if rng.group(1).startswith("0") else 0
        parts = [str(i).zfill(width) for i in range(lo, hi + 1)]
        if not parts:
            raise DataError(f"--dataset webdataset: empty range {{{body}}} in {pattern}")
    else:
        parts = body.split(",")
    head, tail = pattern[: m.start()], pattern[m.end() :]
    return [out for part in parts for out in expand_braces(head + part + tail)]


def shard_paths(pattern: str) -> list[Path]:
    """The shards a ``--data-root`` names: brace ranges and lists, then shell globs; a missing shard is an
    error (a mistyped range must not silently train on less)."""
    paths: list[Path] = []
    missing: list[str] = []
    for name in expand_braces(str(Path(pattern).expanduser())):
        if any(ch in name for ch in "*?["):
            found = sorted(glob.glob(name))
            missing += [] if found else [name]
            paths += [Path(f) for f in found]
        elif Path(name).is_file():
            paths.append(Path(name))
        else:
            missing.append(name)
    if missing:
        raise DataError(f"--dataset webdataset: {len(missing)} shard(s) not found, first {missing[0]}")
    if not paths:
        raise DataError(f"--dataset webdataset: no shards match {pattern}")
    return paths


def _sample_key(member: str) -> tuple[str, str]:
    """WebDataset's convention: (key, extension) = the path up to the first dot of the file name, the rest."""
    folder, _, name = member.rpartition("/")
    stem, dot, ext = name.partition(".")
    return (f"{folder}/{stem}" if folder else stem), (ext.lower() if dot else "")


def _reader(shard: Path, offset: int, size: int):
    def load():
        with open(shard, "rb") as fh:
            fh.seek(offset)
            return decode_image(fh.read(size))

    return load


def list_shard(shard: Path, base: str) -> tuple[list[ImageItem], list[tuple[str, str]]]:
    """One item per sample with an image (keyed ``base/sample key``), and the skipped (key, reason)."""
    st = shard.stat()
    version = f"{shard.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    samples: dict[str, dict[str, tarfile.TarInfo]] = {}
    skipped: list[tuple[str, str]] = []
    try:
        with tarfile.open(shard, "r:") as tar:
            try:
                for info in tar:
                    if info.isfile():
                        key, ext = _sample_key(info.name)
                        samples.setdefault(key, {})[ext] = info
            except (tarfile.ReadError, EOFError, OSError) as exc:
                skipped.append((str(shard), f"shard cut short after {len(samples)} samples ({exc})"))
    except (tarfile.ReadError, tarfile.CompressionError, OSError) as exc:
        hint = " (compressed shards: use uncompressed .tar)" if shard.suffix in (".gz", ".tgz", ".bz2", ".xz") else ""
        return [], [(str(shard), f"not a readable uncompressed tar ({exc}){hint}")]
    items = []
    for key, members in samples.items():
        # the photo: a plain image extension (jpg, png, ...) before a compound one (seg.png: a label map)
        image = next((members[e] for e in sorted(members, key=lambda e: "." in e)
                      if f".{e.rsplit('.', 1)[-1]}" in IMAGE_EXTENSIONS), None)
        if image is None:
            skipped.append((f"{base}/{key}", "no image in the sample (" + ", ".join(sorted(members)) + ")"))
            continue
        items.append(ImageItem(key=f"{base}/{key}", load=_reader(shard, image.offset_data, image.size),
                               version=version))
    return items, skipped




def _list(pattern: str) -> tuple[list[ImageItem], list[tuple[str, str]]]:
    items, skipped = [], []
    for shard in shard_paths(pattern):
        got, bad = list_shard(shard, shard.name)
        items += got
        skipped += bad
    return items, skipped


def webdataset(
    data_root=None, test_root=None, limit: int | None = None, val_fraction: float = 0.1,
    test_fraction: float = 0.15, evaluate_all: bool = False,
) -> DatasetSplits:
    """Photos in WebDataset-style tar shards: ``data_root`` a shard, a brace pattern (``x-{0000..0099}.tar``,
    ``{a,b}``) or a glob. Splits like ``folder``: a deterministic 15% test (or the shards of ``test_root``),
    10% of the rest validation; ``evaluate_all``: every sample is a test photo."""
    what = "--dataset webdataset"
    if evaluate_all:
        pattern = test_root if test_root is not None else data_root
        if pattern is None:
            raise DataError(f"{what} needs --data-root or --test-root SHARDS (the photos to score)")
        items, skipped = _list(str(pattern))
        return DatasetSplits(train=[], val=[], test=items, description=f"webdataset {pattern} (every photo)",
                             skipped=skipped)
    if data_root is None:
        raise DataError(f"{what} needs --data-root 'SHARDS' (e.g. 'shards-{{0000..0099}}.tar')")
    items, skipped = _list(str(data_root))
    if test_root is not None:
        test, tskipped = _list(str(test_root))
        skipped += tskipped
        rest = items
    else:
        rest, test = hold_out(items, test_fraction)
    if not test:
        raise DataError(f"{what}: {data_root} holds {len(items)} usable sample(s); need two or more, or --test-root")
    train, val = hold_out(rest, val_fraction)
    if not val:
        val = test[:1]
    if limit is not None:
        train = train[:limit]
    return DatasetSplits(train=train, val=val, test=test,
                         description=f"webdataset {data_root}" + (f" (test: {test_root})" if test_root else ""),
                         skipped=skipped)


@hookimpl
def register_datasets(register):
    register("webdataset", webdataset,
             description="WebDataset-style tar shards: --data-root 'shards-{0000..0099}.tar' [--test-root SHARDS]")
