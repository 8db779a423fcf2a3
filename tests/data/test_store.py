"""Training photos on disk (ganbench/data/store.py): the same batches as in memory, built once and reused,
rebuilt when a photo changes, bad files skipped and counted, and the choice between memory and disk."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from ganbench.core.contract import ImageItem
from ganbench.core.errors import ConfigError
from ganbench.data.loader import ParallelBatches
from ganbench.data.pipeline import TrainSampler, file_item, prepare, prepare_on_disk, prepare_splits
from ganbench.data.store import DiskImages, projected_bytes, use_disk
from ganbench_plugins.datasets import folder


@pytest.fixture()
def photo_dir(tmp_path, photos):
    root = tmp_path / "photos"
    root.mkdir()
    for i, (name, arr) in enumerate(photos.items()):
        Image.fromarray(arr[:: 3 + i, :: 3 + i]).save(root / f"{name}.png")  # small, of different shapes
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    return root


def test_disk_store_gives_the_in_memory_batches_and_skips_bad_files(photo_dir, tmp_path):
    items = [file_item(p) for p in sorted(photo_dir.iterdir())]
    memory = prepare(items, 40)
    disk = prepare_on_disk(items, 40, tmp_path / "cache")
    assert isinstance(disk.images, DiskImages)
    assert disk.keys == memory.keys and len(disk) == 4
    names = [k.split("/")[-1] for k, _ in disk.skipped]
    assert names == ["broken.jpg"] == [k.split("/")[-1] for k, _ in memory.skipped]
    for a, b in zip(memory.images, disk.images, strict=True):
        assert np.array_equal(a, b)
    ref = TrainSampler(memory, 24, 6, seed=4)
    on_disk = TrainSampler(disk, 24, 6, seed=4)
    parallel = ParallelBatches(TrainSampler(disk, 24, 6, seed=4), workers=2)
    try:
        for k in range(4):
            expected = ref.batch(k)
            assert torch.equal(on_disk.batch(k), expected)
            assert torch.equal(parallel(k), expected)  # workers read the shared store file
    finally:
        parallel.close()


def test_the_store_is_built_once_and_rebuilt_when_a_photo_changes(photo_dir, tmp_path):
    loads = []

    def counted(path):
        item = file_item(path)
        return ImageItem(item.key, lambda: (loads.append(path), item.load())[1], path)

    paths = sorted(p for p in photo_dir.iterdir() if p.suffix == ".png")
    cache = tmp_path / "cache"
    first = prepare_on_disk([counted(p) for p in paths], 40, cache)
    assert len(loads) == len(paths)
    again = prepare_on_disk([counted(p) for p in paths], 40, cache)
    assert len(loads) == len(paths)  # reused: nothing decoded
    assert again.keys == first.keys
    Image.fromarray(np.full((50, 60, 3), (200, 30, 30), np.uint8)).save(paths[0])
    os.utime(paths[0], ns=(1, 1))  # a new size and mtime
    changed = prepare_on_disk([counted(p) for p in paths], 40, cache)
    assert len(loads) == 2 * len(paths)
    assert np.array_equal(changed.images[0][0, 0], [200, 30, 30])
    assert len(list((cache / "stores").iterdir())) == 2
    assert not any(p.name.startswith(".building") for p in (cache / "stores").iterdir())


def test_without_a_cache_the_store_is_temporary(photo_dir):
    items = [file_item(p) for p in sorted(photo_dir.iterdir())]
    disk = prepare_on_disk(items, 32, None)
    assert len(disk) == 4 and disk.images.folder.name == "store"


def test_memory_or_disk(monkeypatch, photo_dir, tmp_path):
    assert projected_bytes(5000, 128) == 5000 * 128 * 171 * 3
    assert not use_disk(5000, 128)  # the seed study at 64²: 330 MB in memory
    assert use_disk(5000, 512)  # at 256²: 5.2 GB decoded, on disk
    assert use_disk(1_800_000, 512)  # Places365-standard
    assert use_disk(10, 64, "disk") and not use_disk(10**7, 512, "memory")
    with pytest.raises(ConfigError, match="--data-store"):
        use_disk(10, 64, "ssd")
    monkeypatch.setenv("GANBENCH_DATA_STORE", "disk")
    data = prepare_splits(folder(data_root=photo_dir), 16, cache_dir=tmp_path / "cache")
    assert isinstance(data.train.images, DiskImages)
