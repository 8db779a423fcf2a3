"""PatchGAN critic (pix2pix): scores overlapping patches of (L, ab); options for spectral normalisation
(SNGAN) and for returning its intermediate features (feature matching)."""

from __future__ import annotations

import torch
from torch import nn

from ganbench.api import SizeHints, hookimpl, init_weights

NORMS = ("batch", "instance", "layer", "none")


def _norm(kind: str, channels: int) -> nn.Module | None:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "layer":  # LayerNorm over (C, H, W): per-sample, safe for the gradient penalty
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return None
    raise ValueError(f"unknown critic norm '{kind}'; choose one of {', '.join(NORMS)}")


class PatchGAN(nn.Module):
    """``layers`` 4x4 stride-2 convs (LeakyReLU 0.2, the chosen norm except on the first), one stride-1
    conv, then a 1-channel stride-1 conv: raw scores (logits or critic values), one per patch.

    ``spectral_norm``: every convolution's weight divided by its largest singular value (Miyato et al. 2018,
    one power iteration per training forward, torch's ``spectral_norm`` parametrisation), usually with
    ``norm="none"``. ``features``: the critic declares ``returns_features`` and returns ``(scores,
    [features])``, the output of each LeakyReLU (layers + 1 of them, pix2pixHD's intermediate outputs)."""

    def __init__(self, in_channels: int = 3, base_channels: int = 64, layers: int = 3, norm: str = "batch",
                 spectral_norm: bool = False, features: bool = False):
        super().__init__()
        for name, flag in (("spectral_norm", spectral_norm), ("features", features)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be true or false, got {flag!r}")
        self.returns_features = features
        if norm not in NORMS:
            raise ValueError(f"unknown critic norm '{norm}'; choose one of {', '.join(NORMS)}")
        if base_channels < 1 or layers < 0:
            raise ValueError(f"base_channels must be >= 1 and layers >= 0, got {base_channels}, {layers}")
        mods: list[nn.Module] = [nn.Conv2d(in_channels, base_channels, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        width = base_channels
        for i in range(1, layers + 1):
            stride = 2 if i < layers else 1
            out = base_channels * min(2**i, 8)
            norm_layer = _norm(norm, out)
            mods.append(nn.Conv2d(width, out, 4, stride, 1, bias=norm_layer is None))
            if norm_layer is not None:
                mods.append(norm_layer)
            mods.append(nn.LeakyReLU(0.2, True))
            width = out
        mods.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.net = nn.Sequential(*mods)
        self.apply(init_weights)
        if spectral_norm:
            for i, mod in enumerate(self.net):
                if isinstance(mod, nn.Conv2d):
                    self.net[i] = nn.utils.parametrizations.spectral_norm(mod)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        if not self.returns_features:
            return self.net(x)
        features = []
        for mod in self.net:
            x = mod(x)
            if isinstance(mod, nn.LeakyReLU):
                features.append(x)
        return x, features


def patchgan(hints: SizeHints | None = None, **options) -> PatchGAN:
    """A PatchGAN sized by the budget's hints (width -> base_channels, depth -> layers) where the recipe's
    options do not say."""
    sized = {"base_channels": hints.width, "layers": hints.depth} if hints is not None else {}
    return PatchGAN(**{**{k: v for k, v in sized.items() if v is not None}, **options})


@hookimpl
def register_critics(register):
    register("patchgan", patchgan, description="pix2pix PatchGAN; norm = batch | instance | layer | none, "
             "spectral_norm = false | true, features = false | true (returns its features)",
             accepts=("hints",))
