"""A recipe made into modules: its generator, critic and loss (with the budget's size hints) and their
optimisers. The one place that builds them, for a run's trainer, the planner's pre-flight check on the meta
device and a trained generator read back (``ganbench colorize``, ``ganbench evaluate``); an option a part
rejects becomes one line naming the model."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from ganbench.core.budgets import Budget
from ganbench.core.config import RunConfig
from ganbench.core.contract import AdversarialLoss, Recipe
from ganbench.core.errors import ConfigError
from ganbench.core.registry import Registry
from ganbench.train.distributed import globalize_batchnorm
from ganbench.train.regularize import RegularizedLoss, build_regularizers, per_image_regularizers


@dataclass
class Networks:
    generator: nn.Module
    critic: nn.Module
    loss: AdversarialLoss
    generator_optimizer: torch.optim.Optimizer
    critic_optimizer: torch.optim.Optimizer

    def param_counts(self) -> dict[str, int]:
        return {"generator": sum(p.numel() for p in self.generator.parameters()),
                "critic": sum(p.numel() for p in self.critic.parameters())}


def build_generator(registry: Registry, recipe: Recipe, budget: Budget) -> nn.Module:
    """The recipe's generator with the budget's size hints (fresh weights)."""
    return registry.build(recipe, "generator", budget.size_hints("generator"))


def build_parts(registry: Registry, recipe: Recipe, budget: Budget, model: str,
                device: torch.device | None = None) -> tuple[nn.Module, nn.Module, AdversarialLoss]:
    """Generator, critic (created on ``device``, default the CPU) and loss, in that order (the order the
    seeded initialisation draws its random numbers in); the loss carries the recipe's regularizers
    (``RegularizedLoss``). A per-image penalty on a BatchNorm critic is refused, and so is a loss that needs
    the critic's features with a critic that does not return them."""
    with torch.device(device) if device is not None else contextlib.nullcontext():
        generator = build_generator(registry, recipe, budget)
        critic = registry.build(recipe, "critic", budget.size_hints("critic"))
    loss = registry.build(recipe, "loss", budget.size_hints("loss"))
    if recipe.regularizers:
        loss = RegularizedLoss(loss, build_regularizers(registry, recipe.regularizers, model))
    check_penalty_critic(loss, critic, recipe.loss, model)
    check_features(loss, critic, recipe, model)
    return generator, critic, loss


def build_networks(registry: Registry, cfg: RunConfig, device: torch.device, channels_last: bool,
                   global_batchnorm: bool = False) -> Networks:
    """A run's networks (seeded with its seed, the budget's size hints), loss and optimisers, on ``device``.
    ``channels_last`` stores activations NHWC, which tensor cores want; cuDNN autotuning is on for CUDA;
    ``global_batchnorm`` (data-parallel): BatchNorm statistics over the global batch."""
    torch.manual_seed(cfg.seed)
    generator, critic, loss = build_parts(registry, cfg.recipe, cfg.budget, cfg.model)
    if global_batchnorm:
        generator, critic = globalize_batchnorm(generator), globalize_batchnorm(critic)
    generator, critic = generator.to(device), critic.to(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if channels_last:
        generator = generator.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        critic = critic.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return Networks(generator, critic, loss, *build_optimizers(cfg.recipe, generator, critic, device, cfg.model))


def build_optimizers(recipe: Recipe, generator: nn.Module, critic: nn.Module, device: torch.device,
                     model: str) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """The generator's and the critic's optimiser; an unknown name or rejected option is a ConfigError."""
    out = []
    for key, spec, net in (("generator_optimizer", recipe.generator_optimizer, generator),
                           ("critic_optimizer", recipe.critic_optimizer, critic)):
        try:
            out.append(spec.build(net.parameters(), device))
        except ConfigError as exc:
            raise ConfigError(f"model '{model}': {key}: {exc}") from None
    return out[0], out[1]


def check_shapes(registry: Registry, recipe: Recipe, budget: Budget, model: str) -> None:
    """Build the networks on the meta device, the loss and the optimisers, and run one forward: a plugin that
    fails to build says so (exit 4), and an image size that does not suit the generator's depth (or the
    critic) fails here, before any training, with a one-line error."""
    meta = torch.device("meta")
    g, d, _ = build_parts(registry, recipe, budget, model, meta)
    build_optimizers(recipe, g, d, meta, model)
    size = budget.image_size
    try:
        with meta:
            out = g(torch.zeros(1, 1, size, size))
            if tuple(out.shape) != (1, 2, size, size):
                raise RuntimeError(f"generator output {tuple(out.shape)}")
            d(torch.zeros(1, 3, size, size))
    except (RuntimeError, ValueError) as exc:  # what torch raises for mismatched shapes
        depth = recipe.generator_options.get("depth", getattr(g, "depth", None))
        hint = f" (generator depth {depth}: the size must be a multiple of 2^{depth} = {2**depth})" if depth else ""
        detail = "" if hint else f": {str(exc).splitlines()[0][:200]}"
        raise ConfigError(f"model '{model}': image size {size} does not suit its networks{hint}{detail}") from None


def has_batchnorm(net: nn.Module) -> bool:
    return any(isinstance(mod, nn.modules.batchnorm._BatchNorm) for mod in net.modules())


def check_penalty_critic(loss: AdversarialLoss, critic: nn.Module, loss_name: str, model: str) -> None:
    """A per-image penalty (``loss.per_sample_regularizer``, a regularizer that needs ``per_image``) needs a
    critic that scores each image on its own: BatchNorm mixes the images of a batch, so the penalised gradient
    is not the image's. Refused."""
    penalties = per_image_regularizers(loss)
    if penalties and has_batchnorm(critic):
        what = f"loss '{loss_name}'" if penalties[0] == "loss" else penalties[0]
        raise ConfigError(f"model '{model}': {what} penalises each image's critic gradient, but the "
                          "critic has BatchNorm, which mixes the images of a batch; use a per-sample norm "
                          "(--set critic.norm=layer, instance or none)")


def check_features(loss: AdversarialLoss, critic: nn.Module, recipe: Recipe, model: str) -> None:
    """A loss that needs the critic's features (``generator_needs`` has ``features``) needs a critic that
    declares ``returns_features``."""
    if loss.uses_critic and "features" in loss.needs and not getattr(critic, "returns_features", False):
        raise ConfigError(f"model '{model}': loss '{recipe.loss}' needs the critic's intermediate features, but "
                          f"critic '{recipe.critic}' does not return them (it declares no returns_features; "
                          "the built-in patchgan does with --set critic.features=true)")
