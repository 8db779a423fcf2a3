"""LPIPS (Zhang et al. 2018, "The unreasonable effectiveness of deep features as a perceptual metric"), per image,
in plain torch: part of the optional extra ``pip install -e ".[perceptual]"``.

torchmetrics' ``LearnedPerceptualImagePatchSimilarity`` builds its AlexNet through torchvision, and torchvision's
wheels on the package index are built against the CUDA torch (their compiled operators need libtorch_cuda), so
they do not import beside the CPU torch this project pins. The network here is torchvision's ``alexnet().features``
layer for layer (same parameter names, so its ImageNet weights load strictly) and the LPIPS arithmetic is
torchmetrics' own, checked against torchmetrics' ``_LPIPS`` with the same weights in tests/plugins/test_lpips.py:

    x ∈ [-1, 1] -> (x - shift) / scale -> AlexNet relu1..relu5 -> each unit-normalised over channels
    -> squared difference -> 1x1 linear head (LPIPS v0.1, non-negative) -> mean over H, W -> sum over the 5 taps

No weights are downloaded: the AlexNet file is read from the torch hub cache or ``$GANBENCH_WEIGHTS`` (weights.py);
the linear heads ship inside torchmetrics. Both are checked by sha256 before they are loaded.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ganbench.api import Metric, PluginError
from ganbench_plugins.weights import WeightsFile, locate_weights, verified

#: torchvision's ImageNet AlexNet. Only the first 8 hex digits of its sha256 are published (torch hub's file name,
#: all torch.hub itself checks); the check here is the same.
ALEXNET = WeightsFile("alexnet-owt-7be5be79.pth", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
                      "7be5be79")
#: The LPIPS v0.1 linear heads for AlexNet, as torchmetrics ships them (torchmetrics/functional/image/lpips_models/
#: alex.pth; the same bytes as the lpips package's lpips/weights/v0.1/alex.pth).
LPIPS_HEADS = WeightsFile("alex.pth", "torchmetrics/functional/image/lpips_models/alex.pth inside torchmetrics",
                          "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0")
#: Channels of the five taps and the index of each tap's ReLU in ``alexnet().features``.
CHANNELS = (64, 192, 384, 256, 256)
TAPS = (1, 4, 7, 9, 11)
#: LPIPS' input scaling (its ScalingLayer), on [-1, 1] RGB.
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
#: The smallest image side the five taps exist for (relu5 is then 1 x 1).
MIN_SIZE = 31


def alexnet_features() -> nn.Sequential:
    """torchvision's ``alexnet().features``: the same layers at the same indices (so ``features.N.*`` load)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))


def _unit(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Each position's feature vector divided by its length (torchmetrics' ``_normalize_tensor``)."""
    return x / torch.sqrt(eps + (x * x).sum(1, keepdim=True))


class LPIPSNet(nn.Module):
    """(N, 3, H, W) pairs in [-1, 1] -> N LPIPS distances."""

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(self, features: nn.Sequential | None = None) -> None:
        super().__init__()
        self.features = features if features is not None else alexnet_features()
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in CHANNELS)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)

    def taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i in range(TAPS[-1] + 1):
            x = self.features[i](x)
            if i in TAPS:
                out.append(x)
        return out

    @torch.no_grad()
    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        f0 = self.taps((x0 - self.shift) / self.scale)
        f1 = self.taps((x1 - self.shift) / self.scale)
        total = torch.zeros(x0.shape[0], dtype=x0.dtype, device=x0.device)
        for head, a, b in zip(self.heads, f0, f1, strict=True):
            total = total + head((_unit(a) - _unit(b)) ** 2).mean(dim=(1, 2, 3))
        return total


def heads_path() -> Path:
    try:
        import torchmetrics
    except ImportError:
        raise PluginError('LPIPS needs torchmetrics (its linear heads ship there): pip install -e ".[perceptual]"') \
            from None
    path = Path(torchmetrics.__file__).parent / "functional" / "image" / "lpips_models" / LPIPS_HEADS.file
    if not path.is_file():
        raise PluginError(f"this torchmetrics ({torchmetrics.__version__}) has no LPIPS heads at {path}")
    return verified(path, LPIPS_HEADS)


def _load(module: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise PluginError(f"{path} does not fit LPIPS' AlexNet: {str(exc).splitlines()[0]}") from None


def lpips_net() -> LPIPSNet:
    """LPIPS-AlexNet with its verified weights, loaded strictly (a mismatch is a PluginError)."""
    net = LPIPSNet()
    alex = locate_weights(ALEXNET)
    state = torch.load(alex, map_location="cpu", weights_only=True)
    _load(net.features, {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}, alex)
    heads = heads_path()
    lin = torch.load(heads, map_location="cpu", weights_only=True)
    _load(net.heads, {f"{k}.weight": lin[f"lin{k}.model.1.weight"] for k in range(len(CHANNELS))
                      if f"lin{k}.model.1.weight" in lin}, heads)
    return net.eval()


class LPIPS(Metric):
    """LPIPS (AlexNet, v0.1 linear heads) between each prediction and its photo: 0 = the same image to the network;
    lower is better. Per image, so it gets per-photo verdicts like PSNR."""

    name, unit, higher_is_better = "lpips", "", False
    batch_size = 32

    def __init__(self, net: nn.Module | None = None) -> None:
        self.net = net if net is not None else lpips_net()

    def compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if min(pred.shape[1], pred.shape[2]) < MIN_SIZE:
            raise ValueError(f"LPIPS needs images of at least {MIN_SIZE}x{MIN_SIZE}, got {pred.shape[1]}x"
                             f"{pred.shape[2]}")
        out = []
        for start in range(0, pred.shape[0], self.batch_size):
            x0, x1 = (t[start : start + self.batch_size].permute(0, 3, 1, 2).float() / 127.5 - 1
                      for t in (pred, target))
            out.append(self.net(x0, x1).double())
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)


__all__ = ["LPIPS", "LPIPSNet", "ALEXNET", "LPIPS_HEADS", "alexnet_features", "lpips_net"]
