"""A recipe's regularizers (``Recipe.regularizers``) built and composed with its loss: the critic step sees one
``AdversarialLoss`` whose ``critic_regularizer`` adds every regularizer that runs on each critic step to the
loss' own, and whose ``lazy_regularizer`` gives those run every k-th critic step (option ``every``, multiplied
by k), which the trainer takes in an optimiser step of their own (StyleGAN2's lazy regularization). What each
penalty receives is what it declared (``Regularizer.needs``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganbench.core.contract import REGULARIZER_NEEDS, AdversarialLoss, CriticInputs, Regularizer
from ganbench.core.errors import ConfigError, PluginError
from ganbench.core.registry import Registry
from ganbench.train.distributed import global_rows, rank_slice


@dataclass
class ActiveRegularizer:
    """A built regularizer and how often it runs (every ``every``-th critic step, multiplied by ``every``)."""

    name: str
    regularizer: Regularizer
    every: int = 1


def parse_every(model: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"model '{model}': regularizer '{name}': every must be a whole number >= 1 "
                          f"(1 = every critic step), got {value!r}")
    return value


def build_regularizers(registry: Registry, specs: list[dict[str, Any]], model: str) -> list[ActiveRegularizer]:
    """The regularizers a recipe lists (``[{"name": "r1", "gamma": 10, "every": 16}]``), built by their plugins
    and checked to be ``Regularizer``s that need only what the trainer gives."""
    out = []
    for spec in specs:
        options = dict(spec)
        name = options.pop("name")
        every = parse_every(model, name, options.pop("every", 1))
        obj = registry.create("regularizer", name, **options)
        plugin = registry.get("regularizer", name).plugin
        if not isinstance(obj, Regularizer):
            raise PluginError(f"plugin {plugin}: regularizer '{name}' factory returned {type(obj).__name__}, "
                              "not a ganbench.core.contract.Regularizer")
        unknown = sorted(set(obj.needs) - set(REGULARIZER_NEEDS))
        if unknown:
            raise PluginError(f"plugin {plugin}: regularizer '{name}' needs {unknown}, which the trainer does not "
                              f"give; known: {', '.join(REGULARIZER_NEEDS)}")
        out.append(ActiveRegularizer(name, obj, every))
    return out


def interpolates(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """ε·real + (1-ε)·fake, one ε ~ U(0, 1) per image drawn for the global batch (N data-parallel processes
    draw what one draws), at least float32 (WGAN-GP's interpolates)."""
    n = real.shape[0]
    dtype = torch.promote_types(real.dtype, torch.float32)
    eps = torch.rand(global_rows(n), 1, 1, 1, device=real.device, dtype=dtype)[rank_slice(n)]
    return (eps * real + (1.0 - eps) * fake).to(dtype)


class ScoresOnly(nn.Module):
    """The critic as a regularizer sees it: ``critic(x)`` -> scores, a feature-returning critic's features
    dropped."""

    def __init__(self, critic: nn.Module) -> None:
        super().__init__()
        self.critic = critic

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scores_of(self.critic, self.critic(x))


def scores_of(critic: nn.Module, output: Any) -> torch.Tensor:
    """The scores of a critic's output: ``output`` itself, or its first element for a critic that declares
    ``returns_features`` (``(scores, [features])``)."""
    return output[0] if getattr(critic, "returns_features", False) else output


class RegularizedLoss(AdversarialLoss):
    """``loss`` with ``regularizers`` added to its critic regularizer; everything else is the loss' own. The
    trainer sets ``critic_step`` (the number of critic steps done) before each critic step, so a lazy
    regularizer runs on the same steps in a resumed run."""

    def __init__(self, loss: AdversarialLoss, regularizers: list[ActiveRegularizer]) -> None:
        self.base, self.regularizers = loss, regularizers
        self.uses_critic = loss.uses_critic
        self.generator_needs = loss.needs
        self.per_sample_regularizer = loss.per_sample_regularizer
        self.description = " + ".join([loss.description or type(loss).__name__,
                                       *(describe(r) for r in regularizers)])
        self.critic_step = 0

    def critic_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        return self.base.critic_loss(real_scores, fake_scores)

    def generator_loss(self, fake_scores: torch.Tensor, **needed: Any) -> torch.Tensor:
        return self.base.generator_loss(fake_scores, **needed)

    def after_critic_step(self, critic: nn.Module) -> None:
        self.base.after_critic_step(critic)

    def distance_estimate(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor | None:
        return self.base.distance_estimate(real_scores, fake_scores)

    def critic_regularizer(self, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor | None:
        """The loss' own regularizer plus every regularizer that runs on every critic step (``every`` = 1): they
        join the critic loss in its step."""
        total = self.base.critic_regularizer(critic, real, fake)
        return self._sum([a for a in self.regularizers if a.every == 1], critic, real, fake, total)

    def lazy_regularizer(self, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor | None:
        """The lazy regularizers (``every`` = k > 1) due at this critic step, each multiplied by k; None when none
        is due. The trainer takes them in an optimiser step of their own after the critic step, as StyleGAN2's
        reference code does (its 'Dreg' phase, sharing the critic's Adam)."""
        due = [a for a in self.regularizers if a.every > 1 and self.critic_step % a.every == 0]
        return self._sum(due, critic, real, fake, None)

    @staticmethod
    def _sum(actives: list[ActiveRegularizer], critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
             total: torch.Tensor | None) -> torch.Tensor | None:
        scored = ScoresOnly(critic)
        for active in actives:
            needs = active.regularizer.needs
            inputs = CriticInputs(real=real.detach() if "real" in needs else None,
                                  fake=fake.detach() if "fake" in needs else None,
                                  interpolates=interpolates(real, fake.detach()) if "interpolates" in needs else None)
            term = active.regularizer.penalty(scored, inputs)
            term = term if active.every == 1 else term * active.every
            total = term if total is None else total + term
        return total


def describe(active: ActiveRegularizer) -> str:
    text = active.regularizer.description or active.name
    return text if active.every == 1 else f"{text} (lazy, every {active.every})"


def has_regularizer(loss: AdversarialLoss) -> bool:
    """Does the critic step add a regularizer to this loss' critic loss (its own or a recipe's)?"""
    if isinstance(loss, RegularizedLoss):
        return bool(loss.regularizers) or has_regularizer(loss.base)
    return type(loss).critic_regularizer is not AdversarialLoss.critic_regularizer


def per_image_regularizers(loss: AdversarialLoss) -> list[str]:
    """The names of what penalises each image's own critic gradient: the loss (``per_sample_regularizer``)
    and the regularizers that need ``per_image``."""
    out = []
    if getattr(loss, "per_sample_regularizer", False):
        out.append("loss")
    if isinstance(loss, RegularizedLoss):
        out += [f"regularizer '{r.name}'" for r in loss.regularizers if "per_image" in r.regularizer.needs]
    return out
