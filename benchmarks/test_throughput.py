"""Training-step throughput of each recipe (batches already in memory), ganbench against a plain eager
PyTorch loop of the same architecture, plus generator inference, colour conversion and data decoding.

Compare ganbench/<model> with reference/<model> in one saved run: the ratio of their means is the
speed-up (absolute times on shared machines are noisy; ratios measured in one run are not).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.reference_loop import ReferenceLoop
from ganbench.core.config import resolve_recipe
from ganbench.data.color import lab_to_net, lab_to_uint8, rgb_to_lab, uint8_to_lab
from ganbench.data.pipeline import decode_image, prepare
from ganbench.data.synthetic import synthetic_data
from ganbench.train.batches import cycle
from ganbench.train.precision import cpu_has_native_bf16
from ganbench.train.setup import build_trainer

MODELS = ["dcgan", "wgan", "wgan-gp"]
SIZES = [64, 128]
BATCH = 16
PIX2PIX = {"generator.base_channels": 64, "critic.base_channels": 64, "critic.layers": 3}


def _depth(size: int) -> int:
    return int(np.log2(size))  # pix2pix-shaped: down to 1x1


def _batches(size: int, n: int):
    data = synthetic_data(size)
    from ganbench.data.pipeline import TrainSampler

    sampler = TrainSampler(data.train, size, BATCH, seed=0)
    return [lab_to_net(rgb_to_lab(sampler.batch(i))) for i in range(n)]


def _trainer(registry, model, size, precision="fp32", batches=None):
    sets = {**PIX2PIX, "generator.depth": _depth(size)}
    return build_trainer(registry, model, "cpu", image_size=size, batch_size=BATCH, sets=sets, precision=precision,
                         batches=batches)


PRECISIONS = ["fp32", "bf16"] if cpu_has_native_bf16() or torch.cuda.is_available() else ["fp32"]


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("model", MODELS)
def test_ganbench_step(benchmark, registry, model, size, precision):
    batches = _batches(size, resolve_recipe(registry, model).n_critic)
    trainer = _trainer(registry, model, size, precision, cycle(batches))
    benchmark.group = f"train step {model} {size}px b{BATCH}"
    benchmark.extra_info.update(model=model, size=size, batch=BATCH, impl=f"ganbench-{precision}")
    benchmark.pedantic(trainer.train_step, rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("model", MODELS)
def test_reference_step(benchmark, model, size):
    loop = ReferenceLoop(model, {"depth": _depth(size), "base_channels": 64},
                         {"base_channels": 64, "layers": 3})
    batches = _batches(size, loop.n_critic)
    benchmark.group = f"train step {model} {size}px b{BATCH}"
    benchmark.extra_info.update(model=model, size=size, batch=BATCH, impl="reference")
    benchmark.pedantic(loop.step, args=(batches,), rounds=3, iterations=1, warmup_rounds=1)


def test_generator_inference(benchmark, registry):
    g = registry.create("generator", "unet", depth=6, base_channels=16).eval()
    L = torch.randn(64, 1, 64, 64)
    benchmark.extra_info.update(images=64)

    def infer():
        with torch.no_grad():
            g(L)

    benchmark(infer)


def test_rgb_lab_round_trip(benchmark):
    x = torch.randint(0, 256, (64, 128, 128, 3), dtype=torch.uint8)
    benchmark.extra_info.update(images=64)
    benchmark(lambda: lab_to_uint8(uint8_to_lab(x)))


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory):
    import skimage.data

    root = tmp_path_factory.mktemp("jpegs")
    for i, name in enumerate(["astronaut", "coffee", "chelsea", "rocket"] * 4):
        Image.fromarray(getattr(skimage.data, name)()).save(root / f"{i:02d}.jpg", quality=90)
    return sorted(root.iterdir())


def test_decode_cold(benchmark, jpegs):
    from ganbench.data.pipeline import file_item

    items = [file_item(p) for p in jpegs]
    benchmark.extra_info.update(images=len(items))
    benchmark(lambda: prepare(items, 128))


def test_decode_cached(benchmark, jpegs, tmp_path):
    from ganbench.data.pipeline import file_item

    items = [file_item(p) for p in jpegs]
    prepare(items, 128, tmp_path)
    benchmark.extra_info.update(images=len(items))
    benchmark(lambda: prepare(items, 128, tmp_path))


def test_decode_single_jpeg_bytes(benchmark, jpegs):
    data = jpegs[0].read_bytes()
    benchmark(lambda: decode_image(io.BytesIO(data).getvalue()))
