import numpy as np
import pytest
import torch
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from ganbench.evaluate import gray_uint8


def _pairs(photos):
    rng = np.random.default_rng(0)
    out = []
    for name in ("astronaut", "coffee", "chelsea"):
        img = photos[name][:96, :128]
        noisy = np.clip(img.astype(int) + rng.integers(-40, 41, img.shape), 0, 255).astype(np.uint8)
        out.append((img, noisy))
        out.append((img, gray_uint8(torch.from_numpy(img)[None])[0].numpy()))
    out.append((rng.integers(0, 256, (96, 128, 3), dtype=np.uint8), rng.integers(0, 256, (96, 128, 3),
                                                                                  dtype=np.uint8)))
    return out


def _score(registry, name, pred, target):
    metric = registry.create("metric", name)
    return float(metric.compute(torch.from_numpy(pred)[None], torch.from_numpy(target)[None])[0])


def test_psnr_equals_skimage(registry, photos):
    for target, pred in _pairs(photos):
        ref = peak_signal_noise_ratio(target, pred, data_range=255)
        assert abs(_score(registry, "psnr", pred, target) - ref) < 1e-6


def test_mae_equals_reference(registry, photos):
    for target, pred in _pairs(photos):
        ref = np.abs(target.astype(np.float64) - pred.astype(np.float64)).mean()
        assert abs(_score(registry, "mae", pred, target) - ref) < 1e-9
        # and MSE-consistency with skimage, so the two share one definition of "per image"
        assert mean_squared_error(target, pred) >= 0


def test_ssim_equals_skimage_gaussian(registry, photos):
    for target, pred in _pairs(photos):
        ref = structural_similarity(target, pred, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                    data_range=255, channel_axis=-1)
        assert abs(_score(registry, "ssim", pred, target) - ref) < 1e-6


def _hasler(img):
    x = img.astype(np.float64)
    rg = x[..., 0] - x[..., 1]
    yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
    return np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)


def test_colorfulness_equals_hasler_susstrunk_formula(registry, photos):
    for target, _ in _pairs(photos):
        assert abs(_score(registry, "colorfulness", target, target) - _hasler(target)) < 1e-9
    gray = gray_uint8(torch.from_numpy(photos["flower"])[None])[0].numpy()
    assert _score(registry, "colorfulness", gray, gray) < 2.0  # a gray image is (nearly) colourless
    assert _score(registry, "colorfulness", photos["flower"], photos["flower"]) > 30


def test_metrics_are_per_image_then_averaged(registry, photos):
    a, b = photos["astronaut"][:64, :64], photos["coffee"][:64, :64]
    batch_t = torch.from_numpy(np.stack([a, b]))
    batch_p = torch.from_numpy(np.stack([b, a[::-1].copy()]))
    scores = registry.create("metric", "psnr").compute(batch_p, batch_t)
    assert scores.shape == (2,)
    assert abs(float(scores[0]) - peak_signal_noise_ratio(a, b, data_range=255)) < 1e-6


def test_gray_baseline_is_in_the_natural_photo_range_and_black_is_not(registry):
    from ganbench.data import prepare_splits
    from ganbench_plugins.datasets import embedded

    data = prepare_splits(embedded(), 64)
    psnr = registry.create("metric", "psnr")
    gray = float(psnr.compute(gray_uint8(data.test), data.test).mean())
    black = float(psnr.compute(torch.zeros_like(data.test), data.test).mean())
    assert 15.0 < gray < 30.0
    assert black < 11.0
    assert gray - black > 5.0


@pytest.mark.parametrize("name,higher", [("psnr", True), ("mae", False), ("ssim", True)])
def test_direction_flags(registry, name, higher):
    assert registry.create("metric", name).higher_is_better is higher
