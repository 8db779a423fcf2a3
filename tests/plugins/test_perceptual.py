"""KID and FID (the [perceptual] extra): the arithmetic equals the published formulas on a tiny feature network
with fixed random weights (no download), the weights are never downloaded (one line when missing: file, URL,
sha256, where to put it), and a file of another sha256 is refused."""

import hashlib
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

pytest.importorskip("torchmetrics", reason='KID/FID need the [perceptual] extra: pip install -e ".[perceptual]"')

from scipy import linalg  # noqa: E402

from ganbench.cli import cli  # noqa: E402
from ganbench.core.errors import PluginError  # noqa: E402
from ganbench.score.evaluate import score_set, set_info  # noqa: E402
from ganbench_plugins.perceptual import (  # noqa: E402
    FID,
    FID_INCEPTION,
    FID_MIN_IMAGES,
    KID,
    FIDInceptionV3,
    WeightsFile,
    locate_weights,
)


class TinyFeatures(nn.Module):
    """A fixed random feature network: uint8 (N, 3, H, W) -> 8 features."""

    num_features = 8

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g) * 0.1)
            self.conv.bias.copy_(torch.randn(8, generator=g) * 0.1)

    def forward(self, x):
        return torch.tanh(self.conv(x.float() / 255.0)).mean(dim=(2, 3))


def _sets(n=40):
    g = torch.Generator().manual_seed(1)
    real = torch.randint(0, 256, (n, 16, 16, 3), generator=g, dtype=torch.uint8)
    fake = (real.float() * 0.6 + 40).round().to(torch.uint8)
    return fake, real


def _feats(x):
    with torch.no_grad():
        return TinyFeatures()(x.permute(0, 3, 1, 2)).double().numpy()


def test_fid_equals_the_frechet_formula():
    fake, real = _sets()
    fid = FID(features=TinyFeatures())
    fid.batch_size = 7  # the features accumulate over batches
    ours = score_set(fid, fake, real)
    a, b = _feats(fake), _feats(real)
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ref = float(((mu_a - mu_b) ** 2).sum() + np.trace(ca + cb - 2 * linalg.sqrtm(ca @ cb).real))
    assert ours == pytest.approx(ref, rel=1e-5) and ours > 0
    assert score_set(fid, real, real) == pytest.approx(0.0, abs=1e-6)
    info = set_info({"fid": fid}, 40, 20)["fid"]
    assert info["n_images"] == 40 and info["feature_network"] == "TinyFeatures" and "torchmetrics" in info
    assert str(FID_MIN_IMAGES) in info["warning"] and "KID" in info["warning"]


def test_kid_equals_the_unbiased_polynomial_mmd():
    fake, real = _sets()
    kid = KID(features=TinyFeatures())
    ours = score_set(kid, fake, real)  # subset size min(1000, N) = N: every subset is the whole set
    x, y = _feats(real), _feats(fake)
    d, m = x.shape[1], x.shape[0]

    def k(a, b):
        return (a @ b.T / d + 1.0) ** 3

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    ref = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.sum() / m**2
    assert ours == pytest.approx(ref, rel=1e-6) and ours > 0
    assert "warning" not in set_info({"kid": kid}, 40, 20)["kid"]


def test_the_fid_inception_has_torchvisions_names_and_2048_features():
    net = FIDInceptionV3().eval()
    keys = net.state_dict()
    assert keys["fc.weight"].shape == (1008, 2048)
    assert keys["Mixed_7c.branch3x3dbl_3b.bn.running_var"].shape == (384,)
    assert keys["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    with torch.no_grad():
        out = net(torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8))
    assert out.shape == (2, 2048) and torch.isfinite(out).all()


def test_weights_are_found_by_sha256_and_a_wrong_file_is_refused(tmp_path, monkeypatch):
    blob = b"not really weights"
    spec = WeightsFile("w-1234.pth", "https://example.org/w-1234.pth", hashlib.sha256(blob).hexdigest())
    monkeypatch.delenv("GANBENCH_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(PluginError) as missing:
        locate_weights(spec)
    text = str(missing.value)
    assert spec.file in text and spec.url in text and spec.sha256 in text
    assert str(tmp_path / "hub" / "checkpoints") in text
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / spec.file).write_bytes(blob)
    assert locate_weights(spec) == tmp_path / "hub" / "checkpoints" / spec.file
    other = tmp_path / "other.pth"
    other.write_bytes(blob + b"!")
    monkeypatch.setenv("GANBENCH_WEIGHTS", str(other))
    with pytest.raises(PluginError, match="refused"):
        locate_weights(spec)


def _run(tmp_path, env):
    import skimage.data
    from PIL import Image

    for split in ("train", "test"):
        (tmp_path / split).mkdir(exist_ok=True)
        for i in range(2):
            Image.fromarray(skimage.data.astronaut()[i * 100 : i * 100 + 120, :120]).save(tmp_path / split / f"{i}.png")
    return CliRunner().invoke(cli, ["run", "--models", "l1", "--budget", "smoke", "--metrics", "psnr,kid",
                                    "--dataset", "folder", "--data-root", str(tmp_path / "train"), "--test-root",
                                    str(tmp_path / "test"), "--results", str(tmp_path / "r"), "--device", "cpu",
                                    "-q"], env=env)


def test_missing_weights_is_one_line_and_the_plugin_exit_code_before_training(tmp_path):
    out = _run(tmp_path, {"TORCH_HOME": str(tmp_path / "th"), "GANBENCH_WEIGHTS": ""})
    assert out.exit_code == 4, out.output
    lines = [line for line in out.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in out.output
    for part in (FID_INCEPTION.file, FID_INCEPTION.url, FID_INCEPTION.sha256, "never downloads"):
        assert part in lines[0]
    assert not (tmp_path / "r" / "runs").exists() or not any((tmp_path / "r" / "runs").iterdir())


def test_a_weights_file_of_another_hash_is_refused(tmp_path):
    bad = tmp_path / FID_INCEPTION.file
    bad.write_bytes(b"\0" * 1024)
    out = _run(tmp_path, {"GANBENCH_WEIGHTS": str(bad)})
    assert out.exit_code == 4 and "refused" in out.output and "Traceback" not in out.output
    assert hashlib.sha256(b"\0" * 1024).hexdigest() in out.output
    assert math.isfinite(FID_MIN_IMAGES)
