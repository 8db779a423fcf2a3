"""The plain-torch FID Inception equals torch-fidelity's FeatureExtractorInceptionV3 (what torchmetrics' default FID
uses) with the same random weights: the state dict loads strictly into theirs and the 2048 pool features agree to
1e-5. Pins the architecture without the real weights.

torch-fidelity is not in the [perceptual] extra: it requires torchvision, whose wheels on the package index need
the CUDA torch, and once installed without a working torchvision it breaks ``import torchmetrics``. So this test
reads torch-fidelity's module from wherever it is installed without running its package ``__init__`` (which imports
torchvision) and skips, with the reason, when it is not. It stays in a file of its own that does not import
torchmetrics. Run it with ``pip install --no-deps --target DIR torch-fidelity`` and ``PYTHONPATH=DIR``."""

import importlib
import importlib.util
import sys
import types

import pytest
import torch

from ganbench_plugins.perceptual import FIDInceptionV3


def _torch_fidelity_inception():
    spec = importlib.util.find_spec("torch_fidelity")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("torch-fidelity is not installed (pip install --no-deps --target DIR torch-fidelity; "
                    "PYTHONPATH=DIR): it cannot be in the [perceptual] extra beside the CPU torch")
    if "torch_fidelity" not in sys.modules:  # the package without its __init__ (which imports torchvision)
        pkg = types.ModuleType("torch_fidelity")
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules["torch_fidelity"] = pkg
    return importlib.import_module("torch_fidelity.feature_extractor_inceptionv3").FeatureExtractorInceptionV3


def _randomised() -> FIDInceptionV3:
    """The default init plus random BatchNorm statistics and affine parameters (so that every layer matters)."""
    torch.manual_seed(0)
    net = FIDInceptionV3()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return net.eval()


def test_the_inception_body_equals_torch_fidelitys_with_the_same_weights(tmp_path):
    reference = _torch_fidelity_inception()
    ours = _randomised()
    path = tmp_path / "random-inception.pth"
    torch.save(ours.state_dict(), path)
    theirs = reference("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path))  # strict load
    g = torch.Generator().manual_seed(2)
    images = torch.randint(0, 256, (2, 3, 299, 299), generator=g, dtype=torch.uint8)  # at 299 their resize is a no-op
    with torch.no_grad():
        (expected,) = theirs(images)
        got = ours.body((images.float() - 128) / 128)  # torch-fidelity's scaling; ours (x/255·2 − 1) is pytorch-fid's
    assert got.shape == expected.shape == (2, 2048)
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5), float((got - expected).abs().max())
    scale = float(expected.abs().max())
    assert scale > 1e-3  # the features are not all zero
