"""sRGB <-> CIE Lab (D65, 2° observer) in torch, batched, on any device.

Matches scikit-image's ``rgb2lab``/``lab2rgb`` (same matrices, white point and piecewise functions).
Network scaling follows pix2pix: ``L/50 - 1`` in [-1, 1] and ``ab/110`` in about [-1, 1].
"""

from __future__ import annotations

import torch

_XYZ_FROM_RGB = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]],
    dtype=torch.float64,
)
_RGB_FROM_XYZ = torch.linalg.inv(_XYZ_FROM_RGB)
_WHITE_D65 = torch.tensor([0.95047, 1.0, 1.08883], dtype=torch.float64)

L_SCALE, L_SHIFT, AB_SCALE = 50.0, 1.0, 110.0


def _mix(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 matrix over the channel axis of an (N, 3, H, W) tensor."""
    return torch.einsum("ij,njhw->nihw", matrix.to(device=x.device, dtype=x.dtype), x)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> Lab with L in [0, 100]."""
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = _mix(_XYZ_FROM_RGB, linear)
    xyz = xyz / _WHITE_D65.to(device=xyz.device, dtype=xyz.dtype).view(1, 3, 1, 1)
    f = torch.where(xyz > 0.008856, xyz.clamp_min(1e-12) ** (1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
    fx, fy, fz = f[:, 0:1], f[:, 1:2], f[:, 2:3]
    return torch.cat([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) Lab -> RGB clipped to [0, 1] (as scikit-image, negative Z is clipped to 0)."""
    L, a, b = lab[:, 0:1], lab[:, 1:2], lab[:, 2:3]
    fy = (L + 16.0) / 116.0
    fx = a / 500.0 + fy
    fz = (fy - b / 200.0).clamp_min(0.0)
    f = torch.cat([fx, fy, fz], dim=1)
    xyz = torch.where(f > 0.2068966, f**3, (f - 16.0 / 116.0) / 7.787)
    xyz = xyz * _WHITE_D65.to(device=xyz.device, dtype=xyz.dtype).view(1, 3, 1, 1)
    rgb = _mix(_RGB_FROM_XYZ, xyz)
    rgb = torch.where(rgb > 0.0031308, 1.055 * rgb.clamp_min(1e-12) ** (1.0 / 2.4) - 0.055, 12.92 * rgb)
    return rgb.clamp(0.0, 1.0)


def uint8_to_lab(images: torch.Tensor) -> torch.Tensor:
    """(N, H, W, 3) uint8 (any device) -> (N, 3, H, W) float32 Lab."""
    rgb = images.permute(0, 3, 1, 2).float().div_(255.0)
    return rgb_to_lab(rgb)


def lab_to_uint8(lab: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) Lab -> (N, H, W, 3) uint8 RGB: clip and round, as the metrics expect."""
    rgb = lab_to_rgb(lab.float())
    return rgb.mul(255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def lab_to_net(lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lab -> (L scaled to [-1, 1], ab scaled by 1/110): the generator's input and target."""
    return lab[:, 0:1] / L_SCALE - L_SHIFT, lab[:, 1:3] / AB_SCALE


def net_to_lab(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`lab_to_net`."""
    return torch.cat([(L + L_SHIFT) * L_SCALE, ab * AB_SCALE], dim=1)
