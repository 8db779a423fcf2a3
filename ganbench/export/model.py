"""A trained generator out of ganbench: safetensors weights with a JSON of how to build the generator (no pickle
to load), an ONNX graph with dynamic batch and image size checked against onnxruntime on real photos, and a
model card (``card.py``). Formats need the extra ``[export]`` (safetensors, onnx, onnxruntime, onnxscript)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganbench.core.budgets import Budget
from ganbench.core.contract import Recipe
from ganbench.core.errors import ConfigError, ResultsError
from ganbench.core.registry import Registry
from ganbench.core.version import __version__
from ganbench.store.records import RunRecord
from ganbench.store.results import atomic_write_bytes, atomic_write_json, atomic_write_text, read_json

FORMATS = ("safetensors", "onnx", "card")
WEIGHTS, CONFIG, ONNX, CARD = "generator.safetensors", "generator.json", "generator.onnx", "README.md"
#: The largest |ONNX - PyTorch| allowed on the generator's output (ab scaled to [-1, 1], i.e. 0.011 Lab units).
ONNX_TOLERANCE = 1e-4
#: Real photos (shipped inside scikit-image) and the (height, width) they are checked at: two sizes, neither
#: the training size's square.
CHECK_PHOTOS = ("astronaut", "coffee")
CHECK_SIZES = ((1, 2), (3, 2))  # multiples of the generator's stride: (h, w)
FORMAT_NAME = "ganbench-generator"


def require_package(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"exporting needs the {module} package: pip install 'ganbench[export]'") from None


def stride(generator: nn.Module) -> int:
    """The generator's input sides must be multiples of this (2^depth for a UNet; 1 when it does not say)."""
    depth = getattr(generator, "depth", None)
    return 2 ** int(depth) if isinstance(depth, int) and depth > 0 else 1


def generator_config(record: RunRecord, generator: nn.Module) -> dict[str, Any]:
    """What rebuilds the generator without pickle: the registered generator's name and options, the recipe
    and budget it was built from (the budget's size hints reach its factory), and the input and output."""
    cfg = record.config
    return {
        "format": FORMAT_NAME, "format_version": 1, "ganbench_version": __version__,
        "model": cfg["model"], "generator": cfg["recipe"]["generator"],
        "generator_options": cfg["recipe"]["generator_options"], "recipe": cfg["recipe"], "budget": cfg["budget"],
        "image_size": int(cfg["budget"]["image_size"]), "stride": stride(generator),
        "parameters": sum(p.numel() for p in generator.parameters()),
        "input": "L of CIE Lab scaled to [-1, 1] (L / 50 - 1), float32 (N, 1, H, W); H and W multiples of stride",
        "output": "ab of CIE Lab divided by 110 (tanh, [-1, 1]), float32 (N, 2, H, W)",
        "run_key": record.key or None, "seed": cfg.get("seed"),
    }


def save_safetensors(generator: nn.Module, config: dict[str, Any], out_dir: Path) -> list[Path]:
    st = require_package("safetensors.torch")
    state = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    atomic_write_bytes(out_dir / WEIGHTS, st.save(state, metadata={"format": FORMAT_NAME,
                                                                   "model": str(config["model"])}))
    atomic_write_json(out_dir / CONFIG, config)
    return [out_dir / WEIGHTS, out_dir / CONFIG]


def load_exported(registry: Registry, path: Path, device: torch.device = torch.device("cpu")
                  ) -> tuple[nn.Module, dict[str, Any]]:
    """A generator from ``generator.safetensors`` + ``generator.json`` (``path``: their folder or either file),
    built by the registered generator factory and loaded with no pickle; with its config."""
    from ganbench.train.networks import build_generator

    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if not (folder / WEIGHTS).is_file() or not (folder / CONFIG).is_file():
        raise ResultsError(f"{folder} holds no exported generator ({WEIGHTS} and {CONFIG})")
    config = read_json(folder / CONFIG)
    if config.get("format") != FORMAT_NAME:
        raise ResultsError(f"{folder / CONFIG} is not a ganbench generator config")
    st = require_package("safetensors.torch")
    generator = build_generator(registry, Recipe.from_dict(config["recipe"]), Budget.from_dict(config["budget"]))
    try:
        generator.load_state_dict(st.load_file(str(folder / WEIGHTS)))
    except RuntimeError:
        raise ResultsError(f"{folder / WEIGHTS} does not match the generator {config['generator']} its config "
                           "describes") from None
    return generator.to(device).eval(), config


