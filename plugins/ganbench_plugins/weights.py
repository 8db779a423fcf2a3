"""Pretrained weights ganbench reads but never downloads: from ``$GANBENCH_WEIGHTS`` (a file, or a folder holding
the files) or the torch hub cache (``$TORCH_HOME/hub/checkpoints``), checked by sha256 before they are loaded.
Used by the [perceptual] metrics (``perceptual.py``: KID, FID; ``lpips.py``: LPIPS)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ganbench.api import PluginError


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


__all__ = ["WeightsFile", "hub_checkpoints", "sha256_of", "locate_weights", "verified"]
