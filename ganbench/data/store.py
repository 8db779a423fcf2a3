"""Training photos larger than memory: decoded once into a file on disk, read per batch.

A store is a folder holding ``pixels.u8`` (every photo's uint8 RGB pixels, resized like the in-memory
pipeline's, one after another), ``index.npy`` (per photo: byte offset, height, width) and ``keys.json``. A
photo is read with one ``pread`` of its bytes — no decoding, no memory map (mapped pages count in a process's
resident memory) — so a run's memory does not grow with the dataset: the photos of the batches being built,
nothing else. Worker processes share the open file (``pread`` takes its own offset).

Stores live in the decode cache (``<cache>/stores/<key>``), keyed like its per-file entries: each photo's
absolute path, size and modification time (or its dataset's ``version``) and the resize setting, hashed
together, so a changed or added file makes a new store and an unchanged dataset reuses it. A store is
written under a temporary name and renamed when complete: an interrupted build leaves nothing that is read.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ganbench.core.contract import ImageItem
from ganbench.data.unusable import UnusableImage

STORE_VERSION = "v1"
#: ``--data-store auto`` keeps the training photos on disk above this many decoded bytes (GiB).
AUTO_DISK_GIB = 4.0
STORE_ENV = "GANBENCH_DATA_STORE"


class DiskImages(Sequence[np.ndarray]):
    """The photos of a store, read from disk on each access (``images[i]``: a fresh uint8 (H, W, 3) array)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._index = np.load(folder / "index.npy", allow_pickle=False)
        self._fd = os.open(folder / "pixels.u8", os.O_RDONLY)

    def __len__(self) -> int:
        return int(self._index.shape[0])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        offset, h, w = (int(v) for v in self._index[i])
        data = os.pread(self._fd, h * w * 3, offset)
        if len(data) != h * w * 3:
            raise OSError(f"{self.folder / 'pixels.u8'} is truncated (photo {i})")
        return np.frombuffer(bytearray(data), dtype=np.uint8).reshape(h, w, 3)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))

    def shape(self, i: int) -> tuple[int, int]:
        """(height, width) of photo ``i``, without reading it."""
        return int(self._index[i, 1]), int(self._index[i, 2])

    @property
    def nbytes(self) -> int:
        return int((self._index[:, 1] * self._index[:, 2]).sum() * 3)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        with contextlib.suppress(OSError):
            self.close()


def item_identity(item: ImageItem, short: int) -> str | None:
    """What the cached pixels of ``item`` at short side ``short`` depend on; None: not cacheable."""
    if item.path is not None:
        try:
            st = item.path.stat()
        except OSError:
            return None
        return f"{item.path.resolve()}|{st.st_size}|{st.st_mtime_ns}|short={short}|v1"
    if item.version is not None:
        return f"{item.key}|{item.version}|short={short}|v1"
    return None


def store_key(items: Sequence[ImageItem], short: int) -> str | None:
    """The store's name: a hash of every photo's identity, in order; None when one has none."""
    h = hashlib.sha256(f"store|{STORE_VERSION}|{short}|{len(items)}".encode())
    for item in items:
        ident = item_identity(item, short)
        if ident is None:
            return None
        h.update(ident.encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


_temporary: list[Path] = []


def _scratch_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="ganbench-store-"))
    _temporary.append(path)
    return path


@atexit.register
def _remove_scratch() -> None:
    for path in _temporary:
        shutil.rmtree(path, ignore_errors=True)


def build_store(
    items: Sequence[ImageItem], short: int, cache_dir: Path | None,
    decode: Callable[[ImageItem], np.ndarray], warn: Callable[[str], None] | None = None,
) -> tuple[list[str], DiskImages, list[tuple[str, str]]]:
    """The store of ``items`` at short side ``short``: reused when ``cache_dir`` already has it, else built by
    ``decode`` (one photo in memory at a time). Returns the usable photos' keys, their pixels and the skipped
    (key, reason); photos ``decode`` rejects raise ``UnusableImage`` and are skipped. Without ``cache_dir``, or
    for photos that cannot be keyed, the store is built in a temporary folder removed at exit."""

    key = store_key(items, short) if cache_dir is not None else None
    final = cache_dir / "stores" / key if key is not None and cache_dir is not None else None
    if final is not None and (final / "index.npy").exists():
        try:
            meta = json.loads((final / "keys.json").read_text())
            return meta["keys"], DiskImages(final), [tuple(s) for s in meta["skipped"]]
        except (OSError, ValueError, KeyError):
            pass  # damaged: rebuilt below
    parent = final.parent if final is not None else _scratch_dir()
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=parent))
    keys: list[str] = []
    skipped: list[tuple[str, str]] = []
    index: list[tuple[int, int, int]] = []
    offset = 0
    try:
        with open(tmp / "pixels.u8", "wb") as fh:
            for item in items:
                try:
                    arr = np.ascontiguousarray(decode(item), dtype=np.uint8)
                except UnusableImage as exc:
                    skipped.append((item.key, str(exc)))
                    if warn:
                        warn(f"skipping {item.key}: {exc}")
                    continue
                fh.write(arr.tobytes())
                index.append((offset, arr.shape[0], arr.shape[1]))
                offset += arr.nbytes
                keys.append(item.key)
        np.save(tmp / "index.npy", np.asarray(index, dtype=np.int64).reshape(-1, 3), allow_pickle=False)
        (tmp / "keys.json").write_text(json.dumps({"keys": keys, "skipped": skipped}))
        target = final if final is not None else parent / "store"
        try:
            tmp.rename(target)
        except OSError:  # another process finished the same store first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return keys, DiskImages(target), skipped


def projected_bytes(n: int, short: int, aspect: float = 4 / 3) -> int:
    """Decoded bytes of ``n`` photos at short side ``short`` (uint8 RGB, ``aspect`` long/short)."""
    return int(n * short * round(short * aspect) * 3)


def use_disk(n: int, short: int, choice: str | None = None) -> bool:
    """Whether training photos go to a disk store: ``choice`` (``--data-store``: memory, disk, auto; default
    ``$GANBENCH_DATA_STORE``, else auto), auto meaning above :data:`AUTO_DISK_GIB` of decoded pixels."""
    from ganbench.core.errors import ConfigError

    choice = (choice or os.environ.get(STORE_ENV) or "auto").strip()
    if choice not in ("auto", "memory", "disk"):
        raise ConfigError(f"--data-store must be memory, disk or auto, not '{choice}'")
    if choice == "auto":
        return projected_bytes(n, short) > AUTO_DISK_GIB * 2**30
    return choice == "disk"
