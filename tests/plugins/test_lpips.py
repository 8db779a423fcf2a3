"""LPIPS (the [perceptual] extra, plain torch): its arithmetic equals torchmetrics' own LPIPS module and a hand
computation, on AlexNet features with fixed random weights and the LPIPS heads torchmetrics ships (no download, no
torchvision); the AlexNet weights are never downloaded (one line when missing) and a wrong file is refused."""

import copy

import numpy as np
import pytest
import torch
from click.testing import CliRunner

pytest.importorskip("torchmetrics", reason='LPIPS needs the [perceptual] extra: pip install -e ".[perceptual]"')

import torchmetrics.functional.image.lpips as tm_lpips  # noqa: E402

from ganbench.cli import cli  # noqa: E402
from ganbench.core.errors import PluginError  # noqa: E402
from ganbench_plugins.perceptual import (  # noqa: E402
    ALEXNET,
    CHANNELS,
    LPIPS,
    LPIPS_HEADS,
    SCALE,
    SHIFT,
    TAPS,
    LPIPSNet,
    alexnet_features,
    heads_path,
    lpips_net,
)


def _features() -> torch.nn.Sequential:
    """AlexNet's features with fixed random weights (the default init, seeded)."""
    torch.manual_seed(0)
    return alexnet_features().eval()


def _net(features):
    net = LPIPSNet(features)
    lin = torch.load(heads_path(), map_location="cpu", weights_only=True)
    net.heads.load_state_dict({f"{k}.weight": lin[f"lin{k}.model.1.weight"] for k in range(5)})
    return net.eval()


def _pair(n=3, size=48):
    g = torch.Generator().manual_seed(2)
    target = torch.randint(0, 256, (n, size, size, 3), generator=g, dtype=torch.uint8)
    pred = (target.float() * 0.7 + 30).round().to(torch.uint8)
    return pred, target


def test_the_heads_are_torchmetrics_own_file_checked_by_sha256():
    lin = torch.load(heads_path(), map_location="cpu", weights_only=True)
    assert [tuple(lin[f"lin{k}.model.1.weight"].shape) for k in range(5)] == [(1, c, 1, 1) for c in CHANNELS]
    assert len(LPIPS_HEADS.sha256) == 64


def test_lpips_equals_torchmetrics_lpips_with_the_same_weights(monkeypatch):
    """torchmetrics' _LPIPS (its scaling, normalisation, heads and averaging) on the very same AlexNet features:
    its torchvision hook is pointed at ours, so no torchvision and no download is needed."""
    feats = _features()
    monkeypatch.setattr(tm_lpips, "_get_tv_model_features", lambda net, pretrained=False: feats)
    ref = tm_lpips._LPIPS(pretrained=True, net="alex", pnet_rand=True).eval()
    pred, target = _pair()
    ours = LPIPS(net=_net(feats)).compute(pred, target)
    x0, x1 = (t.permute(0, 3, 1, 2).float() / 127.5 - 1 for t in (pred, target))
    with torch.no_grad():
        theirs = ref(x0, x1).flatten().double()
    assert ours.dtype == torch.float64 and ours.shape == (3,)
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-7) and (ours > 0).all()
    assert torch.equal(LPIPS(net=_net(feats)).compute(target, target), torch.zeros(3, dtype=torch.float64))


def test_lpips_arithmetic_by_hand():
    """The LPIPS formula in numpy from the five ReLU outputs (taken layer by layer with torch's functional ops)."""
    feats = _features()
    net = _net(feats)
    pred, target = _pair(n=2, size=40)
    double = copy.deepcopy(feats).double()

    def relus(x):
        x = (x.permute(0, 3, 1, 2).double() / 127.5 - 1 - torch.tensor(SHIFT).view(1, 3, 1, 1).double()) / \
            torch.tensor(SCALE).view(1, 3, 1, 1).double()
        out = []
        with torch.no_grad():
            for i in range(TAPS[-1] + 1):
                x = double[i](x)
                if i in TAPS:
                    out.append(x.numpy())
        return out

    a, b = relus(pred), relus(target)
    expected = np.zeros(2)
    for k, (fa, fb) in enumerate(zip(a, b, strict=True)):
        na = fa / np.sqrt(1e-8 + (fa**2).sum(1, keepdims=True))
        nb = fb / np.sqrt(1e-8 + (fb**2).sum(1, keepdims=True))
        w = net.heads[k].weight.detach().double().numpy().reshape(1, -1, 1, 1)
        expected += ((na - nb) ** 2 * w).sum(1).mean(axis=(1, 2))
    assert np.allclose(LPIPS(net=net).compute(pred, target).numpy(), expected, rtol=1e-4)


def test_too_small_images_are_a_clear_error():
    with pytest.raises(ValueError, match="at least 31x31"):
        LPIPS(net=_net(_features())).compute(*_pair(size=24))


def test_missing_alexnet_is_one_line_naming_file_url_digest_and_where(tmp_path, monkeypatch):
    monkeypatch.delenv("GANBENCH_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(PluginError) as missing:
        lpips_net()
    text = str(missing.value)
    assert "\n" not in text
    for part in (ALEXNET.file, ALEXNET.url, ALEXNET.sha256, str(tmp_path / "hub" / "checkpoints"), "never downloads"):
        assert part in text


def test_an_alexnet_file_of_another_hash_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / ALEXNET.file
    torch.save({k: v for k, v in alexnet_features().state_dict().items()}, bad)
    monkeypatch.setenv("GANBENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(PluginError, match="refused"):
        lpips_net()


def test_missing_weights_through_run_is_exit_4_before_training(tmp_path):
    import skimage.data
    from PIL import Image

    for split in ("train", "test"):
        (tmp_path / split).mkdir()
        for i in range(2):
            Image.fromarray(skimage.data.astronaut()[i * 100 : i * 100 + 120, :120]).save(tmp_path / split / f"{i}.png")
    out = CliRunner().invoke(cli, ["run", "--models", "l1", "--budget", "smoke", "--metrics", "psnr,lpips",
                                   "--dataset", "folder", "--data-root", str(tmp_path / "train"), "--test-root",
                                   str(tmp_path / "test"), "--results", str(tmp_path / "r"), "--device", "cpu", "-q"],
                             env={"TORCH_HOME": str(tmp_path / "th"), "GANBENCH_WEIGHTS": ""})
    assert out.exit_code == 4, out.output
    lines = [line for line in out.output.splitlines() if line.strip()]
    assert len(lines) == 1 and ALEXNET.file in lines[0] and "Traceback" not in out.output
