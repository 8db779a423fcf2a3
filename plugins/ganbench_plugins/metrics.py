"""Metrics on uint8 RGB (N, H, W, 3): per image (psnr, mae, ssim, colorfulness) and of the whole test set
(ab-swd, delta-cf). Definitions in docs/metrics.md; each is checked against scikit-image, scipy or a hand
computation in tests/score/test_metrics.py and tests/score/test_set_metrics.py."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ganbench.api import Metric, SetMetric, hookimpl, uint8_to_lab


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


#: The ab histogram's grid: bins of 2 ab units over [-128, 128) on each axis (128 x 128 bins).
AB_EDGE, AB_BIN = 128.0, 2.0
AB_BINS = int(2 * AB_EDGE / AB_BIN)
#: Directions of the sliced distance: K angles k·π/K, k = 0..K-1 (W1 is symmetric in θ and θ + π).
SWD_DIRECTIONS = 64


def ab_histogram(images: torch.Tensor) -> np.ndarray:
    """Pixel counts of uint8 RGB images on the fixed ab grid (float64, AB_BINS x AB_BINS, index [a, b])."""
    lab = uint8_to_lab(images).to(torch.float64)
    idx = ((lab[:, 1:] + AB_EDGE) / AB_BIN).floor().clamp(0, AB_BINS - 1).long()
    flat = (idx[:, 0] * AB_BINS + idx[:, 1]).flatten()
    return torch.bincount(flat, minlength=AB_BINS * AB_BINS).to(torch.float64).view(AB_BINS, AB_BINS).numpy()


def bin_centres() -> np.ndarray:
    """(AB_BINS², 2) ab centres of the grid's bins, in the order of ``ab_histogram(...).ravel()``."""
    c = -AB_EDGE + AB_BIN * (np.arange(AB_BINS) + 0.5)
    a, b = np.meshgrid(c, c, indexing="ij")
    return np.stack([a.ravel(), b.ravel()], axis=1)


def w1_1d(x: np.ndarray, p: np.ndarray, q: np.ndarray) -> float:
    """Wasserstein-1 between two weightings ``p``, ``q`` (each summing to 1) of the points ``x`` on a line:
    the integral of |F_p - F_q|."""
    order = np.argsort(x, kind="stable")
    xs, cdf = x[order], np.cumsum(p[order] - q[order])
    return float(np.sum(np.abs(cdf[:-1]) * np.diff(xs)))


def sliced_w1(p: np.ndarray, q: np.ndarray, points: np.ndarray, directions: int = SWD_DIRECTIONS) -> float:
    """Sliced Wasserstein-1 of two histograms on ``points`` (N, 2): the mean over ``directions`` angles
    θ_k = kπ/K of the 1-D W1 of the histograms projected on (cos θ_k, sin θ_k)."""
    p = p.ravel() / p.sum()
    q = q.ravel() / q.sum()
    keep = (p > 0) | (q > 0)  # empty bins move no mass
    p, q, pts = p[keep], q[keep], points[keep]
    total = 0.0
    for k in range(directions):
        theta = math.pi * k / directions
        total += w1_1d(pts @ np.array([math.cos(theta), math.sin(theta)]), p, q)
    return total / directions


class ABSlicedWasserstein(SetMetric):
    """Sliced Wasserstein-1 distance (ab units) between the predicted and the true ab histograms over the
    test set: fixed 2-unit bins, 64 directions. 0 = the same colour distribution; lower is better."""

    name, unit, higher_is_better = "ab-swd", "ab", False

    def reset(self) -> None:
        self.pred = np.zeros((AB_BINS, AB_BINS))
        self.true = np.zeros((AB_BINS, AB_BINS))

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        self.pred += ab_histogram(pred)
        self.true += ab_histogram(target)

    def compute(self) -> float:
        return sliced_w1(self.pred, self.true, bin_centres())


class DeltaColorfulness(SetMetric):
    """ΔCF: the set's colourfulness (mean Hasler-Süsstrunk over its images) minus the truth's. Signed:
    below 0 undersaturated, above 0 oversaturated; shown with its CI over seeds, not tested. No split-half value:
    between two halves of the photos ΔCF is one half's colourfulness minus the other's, a signed gap between
    different photos that no model is expected to reach (a perfect colourization scores 0)."""

    name, unit, higher_is_better, tested, split_half = "delta-cf", "", True, False, False

    def reset(self) -> None:
        self.sum_pred, self.sum_true, self.n = 0.0, 0.0, 0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        cf = Colorfulness()
        self.sum_pred += float(cf.compute(pred).sum())
        self.sum_true += float(cf.compute(target).sum())
        self.n += int(pred.shape[0])

    def compute(self) -> float:
        return (self.sum_pred - self.sum_true) / self.n if self.n else float("nan")


@hookimpl
def register_metrics(register):
    for cls in (PSNR, MAE, SSIM, Colorfulness, ABSlicedWasserstein, DeltaColorfulness):
        register(cls.name, cls, description=(cls.__doc__ or "").split("\n")[0])


__all__ = ["PSNR", "MAE", "SSIM", "Colorfulness", "ABSlicedWasserstein", "DeltaColorfulness", "ab_histogram",
           "sliced_w1", "w1_1d", "bin_centres"]
