"""Per-image metrics on uint8 RGB (N, H, W, 3). Definitions in docs/metrics.md; each is checked against
scikit-image (or the published formula) in tests/score/test_metrics.py."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganbench.api import Metric, hookimpl


def _f64(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float64)


class PSNR(Metric):
    """10·log10(255² / MSE), MSE over all pixels and channels of one image (skimage's
    ``peak_signal_noise_ratio`` with ``data_range=255``), capped at 100 dB: an exact match (a perfectly
    neutral crop and the gray baseline) scores 100 dB instead of infinity, so averages and tests stay finite."""

    name, unit, higher_is_better = "psnr", "dB", True
    #: The score of an exact match; below it (MSE > 6.5e-6 on 0-255) the formula is unchanged.
    ceiling = 100.0

    def compute(self, pred, target):
        mse = (_f64(pred) - _f64(target)).pow(2).flatten(1).mean(1)
        return (10.0 * torch.log10((255.0**2) / mse)).clamp(max=self.ceiling)


class MAE(Metric):
    """Mean absolute error on 0-255 over all pixels and channels of one image."""

    name, unit, higher_is_better = "mae", "0-255", False

    def compute(self, pred, target):
        return (_f64(pred) - _f64(target)).abs().flatten(1).mean(1)


def _gaussian_kernel(sigma: float = 1.5, truncate: float = 3.5) -> torch.Tensor:
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


class SSIM(Metric):
    """Wang et al. 2004 SSIM: Gaussian window 11x11, σ=1.5, K1=0.01, K2=0.03, L=255, population
    covariances, averaged over the valid region of each channel, then over channels (equal to skimage's
    ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=255, channel_axis=-1)``)."""

    name, unit, higher_is_better = "ssim", "", True

    def compute(self, pred, target):
        x = _f64(pred).permute(0, 3, 1, 2)
        y = _f64(target).permute(0, 3, 1, 2)
        n, c, h, w = x.shape
        k = _gaussian_kernel()
        size = k.numel()
        if h < size or w < size:
            raise ValueError(f"SSIM needs images of at least {size}x{size}, got {h}x{w}")
        kh = k.view(1, 1, size, 1).repeat(c, 1, 1, 1)
        kw = k.view(1, 1, 1, size).repeat(c, 1, 1, 1)

        def blur(t):
            return F.conv2d(F.conv2d(t, kh, groups=c), kw, groups=c)

        ux, uy = blur(x), blur(y)
        vx = blur(x * x) - ux * ux
        vy = blur(y * y) - uy * uy
        vxy = blur(x * y) - ux * uy
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
        return s.mean(dim=(2, 3)).mean(1)


class Colorfulness(Metric):
    """Hasler & Süsstrunk (2003): rg = R-G, yb = (R+G)/2 - B;
    M = sqrt(σ_rg² + σ_yb²) + 0.3·sqrt(μ_rg² + μ_yb²) on 0-255 values (population standard deviations).
    A gray image scores 0; the report shows the ground truth's value beside it."""

    name, unit, higher_is_better, reference_free = "colorfulness", "", True, True

    def compute(self, pred, target=None):
        x = _f64(pred)
        r, g, b = x[..., 0], x[..., 1], x[..., 2]
        rg = (r - g).flatten(1)
        yb = (0.5 * (r + g) - b).flatten(1)
        sigma = torch.sqrt(rg.var(1, unbiased=False) + yb.var(1, unbiased=False))
        mu = torch.sqrt(rg.mean(1) ** 2 + yb.mean(1) ** 2)
        return sigma + 0.3 * mu


@hookimpl
def register_metrics(register):
    for cls in (PSNR, MAE, SSIM, Colorfulness):
        register(cls.name, cls, description=(cls.__doc__ or "").split("\n")[0])


__all__ = ["PSNR", "MAE", "SSIM", "Colorfulness"]
