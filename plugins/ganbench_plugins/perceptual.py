"""The optional extra ``pip install -e ".[perceptual]"``: KID and FID (set-level) through torchmetrics, and LPIPS
(per image).

The feature network is the FID Inception-v3 (the TensorFlow 2015-12-05 graph ported by pytorch-fid), written here
in plain torch because torchvision's wheels on the package index need the CUDA torch and do not import beside the
CPU one; its body equals torch-fidelity's FeatureExtractorInceptionV3 with the same weights (tested where
torch-fidelity is installed). Its weights are never downloaded: they are read from ``$TORCH_HOME/hub/checkpoints``
(or the file or folder ``$GANBENCH_WEIGHTS`` names), checked by sha256, and loaded strictly (every
tensor's name and shape must match the architecture). The arithmetic (Fréchet distance, the polynomial-kernel MMD)
is torchmetrics'.

LPIPS (Zhang et al. 2018): torchmetrics' ``LearnedPerceptualImagePatchSimilarity`` builds its AlexNet through
torchvision, which cannot be used here (above), so the network is torchvision's ``alexnet().features`` layer for
layer (same parameter names: its ImageNet weights load strictly) and the arithmetic is torchmetrics' own, checked
against torchmetrics' ``_LPIPS`` with the same weights (tests/plugins/test_lpips.py):

    x ∈ [-1, 1] -> (x - shift) / scale -> AlexNet relu1..relu5 -> each unit-normalised over channels
    -> squared difference -> 1x1 linear head (LPIPS v0.1, non-negative) -> mean over H, W -> sum over the 5 taps

The AlexNet file is read like the Inception's; the linear heads ship inside torchmetrics. Both are checked by
sha256 before they are loaded.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.api import Metric, PluginError, SetMetric, hookimpl


# --- pretrained weights: read, never downloaded, checked by sha256 -----------------------------------------
@dataclass(frozen=True)
class WeightsFile:
    """A pretrained file ganbench reads but never downloads. ``sha256`` is the full digest, or only its leading
    hex digits where no full digest is published (torch hub's own check: the prefix in the file name)."""

    file: str
    url: str
    sha256: str

    @property
    def digest_text(self) -> str:
        return self.sha256 if len(self.sha256) == 64 else f"starting {self.sha256} (the full digest is not published)"


def hub_checkpoints() -> Path:
    return Path(os.environ.get("TORCH_HOME") or Path.home() / ".cache" / "torch") / "hub" / "checkpoints"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def locate_weights(spec: WeightsFile) -> Path:
    """The verified path of ``spec``: ``$GANBENCH_WEIGHTS`` (a file, or a folder holding it), else the torch hub
    cache. Missing: a PluginError naming the file, its URL, its sha256 and where to put it; a file of another
    sha256 is refused."""
    user = os.environ.get("GANBENCH_WEIGHTS")
    if user:
        path = Path(user).expanduser()
        path = path / spec.file if path.is_dir() else path
    else:
        path = hub_checkpoints() / spec.file
    if not path.is_file():
        raise PluginError(f"{spec.file} not found at {path}: ganbench never downloads weights; fetch {spec.url} "
                          f"(sha256 {spec.digest_text}) into {hub_checkpoints()} or set GANBENCH_WEIGHTS to its path "
                          "(or to a folder holding it)")
    return verified(path, spec)


def verified(path: Path, spec: WeightsFile) -> Path:
    """``path`` when its sha256 is ``spec``'s (or starts with ``spec``'s prefix); else a PluginError: refused."""
    digest = sha256_of(path)
    if not digest.startswith(spec.sha256):
        raise PluginError(f"{path} has sha256 {digest}, not {spec.digest_text} ({spec.file} from {spec.url}): refused")
    return path



#: pytorch-fid's port of the TensorFlow FID Inception (torch hub name: the sha256's first 8 digits). Its full sha256
#: is the one independent projects pin for this file and for torch-fidelity's byte-identical copy
#: (weights-inception-2015-12-05-6726825d.pth, 95,628,359 bytes); not recomputed here (no download): docs/metrics.md.
FID_INCEPTION = WeightsFile(
    "pt_inception-2015-12-05-6726825d.pth",
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
    "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
)
#: Below this many test images FID's bias (which depends on N and on the model) dominates: prefer KID.
FID_MIN_IMAGES = 2048


# --- the FID Inception-v3, plain torch (names and shapes of torchvision's Inception3 / pytorch-fid) ---------
class BasicConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, **kw: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg(x: torch.Tensor) -> torch.Tensor:  # the TF graph's average pool leaves the padding out
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(_avg(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    def __init__(self, cin: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool  # the last block of the TF graph pools by max (pytorch-fid's FIDInceptionE_2)
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg(x)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(b3), self.branch3x3_2b(b3),
                          self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d), self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """uint8 RGB (N, 3, H, W) -> the 2048 pool features FID uses: bilinear resize to 299 x 299 (as pytorch-fid),
    scaled to [-1, 1]."""

    num_features = 2048
    resize = 299

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = InceptionA(192, 32), InceptionA(256, 64), InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b, self.Mixed_6c = InceptionC(768, 128), InceptionC(768, 160)
        self.Mixed_6d, self.Mixed_6e = InceptionC(768, 160), InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b, self.Mixed_7c = InceptionE(1280, max_pool=False), InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)  # in the weights file; unused for features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float() / 255.0
        x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", align_corners=False)
        return self.body(2 * x - 1)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        """The network on an input already resized and scaled to [-1, 1] (checked against torch-fidelity's
        FeatureExtractorInceptionV3 with the same weights: tests/plugins/test_perceptual.py)."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


def fid_inception() -> nn.Module:
    """The FID Inception with its verified weights, loaded strictly (a mismatch is a PluginError)."""
    path = locate_weights(FID_INCEPTION)
    net = FIDInceptionV3()
    try:
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    except RuntimeError as exc:
        raise PluginError(f"{path} does not fit the FID Inception-v3: {str(exc).splitlines()[0]}") from None
    return net.eval()


class _Features(nn.Module):
    """A feature network as torchmetrics calls it: uint8 (N, 3, H, W) -> (N, D) float features, no grad."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        width: Any = net.num_features  # a plain int attribute of the feature network
        self.num_features = int(width)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).double()


def _torchmetrics() -> tuple[Any, Any]:
    try:
        import torchmetrics.image.fid as fid
        import torchmetrics.image.kid as kid
    except ImportError:
        raise PluginError('KID/FID need torchmetrics: pip install -e ".[perceptual]"') from None
    return fid, kid


def _versions() -> dict[str, str]:
    import torchmetrics

    return {"torchmetrics": torchmetrics.__version__, "torch": torch.__version__}


class _FeatureSetMetric(SetMetric):
    unit, higher_is_better, batch_size = "", False, 32
    impl: Any  # the torchmetrics object, made by reset()
    network = "FID Inception-v3 (pytorch-fid port of TF 2015-12-05), pool3 2048-d"

    def __init__(self, features: nn.Module | None = None) -> None:
        self._fid_mod, self._kid_mod = _torchmetrics()
        self.features = _Features(features if features is not None else fid_inception())
        resize = getattr(self.features.net, "resize", None)
        self.details: dict[str, Any] = {
            **_versions(), "feature_network": self.network if features is None else type(features).__name__,
            "resize": f"bilinear to {resize} x {resize}" if resize else "none",
            "weights": None if features is not None else {"file": FID_INCEPTION.file, "sha256": FID_INCEPTION.sha256}}

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        self.impl.update(target.permute(0, 3, 1, 2).contiguous(), real=True)
        self.impl.update(pred.permute(0, 3, 1, 2).contiguous(), real=False)


class FID(_FeatureSetMetric):
    """Fréchet Inception distance (torchmetrics) between the predictions' and the photos' Inception features;
    biased below 2,048 images (prefer KID there)."""

    name = "fid"

    def reset(self) -> None:
        self.impl = self._fid_mod.FrechetInceptionDistance(feature=self.features, reset_real_features=True)
        self.n = 0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        super().update(pred, target)
        self.n += int(pred.shape[0])

    def compute(self) -> float:
        if self.n < FID_MIN_IMAGES:
            self.details["warning"] = (f"FID on {self.n} images (< {FID_MIN_IMAGES}) is biased by an amount that "
                                       "depends on N and on the model: read KID, compare only at equal N")
        return float(self.impl.compute())


class KID(_FeatureSetMetric):
    """Kernel Inception distance (torchmetrics: unbiased MMD², cubic polynomial kernel, mean over subsets of
    min(1,000, N) images); unbiased at any N, so preferred below 2,048 images."""

    name = "kid"
    subsets, subset_size = 100, 1000

    def reset(self) -> None:
        with warnings.catch_warnings():  # "will save all extracted features": 2 x N x 2048 floats, documented
            warnings.simplefilter("ignore", UserWarning)
            self.impl = self._kid_mod.KernelInceptionDistance(feature=self.features, subsets=self.subsets,
                                                              subset_size=self.subset_size, reset_real_features=True)
        self.n = 0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        super().update(pred, target)
        self.n += int(pred.shape[0])

    def compute(self) -> float:
        self.impl.subset_size = min(self.subset_size, self.n)
        with torch.random.fork_rng():  # the subsets are drawn at random: the same draw for every set
            torch.manual_seed(0)
            mean, _ = self.impl.compute()
        return float(mean)


# --- LPIPS (per image): AlexNet + the LPIPS v0.1 linear heads, torchmetrics' arithmetic -------------------
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


@hookimpl
def register_metrics(register: Any) -> None:
    for cls in (KID, FID, LPIPS):
        register(cls.name, cls, description=(cls.__doc__ or "").split("\n")[0])


__all__ = ["KID", "FID", "LPIPS", "FIDInceptionV3", "LPIPSNet", "WeightsFile", "FID_INCEPTION", "ALEXNET",
           "LPIPS_HEADS", "alexnet_features", "lpips_net", "locate_weights", "sha256_of", "hub_checkpoints", "verified"]
