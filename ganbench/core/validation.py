"""Recipe values checked where they enter (a plugin's recipe, a config file, ``--set``): ranges and
finiteness, one line naming the key. What a network or loss plugin accepts is checked by the plugin itself
(its factory raises ``ValueError``); here it is built once so that its complaint names the model."""

from __future__ import annotations

import math
from typing import Any

from ganbench.core.errors import ConfigError
from ganbench.core.registry import Registry

#: Optimiser options and the range each must lie in: (lowest, highest, lowest allowed, highest allowed).
OPTIMIZER_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "lr": (0.0, math.inf, False, False),
    "eps": (0.0, math.inf, False, False),
    "weight_decay": (0.0, math.inf, True, False),
    "momentum": (0.0, math.inf, True, False),
    "dampening": (0.0, 1.0, True, True),
    "alpha": (0.0, 1.0, True, False),
}


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def in_range(value: Any, low: float, high: float, low_ok: bool, high_ok: bool) -> bool:
    """A finite number in the interval (``low_ok``/``high_ok``: whether the ends belong to it)."""
    if not is_number(value) or not math.isfinite(value):
        return False
    return (value > low or (low_ok and value == low)) and (value < high or (high_ok and value == high))


def interval(low: float, high: float, low_ok: bool, high_ok: bool) -> str:
    """``a finite number > 0``, ``a number in [0, 1)``."""
    if high == math.inf:
        return f"a finite number {'>=' if low_ok else '>'} {low:g}"
    return f"a number in {'[' if low_ok else '('}{low:g}, {high:g}{']' if high_ok else ')'}"


def require(model: str, key: str, value: Any, low: float, high: float, low_ok: bool, high_ok: bool) -> None:
    if not in_range(value, low, high, low_ok, high_ok):
        raise ConfigError(f"model '{model}': {key} must be {interval(low, high, low_ok, high_ok)}, got {value!r}")


def check_optimizer(model: str, key: str, spec: dict[str, Any]) -> None:
    options = {**spec.get("options", {}), **{k: v for k, v in spec.items() if k != "options"}}
    for name, bounds in OPTIMIZER_RANGES.items():
        if name in options:
            require(model, f"{key}.{name}", options[name], *bounds)
    if "betas" in options:
        betas = options["betas"]
        if not isinstance(betas, (list, tuple)) or len(betas) != 2 or not all(
                in_range(b, 0.0, 1.0, True, False) for b in betas):
            raise ConfigError(f"model '{model}': {key}.betas must be two numbers in [0, 1), e.g. [0.5, 0.999], "
                              f"got {betas!r}")


def check_loss(registry: Registry, model: str, recipe: dict[str, Any]) -> None:
    """Build the loss once: a value its plugin rejects is reported with the model's and the loss' name."""
    try:
        registry.create("loss", recipe["loss"], **recipe["loss_options"])
    except ValueError as exc:
        raise ConfigError(f"model '{model}': loss '{recipe['loss']}': {exc}") from None


def check_recipe_values(registry: Registry, model: str, recipe: dict[str, Any]) -> None:
    """Every number of a resolved recipe (a dict with every field of ``Recipe``, as --set and config files
    edit it) in its range, before it becomes a ``Recipe`` and anything is built or trained."""
    n_critic = recipe["n_critic"]
    if not isinstance(n_critic, int) or isinstance(n_critic, bool) or n_critic < 1:
        raise ConfigError(f"model '{model}': n_critic must be a whole number >= 1, got {n_critic!r}")
    require(model, "l1_weight", recipe["l1_weight"], 0.0, math.inf, True, False)
    require(model, "lr_decay", recipe["lr_decay"], 0.0, 1.0, True, False)
    for key in ("generator_optimizer", "critic_optimizer"):
        check_optimizer(model, key, recipe[key])
    check_loss(registry, model, recipe)