def export_onnx(generator: nn.Module, path: Path, image_size: int) -> dict[str, Any]:
    """ONNX through torch's exporter (``torch.export``), batch dynamic and, where the network allows, height and
    width too (as multiples of its stride); the shapes it fixed otherwise are recorded."""
    require_package("onnxscript")
    from torch.export import Dim

    s = stride(generator)
    side = max(s, (image_size // s) * s)
    example = torch.zeros(2, 1, 2 * side, 3 * side)  # two sides, and no side of 1 anywhere inside the net
    dims = {0: Dim("batch", min=1, max=4096), 2: s * Dim("h", min=1, max=16384 // s),
            3: s * Dim("w", min=1, max=16384 // s)}
    generator = generator.cpu().eval()
    try:
        program = torch.onnx.export(generator, (example,), dynamo=True, dynamic_shapes=(dims,), input_names=["L"],
                                    output_names=["ab"], verbose=False)
        dynamic = ["batch", "height", "width"]
    except Exception:  # noqa: BLE001 - a network whose size cannot vary: batch alone, else fixed
        try:
            program = torch.onnx.export(generator, (example,), dynamo=True, dynamic_shapes=({0: dims[0]},),
                                        input_names=["L"], output_names=["ab"], verbose=False)
            dynamic = ["batch"]
        except Exception as exc:  # noqa: BLE001
            raise ResultsError(f"torch could not export the generator to ONNX: {type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    if program is None:  # torch returns None only for the legacy exporter, which is not used here
        raise ResultsError("torch could not export the generator to ONNX: the exporter returned nothing")
    buf = program.model_proto.SerializeToString()
    atomic_write_bytes(path, buf)
    return {"dynamic": dynamic, "stride": s, "example": list(example.shape)}


def check_onnx(generator: nn.Module, path: Path, image_size: int, photos: dict[str, np.ndarray] | None = None,
               ) -> dict[str, Any]:
    """|ONNX - PyTorch| on the L of real photos at two sizes (ONNX run by onnxruntime): the largest difference
    per size, and whether it is within ``ONNX_TOLERANCE``."""
    ort = require_package("onnxruntime")
    from ganbench.tools.colorize import model_input

    photos = photos if photos is not None else _check_photos()
    s = stride(generator)
    side = max(s, (image_size // s) * s)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out: dict[str, Any] = {"tolerance": ONNX_TOLERANCE, "photos": list(photos), "sizes": {}}
    for fh, fw in CHECK_SIZES:
        shape = (fh * side, fw * side)
        L = torch.cat([model_input(img, shape, torch.device("cpu")) for img in photos.values()])
        with torch.no_grad():
            expected = generator.cpu().eval()(L).numpy()
        got = session.run(None, {session.get_inputs()[0].name: L.numpy()})[0]
        if got.shape != expected.shape:
            raise ResultsError(f"the ONNX generator returned {got.shape} for {tuple(L.shape)}, "
                               f"PyTorch {expected.shape}")
        out["sizes"][f"{shape[0]}x{shape[1]}"] = float(np.abs(got - expected).max())
    out["max_abs_diff"] = max(out["sizes"].values())
    out["within_tolerance"] = out["max_abs_diff"] <= ONNX_TOLERANCE
    return out


def _check_photos() -> dict[str, np.ndarray]:
    import skimage.data

    return {name: getattr(skimage.data, name)() for name in CHECK_PHOTOS}


@dataclass
class Exported:
    files: list[Path] = field(default_factory=list)
    onnx: dict[str, Any] | None = None


def export_model(registry: Registry, run_dir: Path, formats: list[str], out_dir: Path | None = None) -> Exported:
    """Export a complete run's selected generator (``generator.pt``) in ``formats`` (safetensors, onnx, card)
    to ``out_dir`` (default ``RUN/export``)."""
    from ganbench.store.results import open_run
    from ganbench.tools.colorize import load_generator

    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ConfigError(f"unknown export format(s) {', '.join(unknown) or '(none)'}: use {', '.join(FORMATS)}")
    run = open_run(run_dir)
    record = run.record()
    if not record.complete or not (run.path / "generator.pt").is_file():
        raise ResultsError(f"{run.path} is not a complete run (status {record.status}); nothing to export")
    generator, cfg = load_generator(registry, run.path)
    out_dir = Path(out_dir) if out_dir is not None else run.path / "export"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsError(f"cannot create {out_dir}: {exc.strerror}") from None
    needs = {"safetensors": ["safetensors.torch"], "onnx": ["onnx", "onnxscript", "onnxruntime"]}
    for module in [m for f in formats for m in needs.get(f, [])]:
        require_package(module)  # every missing package named before anything is written
    config = generator_config(record, generator)
    result = Exported()
    if "onnx" in formats:
        info = export_onnx(generator, out_dir / ONNX, cfg.image_size)
        check = check_onnx(generator, out_dir / ONNX, cfg.image_size)
        config["onnx"] = {**info, "check": check}
        result.onnx = config["onnx"]
        result.files.append(out_dir / ONNX)
        if not check["within_tolerance"]:
            raise ResultsError(f"the ONNX generator differs from PyTorch by {check['max_abs_diff']:.2e} on real "
                               f"photos (tolerance {ONNX_TOLERANCE:g}); {out_dir / ONNX} is not to be trusted")
    if "safetensors" in formats:
        result.files += save_safetensors(generator, config, out_dir)
    elif "onnx" in formats:
        atomic_write_json(out_dir / CONFIG, config)
        result.files.append(out_dir / CONFIG)
    if "card" in formats:
        from ganbench.export.card import model_card

        atomic_write_text(out_dir / CARD, model_card(run.path, record, config, sorted(formats)))
        result.files.append(out_dir / CARD)
    return result


__all__ = ["export_model", "load_exported", "check_onnx", "export_onnx", "generator_config", "ONNX_TOLERANCE"]
