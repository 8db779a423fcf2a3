"""Datasets people use at scale, each through the dataset hook: WebDataset-style tar shards, Hugging Face
``datasets`` (a tiny local dataset, no network), and ``--file-list`` on any dataset."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ganbench.cli import cli
from ganbench.core.errors import DataError
from ganbench.data.filelist import apply_file_list, read_file_list
from ganbench.data.pipeline import prepare_splits
from ganbench_plugins.datasets import folder
from ganbench_plugins.shards import expand_braces, webdataset


def _png(seed: int, size=(40, 32)) -> bytes:
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 256, (3, 3, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(grid).resize(size, Image.Resampling.BICUBIC).save(buf, format="PNG")
    return buf.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.fixture()
def shards(tmp_path) -> Path:
    """Three shards of 4 photos (with a class file each); shard 1 also holds a corrupt image and a sample
    without one; shard 3 is a text file named .tar."""
    root = tmp_path / "shards"
    root.mkdir()
    n = 0
    for s in range(3):
        with tarfile.open(root / f"train-{s:04d}.tar", "w") as tar:
            for _ in range(4):
                _add(tar, f"{n:06d}.png", _png(n))
                _add(tar, f"{n:06d}.cls", str(n % 3).encode())
                n += 1
            if s == 1:
                _add(tar, "broken.jpg", b"\xff\xd8\xff\xe0 cut")
                _add(tar, "labelonly.cls", b"2")
    (root / "train-0003.tar").write_text("not a tar")
    return root


def test_brace_patterns():
    assert expand_braces("a-{0000..0002}.tar") == ["a-0000.tar", "a-0001.tar", "a-0002.tar"]
    assert expand_braces("{x,y}-{1..2}") == ["x-1", "x-2", "y-1", "y-2"]
    assert expand_braces("plain.tar") == ["plain.tar"]


def test_shards_list_samples_and_skip_bad_ones_with_reasons(shards):
    splits = webdataset(data_root=str(shards / "train-{0000..0003}.tar"))
    keys = [it.key for it in [*splits.train, *splits.val, *splits.test]]
    assert len(keys) == 13 and len(set(keys)) == 13  # 12 photos + the corrupt one, each once
    reasons = dict(splits.skipped)
    assert "no image" in reasons["train-0001.tar/labelonly"]
    assert "not a readable uncompressed tar" in reasons[str(shards / "train-0003.tar")]
    data = prepare_splits(splits, 16)
    assert any(k.endswith("broken") and "corrupt" in r for k, r in data.skipped)
    assert len(data.train) + data.val.shape[0] + data.test.shape[0] == 12
    first = next(it for it in splits.train if it.key == "train-0000.tar/000000")
    assert np.array_equal(first.load(), np.asarray(Image.open(io.BytesIO(_png(0))).convert("RGB")))
    with pytest.raises(DataError, match="1 shard"):
        webdataset(data_root=str(shards / "train-{0000..0004}.tar"))


def test_a_shard_dataset_trains_end_to_end(shards, tmp_path):
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--budget", "smoke", "--dataset", "webdataset",
                                   "--data-root", str(shards / "train-{0000..0002}.tar"), "--results",
                                   str(tmp_path / "r"), "-q"])
    assert out.exit_code == 0, out.output
    [run] = list((tmp_path / "r" / "runs").iterdir())
    rec = json.loads((run / "run.json").read_text())
    assert rec["status"] == "complete" and rec["data"]["train_images"] >= 6
    assert any("broken" in s["file"] for s in rec["data"]["skipped"])
    metrics = json.loads((run / "metrics.json").read_text())
    assert np.isfinite(metrics["model"]["psnr"])


def test_file_list_keeps_the_listed_photos_on_any_dataset(shards, tmp_path):
    listing = tmp_path / "split.txt"
    listing.write_text("# a published split\n./000001.png 0\n000005\ntrain-0002.tar/000009 2\nmissing.png\n\n")
    assert read_file_list(listing) == ["000001.png", "000005", "train-0002.tar/000009", "missing.png"]
    splits = apply_file_list(webdataset(data_root=str(shards / "train-*.tar"), evaluate_all=True), listing)
    assert sorted(it.key for it in splits.test) == ["train-0001.tar/000005", "train-0002.tar/000009"]
    assert ("missing.png", "listed in split.txt but not in the dataset") in splits.skipped
    assert ("000001.png", "listed in split.txt but not in the dataset") in splits.skipped  # keys have no .png
    listing.write_text("nothing-here.jpg\n")
    with pytest.raises(DataError, match="none of its 1 names"):
        apply_file_list(splits, listing)


def test_file_list_on_a_folder_through_the_cli(tmp_path, photos):
    root = tmp_path / "val"
    for i, (name, arr) in enumerate(photos.items()):
        (root / f"c{i}").mkdir(parents=True)
        Image.fromarray(arr[::4, ::4]).save(root / f"c{i}" / f"{name}.jpg")
    listing = tmp_path / "ctest.txt"
    listing.write_text("c0/astronaut.jpg\nchelsea.jpg\n")
    splits = apply_file_list(folder(data_root=root, evaluate_all=True), listing)
    assert sorted(it.key for it in splits.test) == ["c0/astronaut.jpg", "c2/chelsea.jpg"]
    out = CliRunner().invoke(cli, ["data", "info", "--dataset", "folder", "--data-root", str(root), "--file-list",
                                   str(listing), "--json"])
    assert out.exit_code == 0, out.output
    info = json.loads(out.output)
    assert info["counts"]["usable"] == 2 and "file list ctest.txt: 2 of 2" in info["description"]


datasets = pytest.importorskip("datasets", reason="the [hf] extra (Hugging Face datasets) is not installed")


def _hf_imagefolder(root: Path) -> Path:
    for split, seeds in (("train", range(8)), ("test", range(100, 103))):
        (root / split).mkdir(parents=True)
        for s in seeds:
            (root / split / f"{s:03d}.png").write_bytes(_png(s))
    (root / "train" / "bad.png").write_bytes(b"\x89PNG broken")
    return root


def test_a_local_hugging_face_dataset_trains_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    from ganbench_plugins.hub import huggingface

    root = _hf_imagefolder(tmp_path / "hfdata")
    splits = huggingface(data_root=str(root))
    assert len(splits.test) == 3 and len(splits.train) + len(splits.val) == 9
    data = prepare_splits(splits, 16)
    assert len(data.skipped) == 1 and "not an image" in data.skipped[0][1]
    saved = tmp_path / "saved"
    datasets.load_dataset("imagefolder", data_dir=str(root)).save_to_disk(str(saved))
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--budget", "smoke", "--dataset", "huggingface",
                                   "--data-root", str(saved), "--results", str(tmp_path / "r"), "-q"])
    assert out.exit_code == 0, out.output
    [run] = list((tmp_path / "r" / "runs").iterdir())
    rec = json.loads((run / "run.json").read_text())
    assert rec["status"] == "complete" and rec["data"]["test_crops"] == 3
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--dataset", "huggingface", "--data-root",
                                   "nobody/no-such-dataset", "--results", str(tmp_path / "r2"), "-q"])
    assert out.exit_code == 3 and "cannot load nobody/no-such-dataset" in out.output
