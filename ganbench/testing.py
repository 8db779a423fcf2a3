"""Helpers for plugin authors' own tests (and ganbench's).

    from ganbench.testing import plugin, train_tiny

    def test_my_loss():
        with plugin(my_package.plugin) as registry:
            result = train_tiny(registry, loss="my-loss")
        assert result.finite and result.generator_changed
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from ganbench.core import registry as _registry
from ganbench.core.registry import Registry, load_registry


@contextlib.contextmanager
def plugin(obj: object, name: str | None = None) -> Iterator[Registry]:
    """Register a plugin (a module or any object with ``@hookimpl`` functions) in-process for the block.

    Yields a registry with it loaded beside the selected entry-point plugins; ``ganbench`` commands run
    inside the block (e.g. through click's CliRunner) see it too.
    """
    name = name or getattr(obj, "__name__", None) or type(obj).__name__
    entry = (name, obj)
    _registry.IN_PROCESS.append(entry)
    try:
        yield load_registry()
    finally:
        _registry.IN_PROCESS.remove(entry)


@dataclass
class TinyResult:
    losses: list[dict[str, float]]
    finite: bool
    generator_changed: bool
    critic_changed: bool


def train_tiny(
    registry: Registry, loss: str | None = None, model: str = "dcgan", steps: int = 3,
    sets: dict[str, Any] | None = None, loss_options: dict[str, Any] | None = None, image_size: int = 32,
) -> TinyResult:
    """Train a tiny model for a few steps on synthetic images with ``loss`` (and its ``loss_options``) swapped
    into ``model``'s recipe and report whether the losses stayed finite and both networks changed."""
    from ganbench.train.setup import build_trainer

    overrides = dict(sets or {})
    if loss is not None:
        overrides["loss"] = loss
        overrides.update({f"loss.{key}": value for key, value in (loss_options or {}).items()})
    trainer = build_trainer(registry, model, "smoke", image_size=image_size, sets=overrides)
    nets = trainer.nets
    g0 = [p.detach().clone() for p in nets.generator.parameters()]
    c0 = [p.detach().clone() for p in nets.critic.parameters()]
    for _ in range(steps):
        trainer.train_step()
    divergence = trainer.flush()
    changed = lambda before, net: any(  # noqa: E731
        not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    return TinyResult(trainer.history, divergence is None, changed(g0, nets.generator), changed(c0, nets.critic))
