"""Datasets as people have them: messy folders, Places365's official layout, the decode cache."""

import io
import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganbench.cli import cli
from ganbench.core.errors import DataError
from ganbench.data.pipeline import TrainSampler, UnusableImage, decode_image, prepare, prepare_splits
from ganbench_plugins.datasets import embedded, folder, places365


def _save(img: Image.Image, path, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kw)
    return path


@pytest.fixture(scope="module")
def messy(tmp_path_factory, photos):
    """A folder with every kind of real-world file the issue lists."""
    root = tmp_path_factory.mktemp("messy")
    astro = Image.fromarray(photos["astronaut"])
    coffee = Image.fromarray(photos["coffee"])
    _save(astro, root / "good" / "astronaut.jpg", quality=90)
    _save(coffee, root / "good" / "coffee.png")
    _save(Image.fromarray(photos["chelsea"]), root / "good" / "chelsea.webp")
    _save(Image.fromarray(photos["flower"]), root / "good" / "flower.bmp")
    _save(coffee.resize((300, 200)), root / "good" / "coffee_small.tiff")
    full = io.BytesIO()
    astro.save(full, format="JPEG")
    (root / "bad" / "truncated.jpg").parent.mkdir(parents=True)
    (root / "bad" / "truncated.jpg").write_bytes(full.getvalue()[: len(full.getvalue()) // 3])
    (root / "bad" / "empty.jpg").write_bytes(b"")
    (root / "bad" / "notes.jpg").write_text("this is a text file with a .jpg name\n")
    _save(astro.convert("L"), root / "bad" / "grayscale.jpg")
    _save(astro.convert("RGB").convert("L").convert("RGB"), root / "bad" / "gray_as_rgb.png")
    _save(astro.convert("CMYK"), root / "odd" / "cmyk.jpg")
    _save(coffee.convert("P", palette=Image.Palette.ADAPTIVE), root / "odd" / "palette.png")
    rgba = coffee.convert("RGBA")
    alpha = np.zeros(rgba.size[::-1], np.uint8)
    alpha[:, : rgba.size[0] // 2] = 255  # right half fully transparent
    rgba.putalpha(Image.fromarray(alpha))
    _save(rgba, root / "odd" / "rgba.png")
    arr16 = (np.asarray(coffee, dtype=np.uint16) * 257)
    _save(Image.fromarray(arr16[..., 0]), root / "odd" / "gray16.png")  # 16-bit grayscale: skipped
    rot = astro.crop((0, 0, 512, 256))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    _save(rot, root / "odd" / "exif_rotated.jpg", exif=exif)
    _save(coffee.resize((40, 30)), root / "odd" / "tiny.png")
    big = Image.fromarray(np.tile(photos["flower"], (8, 8, 1)))  # 3416 x 5120
    _save(big, root / "odd" / "large.jpg", quality=85)
    (root / "readme.txt").write_text("not an image")
    return root


def test_decode_real_world_files(messy):
    cmyk = decode_image(messy / "odd" / "cmyk.jpg")
    assert cmyk.shape == (512, 512, 3) and cmyk.dtype == np.uint8
    assert decode_image(messy / "odd" / "palette.png").shape == (400, 600, 3)
    rgba = decode_image(messy / "odd" / "rgba.png")
    assert (rgba[:, -50:] == 255).all()  # transparent half composited on white
    rot = decode_image(messy / "odd" / "exif_rotated.jpg")
    assert rot.shape[:2] == (512, 256)  # orientation applied: portrait
    large = decode_image(messy / "odd" / "large.jpg", max_side=256)
    assert min(large.shape[:2]) < 3416 and min(large.shape[:2]) >= 256  # drafted, not decoded at 17 MP
    for name, reason in [("bad/truncated.jpg", "truncated"), ("bad/empty.jpg", "empty"),
                         ("bad/notes.jpg", "not an image"), ("bad/grayscale.jpg", "grayscale"),
                         ("bad/gray_as_rgb.png", "grayscale"), ("odd/gray16.png", "grayscale")]:
        with pytest.raises(UnusableImage, match=reason):
            decode_image(messy / name)


def test_folder_dataset_skips_bad_files_with_reasons_and_trains(messy, tmp_path):
    splits = folder(data_root=messy)
    data = prepare_splits(splits, 32)
    reasons = {k.split("/")[-1]: r for k, r in data.skipped}
    assert {"truncated.jpg", "empty.jpg", "notes.jpg", "grayscale.jpg", "gray_as_rgb.png", "gray16.png"} <= set(reasons)
    assert reasons["readme.txt"] == "not an image extension"
    assert len(data.train) + data.val.shape[0] + data.test.shape[0] >= 8
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--budget", "smoke", "--dataset", "folder",
                                   "--data-root", str(messy), "--results", str(tmp_path), "-q"])
    assert out.exit_code == 0, out.output
    assert "skipping" in out.output
    [run] = list((tmp_path / "runs").iterdir())
    rec = json.loads((run / "run.json").read_text())
    skipped = {s["file"].split("/")[-1] for s in rec["data"]["skipped"]}
    assert "truncated.jpg" in skipped and rec["data"]["train_images"] >= 5


def test_folder_split_is_deterministic_and_by_file(messy, tmp_path, photos):
    a, b = folder(data_root=messy), folder(data_root=messy)
    assert [i.key for i in a.test] == [i.key for i in b.test]
    train, test = {i.key for i in a.train}, {i.key for i in a.test}
    assert train and test and not train & test and not {i.key for i in a.val} & test
    other = tmp_path / "other"
    _save(Image.fromarray(photos["chelsea"]), other / "c.jpg")
    with_test = folder(data_root=messy, test_root=other)
    assert [i.key for i in with_test.test] == ["c.jpg"]


def test_small_images_are_upscaled(messy):
    data = prepare([i for i in folder(data_root=messy).train + folder(data_root=messy).test
                    if i.key.endswith("tiny.png")], 64)
    assert len(data) == 1 and min(data.images[0].shape[:2]) == 64


def test_decode_cache_is_used_and_keyed_by_settings(messy, tmp_path):
    items = [i for i in folder(data_root=messy).train if i.key.startswith("good/")]
    cache = tmp_path / "cache"
    first = prepare(items, 48, cache)
    files = sorted(cache.glob("*.npy"))
    assert len(files) == len(items)
    second = prepare(items, 48, cache)
    assert all(np.array_equal(x, y) for x, y in zip(first.images, second.images, strict=True))
    prepare(items, 40, cache)  # other settings: other entries
    assert len(list(cache.glob("*.npy"))) == 2 * len(items)


def test_train_sampler_is_a_pure_function_of_seed_and_index():
    from ganbench.data.synthetic import synthetic_data

    data = synthetic_data(32)
    a = TrainSampler(data.train, 32, 4, seed=1)
    b = TrainSampler(data.train, 32, 4, seed=1)
    assert torch.equal(a.batch(7), b.batch(7)) and torch.equal(a.batch(3), b.batch(3))
    assert not torch.equal(a.batch(7), TrainSampler(data.train, 32, 4, seed=2).batch(7))
    assert a.batch(0).shape == (4, 3, 32, 32) and a.batch(0).min() >= 0 and a.batch(0).max() <= 1


def test_embedded_split_is_by_photo():
    s = embedded()
    train, val, test = ({i.key for i in part} for part in (s.train, s.val, s.test))
    assert not train & test and not val & test and not train & val
    assert len(test) >= 2


# --- Places365 -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def places(tmp_path_factory, photos):
    """A small tree shaped exactly like the official Places365 (small, standard) release."""
    root = tmp_path_factory.mktemp("places365")
    cats = ["/a/abbey", "/a/airfield", "/b/bakery/shop"]
    (root / "categories_places365.txt").write_text("".join(f"{c} {i}\n" for i, c in enumerate(cats)))
    imgs = [photos[n] for n in ("astronaut", "coffee", "chelsea", "flower")]
    train_lines = []
    for ci, cat in enumerate(cats):
        for j in range(3):
            rel = f"{cat}/{j:08d}.jpg"
            arr = np.roll(imgs[(ci + j) % 4], 17 * j, axis=1)
            _save(Image.fromarray(arr).resize((256, 256)), root / "data_256_standard" / rel.lstrip("/"))
            train_lines.append(f"{rel} {ci}\n")
    (root / "places365_train_standard.txt").write_text("".join(train_lines))
    val_lines = []
    for k in range(1, 7):
        name = f"Places365_val_{k:08d}.jpg"
        _save(Image.fromarray(imgs[k % 4]).resize((256, 256)), root / "val_256" / name)
        val_lines.append(f"{name} {k % 3}\n")
    (root / "places365_val.txt").write_text("".join(val_lines))
    return root


def test_places365_official_layout(places):
    s = places365(data_root=places, val_limit=2)
    assert len(s.train) == 9
    assert s.train[0].key == "data_256_standard/a/abbey/00000000.jpg"
    assert [i.key for i in s.val] == ["val_256/Places365_val_00000001.jpg", "val_256/Places365_val_00000002.jpg"]
    assert len(s.test) == 4
    assert decode_image(s.train[0].path).shape == (256, 256, 3)


def test_places365_limit_is_deterministic_and_spread_over_the_categories(places, tmp_path):
    from collections import Counter

    def categories(keys):
        return Counter(k.rsplit("/", 1)[0] for k in keys)

    a = [i.key for i in places365(data_root=places, limit=4).train]
    assert a == [i.key for i in places365(data_root=places, limit=4).train] and len(a) == 4
    assert sorted(categories(a).values()) == [1, 1, 2]  # 3 categories of 3 images: every one, evenly
    three = [i.key for i in places365(data_root=places, limit=3).train]
    assert sorted(categories(three).values()) == [1, 1, 1]
    assert set(three) < set(a)  # a larger limit adds to a smaller one
    moved = tmp_path / "elsewhere"
    shutil.copytree(places, moved)
    assert [i.key for i in places365(data_root=moved, limit=4).train] == a  # not tied to where the data lie


def test_places365_missing_pieces_are_one_line_errors(places, tmp_path):
    with pytest.raises(DataError, match="does not exist.*not downloaded by ganbench"):
        places365(data_root=tmp_path / "nope")
    (tmp_path / "p").mkdir()
    with pytest.raises(DataError, match="places365_train_standard.txt"):
        places365(data_root=tmp_path / "p")
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--dataset", "places365", "--data-root",
                                   str(tmp_path / "p")])
    assert out.exit_code == 3 and out.output.startswith("error:") and "\n" not in out.output.strip()
    with pytest.raises(DataError, match="data_large_standard"):
        places365(data_root=places, variant="large")


def test_places365_run_end_to_end(places, tmp_path):
    out = CliRunner().invoke(cli, ["run", "--models", "wgan-gp", "--budget", "smoke", "--dataset", "places365",
                                   "--data-root", str(places), "--limit", "6", "--results", str(tmp_path), "-q"])
    assert out.exit_code == 0, out.output
    [run] = list((tmp_path / "runs").iterdir())
    rec = json.loads((run / "run.json").read_text())
    assert rec["data"]["train_images"] == 6 and rec["config"]["dataset_options"]["limit"] == 6


def test_data_info_command(messy):
    out = CliRunner().invoke(cli, ["data", "info", "--dataset", "folder", "--data-root", str(messy), "--json"])
    assert out.exit_code == 0, out.output
    info = json.loads(out.output)
    assert info["counts"]["skipped"] >= 6 and info["decode_images_per_s"] > 0
    assert any(s["reason"].startswith("corrupt") for s in info["skipped"])
