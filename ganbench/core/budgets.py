"""Named training budgets and the ``--budget`` mini-language.

A budget fixes what every model of a comparison gets: image size, batch size, how long to train
(generator steps, generator images, epochs or wall-clock seconds), and suggests network sizes (width and
depth hints) that fit the hardware it is sized for. The unit is the *generator's* work: WGAN's five
critic steps per generator step are recorded (critic steps, FLOPs) but do not buy it fewer generator
steps. See docs/budgets.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ganbench.core.contract import SizeHints
from ganbench.core.errors import ConfigError, unknown_name

#: The networks a budget gives size hints to.
NETWORKS = ("generator", "critic")


@dataclass(frozen=True)
class Budget:
    name: str
    image_size: int
    batch_size: int
    steps: int | None = None
    images: int | None = None
    epochs: float | None = None
    seconds: float | None = None
    #: Size hints per network, {"generator": {"width": 16, "depth": 6}, "critic": {...}}: what the hardware
    #: this budget is sized for can afford. Suggestions only: a network that declares ``hints`` maps them to
    #: its own options (recipe options and --set win), any other network ignores them.
    hints: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Validation every this many generator steps (0: only at the end).
    eval_every: int = 0
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Budget:
        """A recorded budget (keys this version does not know, e.g. an older record's, are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def size_hints(self, network: str) -> SizeHints:
        return SizeHints(image_size=self.image_size, batch_size=self.batch_size, **self.hints.get(network, {}))

    def total_steps(self, n_train: int) -> int | None:
        """Generator steps this budget buys, or None for a pure wall-clock budget."""
        limits = []
        if self.steps is not None:
            limits.append(self.steps)
        if self.images is not None:
            limits.append(math.ceil(self.images / self.batch_size))
        if self.epochs is not None:
            limits.append(math.ceil(self.epochs * n_train / self.batch_size))
        return min(limits) if limits else None


def _hints(g_width: int, g_depth: int, d_width: int, d_depth: int) -> dict[str, dict[str, int]]:
    return {"generator": {"width": g_width, "depth": g_depth}, "critic": {"width": d_width, "depth": d_depth}}


BUDGETS: dict[str, Budget] = {
    b.name: b
    for b in [
        Budget(
            "smoke", image_size=32, batch_size=4, steps=4, eval_every=2,
            hints=_hints(8, 5, 8, 2),
            description="tests and wiring checks: seconds per model, numbers meaningless",
        ),
        Budget(
            "cpu", image_size=64, batch_size=16, steps=600, eval_every=50, hints=_hints(16, 6, 16, 3),
            description="the CPU default: three models in under 10 minutes on 2 cores",
        ),
        Budget(
            "seed", image_size=256, batch_size=20, epochs=10, eval_every=250,
            hints=_hints(64, 8, 64, 3),
            description="the original study: 5,000 images x 10 epochs, batch 20, 256x256 (use --limit 5000)",
        ),
        Budget(
            "gpu", image_size=256, batch_size=64, images=1_280_000, eval_every=2000,
            hints=_hints(64, 8, 64, 3),
            description="headline GPU comparison: 1.28M generator images at 256x256, batch 64 (H100)",
        ),
    ]
}

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h)?$")


def parse_duration(text: str) -> float:
    m = _DURATION.match(text.strip())
    if not m:
        raise ConfigError(f"malformed duration '{text}': use e.g. 90s, 10m or 1.5h")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def _positive_int(key: str, value: str) -> int:
    try:
        number = int(float(value.replace("_", "")))
    except ValueError:
        raise ConfigError(f"malformed --budget value {key}={value}: expected a whole number") from None
    if number < 1 or float(value.replace("_", "")) != number:
        raise ConfigError(f"malformed --budget value {key}={value}: expected a whole number >= 1")
    return number


def parse_budget(spec: str | None, default: str = "cpu") -> Budget:
    """``cpu`` | ``images=50000`` | ``time=10m`` | ``seed,epochs=2`` | ``steps=200,batch=8,size=64``.

    Key=value parts replace the stopping rule (steps, images, epochs, time) of the named budget (or of
    ``default``) and may also set ``batch`` and ``size``.
    """
    spec = (spec or default).strip()
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise ConfigError("empty --budget")
    base_name = default
    if "=" not in parts[0]:
        base_name = parts.pop(0)
    if base_name not in BUDGETS:
        raise unknown_name("budget", base_name, list(BUDGETS))
    budget = BUDGETS[base_name]
    stop: dict[str, Any] = {}
    other: dict[str, Any] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value:
            raise ConfigError(f"malformed --budget part '{part}': expected KEY=VALUE")
        if key in ("steps", "images"):
            stop[key] = _positive_int(key, value)
        elif key == "epochs":
            try:
                stop["epochs"] = float(value)
            except ValueError:
                raise ConfigError(f"malformed --budget value epochs={value}") from None
            if stop["epochs"] <= 0:
                raise ConfigError("--budget epochs must be > 0")
        elif key in ("time", "seconds"):
            stop["seconds"] = parse_duration(value)
            if stop["seconds"] <= 0:
                raise ConfigError("--budget time must be > 0")
        elif key in ("batch", "batch_size"):
            other["batch_size"] = _positive_int(key, value)
        elif key in ("size", "image_size"):
            other["image_size"] = _positive_int(key, value)
        else:
            raise ConfigError(
                f"unknown --budget key '{key}': use steps, images, epochs, time, batch or size"
            )
    if stop:
        budget = replace(budget, **{**{"steps": None, "images": None, "epochs": None, "seconds": None}, **stop})
    if stop or other:
        budget = replace(budget, name=f"{base_name}+custom" if base_name else "custom", **other)
    return budget


def describe(budget: Budget) -> str:
    parts = []
    if budget.steps is not None:
        parts.append(f"{budget.steps} steps")
    if budget.images is not None:
        parts.append(f"{budget.images:,} images")
    if budget.epochs is not None:
        parts.append(f"{budget.epochs:g} epochs")
    if budget.seconds is not None:
        parts.append(f"{budget.seconds:g} s")
    return " or ".join(parts) or "unbounded"
