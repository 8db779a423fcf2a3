import numpy as np
import pytest
import torch
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from ganbench.score.evaluate import gray_uint8


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
        # PSNR is 10 log10(255^2 / MSE) of the same image pair: both metrics share one definition of "per image"
        psnr = 10 * np.log10(255.0**2 / mean_squared_error(target, pred))
        assert abs(_score(registry, "psnr", pred, target) - psnr) < 1e-6


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
    from ganbench.score.evaluate import score, summarize

    a, b = photos["astronaut"][:64, :64], photos["coffee"][:64, :64]
    c = np.clip(a.astype(int) + 3, 0, 255).astype(np.uint8)  # a near-copy: a very high PSNR
    targets, preds = [a, b, a], [b, a[::-1].copy(), c]
    metrics = {n: registry.create("metric", n) for n in ("psnr", "mae")}
    per_image = score(metrics, torch.from_numpy(np.stack(preds)), torch.from_numpy(np.stack(targets)))
    expected = [peak_signal_noise_ratio(t, p, data_range=255) for t, p in zip(targets, preds, strict=True)]
    assert per_image["psnr"].shape == (3,)
    assert per_image["psnr"].tolist() == pytest.approx(expected, abs=1e-6)  # every image, in order
    mean = summarize(per_image)["psnr"]
    assert mean == pytest.approx(sum(expected) / 3, abs=1e-6)
    pooled = peak_signal_noise_ratio(np.stack(targets), np.stack(preds), data_range=255)
    assert abs(mean - pooled) > 1.0  # the mean of per-image PSNRs, not the PSNR of the pooled pixels
    mae = [np.abs(t.astype(float) - p.astype(float)).mean() for t, p in zip(targets, preds, strict=True)]
    assert per_image["mae"].tolist() == pytest.approx(mae, abs=1e-9)


def test_gray_baseline_is_in_the_natural_photo_range_and_black_is_not(registry):
    from ganbench.data.pipeline import prepare_splits
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
