"""UNet generator (pix2pix): L (N,1,H,W) in [-1,1] -> ab (N,2,H,W) in [-1,1]."""

from __future__ import annotations

import torch
from torch import nn

from ganbench.api import SizeHints, hookimpl, init_weights


class UNet(nn.Module):
    """``depth`` 4x4 stride-2 down convs (BatchNorm, LeakyReLU 0.2) and as many up convs (BatchNorm,
    ReLU), with the output of down layer i concatenated to the input of up layer n-i; tanh output.

    As pix2pix: no BatchNorm on the first down layer nor on the innermost one, and ``dropout`` 0.5 in the
    three innermost up layers (on in training only: it keeps the generator from memorising a small training
    set; what it changes on the dev photos is measured in results/README.md). Channels double per level
    from ``base_channels`` up to ``max_channels``. ``zero_init_output`` starts the network at a=b=0 (the
    gray baseline), so training begins from the best colour-free answer instead of random colours.
    """

    def __init__(
        self,
        depth: int = 6,
        base_channels: int = 64,
        max_channels: int | None = None,
        in_channels: int = 1,
        out_channels: int = 2,
        zero_init_output: bool = True,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError("depth must be >= 1")
        if base_channels < 1 or (max_channels is not None and max_channels < 1):
            raise ValueError(f"base_channels and max_channels must be >= 1, got {base_channels}, {max_channels}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")
        self.depth = depth
        max_channels = max_channels or base_channels * 8
        widths = [min(base_channels * 2**i, max_channels) for i in range(depth)]
        self.downs = nn.ModuleList()
        prev = in_channels
        for i, w in enumerate(widths):
            layers: list[nn.Module] = []
            if i > 0:
                layers.append(nn.LeakyReLU(0.2, inplace=True))
            norm = 0 < i < depth - 1
            layers.append(nn.Conv2d(prev, w, 4, 2, 1, bias=not norm))
            if norm:
                layers.append(nn.BatchNorm2d(w))
            self.downs.append(nn.Sequential(*layers))
            prev = w
        self.ups = nn.ModuleList()
        for i in reversed(range(depth)):
            # up block i mirrors down block i; inputs: innermost output, or previous up + skip
            in_w = widths[i] if i == depth - 1 else widths[i] * 2
            out_w = widths[i - 1] if i > 0 else out_channels
            layers = [nn.ReLU(inplace=True), nn.ConvTranspose2d(in_w, out_w, 4, 2, 1, bias=i == 0)]
            if i > 0:
                layers.append(nn.BatchNorm2d(out_w))
                if dropout > 0 and i >= depth - 3:
                    layers.append(nn.Dropout(dropout))
            else:
                layers.append(nn.Tanh())
            self.ups.append(nn.Sequential(*layers))
        self.apply(init_weights)
        if zero_init_output:
            last = self.ups[-1][1]  # type: ignore[index]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        skips = []
        x = L
        for down in self.downs:
            x = down(x)
            skips.append(x)
        x = self.ups[0](skips[-1])
        for up, skip in zip(self.ups[1:], reversed(skips[:-1]), strict=True):
            x = up(torch.cat([x, skip], dim=1))
        return x


def unet(hints: SizeHints | None = None, **options) -> UNet:
    """A UNet sized by the budget's hints (width -> base_channels, depth -> depth) where the recipe's options
    do not say."""
    sized = {"base_channels": hints.width, "depth": hints.depth} if hints is not None else {}
    return UNet(**{**{k: v for k, v in sized.items() if v is not None}, **options})


@hookimpl
def register_generators(register):
    register("unet", unet, description="pix2pix UNet (4x4 stride-2, BatchNorm, skips, tanh)", accepts=("hints",))
