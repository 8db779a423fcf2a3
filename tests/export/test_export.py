"""A trained generator out of ganbench: the safetensors round trip (no pickle), ONNX equal to PyTorch on real photos
at two sizes within the stated tolerance, the model card, ``ganbench.colorize`` on PIL images and arrays, and
stored runs replayed into TensorBoard."""

from __future__ import annotations

import csv
import importlib.util
import json
import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import ganbench
from ganbench.cli import cli
from ganbench.core.errors import ConfigError
from ganbench.core.request import RunRequest
from ganbench.grid.in_process import run_comparison
from ganbench.store.results import safe_load
from ganbench.tools.colorize import colorize_array, load_generator


def _need(module: str, extra: str):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"the {module} package is not installed (pip install 'ganbench[{extra}]')")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, registry):
    """A smoke run whose generator's output is far from 0 (no zero-initialised output layer), so a wrong export
    cannot pass for a right one."""
    results = tmp_path_factory.mktemp("export")
    [outcome] = run_comparison(RunRequest(models=["dcgan"], budget="smoke", device="cpu", results=results,
                                          sets={"generator.zero_init_output": False}), registry)
    assert outcome.status == "complete"
    return outcome.run_dir


@pytest.fixture(scope="module")
def exported(trained, registry, tmp_path_factory):
    _need("safetensors", "export")
    _need("onnxruntime", "export")
    _need("onnxscript", "export")
    from ganbench.export.model import export_model

    out = tmp_path_factory.mktemp("exported")
    return out, export_model(registry, trained, ["safetensors", "onnx", "card"], out)


def test_safetensors_round_trip_without_pickle(trained, exported, registry):
    from safetensors import safe_open

    from ganbench.export.model import load_exported

    out, _ = exported
    stored = safe_load(trained / "generator.pt")
    with safe_open(str(out / "generator.safetensors"), framework="pt") as fh:
        assert set(fh.keys()) == set(stored) and fh.metadata()["model"] == "dcgan"
        assert all(torch.equal(fh.get_tensor(k), stored[k]) for k in stored)
    config = json.loads((out / "generator.json").read_text())
    assert config["generator"] == "unet" and config["stride"] == 2 ** config["budget"]["hints"]["generator"]["depth"]
    loaded, _ = load_exported(registry, out / "generator.safetensors")
    original, _ = load_generator(registry, trained)
    L = torch.linspace(-1, 1, 2 * 64 * 96).reshape(2, 1, 64, 96)
    with torch.no_grad():
        assert torch.equal(loaded(L), original(L))


def test_onnx_equals_pytorch_on_real_photos_at_two_sizes(trained, exported, registry, photos):
    import onnxruntime as ort

    from ganbench.export.model import ONNX_TOLERANCE
    from ganbench.tools.colorize import model_input

    out, result = exported
    assert result.onnx["dynamic"] == ["batch", "height", "width"]
    assert result.onnx["check"]["within_tolerance"] and len(result.onnx["check"]["sizes"]) == 2
    generator, cfg = load_generator(registry, trained)
    session = ort.InferenceSession(str(out / "generator.onnx"), providers=["CPUExecutionProvider"])
    stride = result.onnx["stride"]
    for shape in ((2 * stride, 3 * stride), (5 * stride, 2 * stride)):  # other sizes than the export's own check
        L = torch.cat([model_input(img, shape, torch.device("cpu")) for img in photos.values()])
        with torch.no_grad():
            expected = generator(L).numpy()
        got = session.run(None, {"L": L.numpy()})[0]
        assert got.shape == expected.shape == (len(photos), 2, *shape)
        assert expected.std() > 1e-3  # a real output, not the zero-initialised layer's zeros
        assert np.abs(got - expected).max() <= min(ONNX_TOLERANCE, 1e-3 * np.abs(expected).max())


def test_the_model_card_is_written_from_the_run(trained, exported):
    out, _ = exported
    card = (out / "README.md").read_text()
    front, body = re.match(r"---\n(.*?)\n---\n(.*)", card, flags=re.S).groups()
    assert "library_name: ganbench" in front and "pipeline_tag: image-to-image" in front
    metrics = json.loads((trained / "metrics.json").read_text())
    record = json.loads((trained / "run.json").read_text())
    for name, value in metrics["model"].items():
        assert f'{{name: "{name}", type: "{name}", value: {round(value, 4)}}}' in front
    gray_row = next(line for line in body.splitlines() if line.startswith("| gray"))
    assert f"{metrics['gray']['psnr']:.3f}" in gray_row
    assert f"seed {record['config']['seed']}" in body and "budget `smoke`" in body
    assert record["command"] in body and record["key"] in body
    assert "## Limitations" in body and "## Evaluation" in body


def test_export_model_from_the_command_line(trained, tmp_path):
    _need("safetensors", "export")
    out = CliRunner().invoke(cli, ["export", "model", str(trained), "--format", "safetensors,card", "--out",
                                   str(tmp_path / "x")])
    assert out.exit_code == 0, out.output
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["README.md", "generator.json",
                                                                   "generator.safetensors"]
    bad = CliRunner().invoke(cli, ["export", "model", str(trained), "--format", "pickle"])
    assert bad.exit_code == 2 and bad.output.count("\n") == 1 and "unknown export format(s) pickle" in bad.output
    missing = CliRunner().invoke(cli, ["export", "model", str(tmp_path)])
    assert missing.exit_code == 5 and "not a ganbench run folder" in missing.output


def test_colorize_from_python_on_pil_images_and_arrays(trained, registry, photos):
    generator, cfg = load_generator(registry, trained)
    photo = photos["coffee"][:301, :207]  # any size
    expected = colorize_array(generator, photo, cfg.image_size, torch.device("cpu"))
    from_array = ganbench.colorize(photo, run=trained)
    assert isinstance(from_array, np.ndarray) and np.array_equal(from_array, expected)
    from_pil = ganbench.colorize(Image.fromarray(photo), run=trained / "generator.pt")
    assert isinstance(from_pil, Image.Image) and np.array_equal(np.asarray(from_pil), expected)
    colorizer = ganbench.Colorizer(trained)
    gray = photo.mean(axis=2).round().astype(np.uint8)
    many = colorizer([gray, photos["astronaut"], photo.astype(np.float32) / 255.0])
    assert [m.shape for m in many] == [(301, 207, 3), photos["astronaut"].shape, (301, 207, 3)]
    assert np.array_equal(many[2], expected)
    with pytest.raises(ConfigError, match="uint8"):
        colorizer(photo.astype(np.int32))


def test_colorize_from_python_with_the_exported_safetensors(trained, exported, photos):
    out, _ = exported
    photo = photos["chelsea"]
    assert np.array_equal(ganbench.colorize(photo, run=out), ganbench.colorize(photo, run=trained))


def test_export_tensorboard_replays_stored_runs(trained, tmp_path):
    _need("tensorboard", "tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    results = trained.parent.parent
    for _ in range(2):  # a second replay rewrites, never appends
        out = CliRunner().invoke(cli, ["export", "tensorboard", str(results), "--out", str(tmp_path / "tb")])
        assert out.exit_code == 0, out.output
    [folder] = list((tmp_path / "tb").iterdir())
    assert folder.name == trained.name and len(list(folder.glob("events.out.tfevents.*"))) == 1
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    with open(trained / "history.csv") as fh:
        history = list(csv.DictReader(fh))
    assert [(e.step, e.value) for e in events.Scalars("loss/g_l1")] == [
        (int(r["step"]), pytest.approx(float(r["g_l1"]), rel=1e-6)) for r in history]
    with open(trained / "validation.csv") as fh:
        validation = list(csv.DictReader(fh))
    assert [e.value for e in events.Scalars("val/psnr")] == pytest.approx([float(r["val_psnr"]) for r in validation])
    metrics = json.loads((trained / "metrics.json").read_text())
    assert events.Scalars("test/gray/psnr")[0].value == pytest.approx(metrics["gray"]["psnr"], rel=1e-6)
    [image] = events.Images("samples/test")
    assert (image.width, image.height) == Image.open(trained / "samples.png").size
    start = plugin_data_pb2.HParamsPluginData.FromString(
        events.PluginTagToContent("hparams")["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["model"].string_value == "dcgan"
    bad = CliRunner().invoke(cli, ["export", "tensorboard", str(tmp_path / "nowhere")])
    assert bad.exit_code == 5 and "not a ganbench results folder" in bad.output
