"""A ganbench plugin written from docs/plugins.md alone.

- critic ``out-sn-critic``: a PatchGAN-like critic, spectral norm on every convolution, declaring
  ``returns_features`` (forward returns its scores and the activations of its hidden layers);
- generator ``out-resnet``: a ResNet encoder-decoder (two stride-2 downsamplings, residual blocks, two
  upsamplings; Johnson et al. 2016 / pix2pixHD's global generator, small), L -> ab in [-1, 1];
- loss ``out-fm-hinge``: the hinge loss plus feature matching on the critic's features (generator_needs);
- models ``out-fm`` (the three above, TTUR Adam) and ``out-r1`` (the built-in ``hinge`` loss with the built-in
  ``r1`` regularizer on top, by name, and this critic and generator).
"""

from __future__ import annotations

import torch
from torch import nn

from ganbench.api import AdversarialLoss, OptimizerSpec, Recipe, hookimpl, init_weights


class SNCritic(nn.Module):
    returns_features = True  # forward returns (scores, [features])

    def __init__(self, width: int = 16, layers: int = 2) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        blocks, channels = [], 3
        for i in range(layers):
            out = width * 2**i
            blocks.append(nn.Sequential(sn(nn.Conv2d(channels, out, 4, 2, 1)), nn.LeakyReLU(0.2)))
            channels = out
        self.blocks = nn.ModuleList(blocks)
        self.head = sn(nn.Conv2d(channels, 1, 3, 1, 1))

    def forward(self, x):
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return self.head(x), features


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), nn.InstanceNorm2d(channels, affine=True),
                                  nn.ReLU(), nn.Conv2d(channels, channels, 3, 1, 1),
                                  nn.InstanceNorm2d(channels, affine=True))

    def forward(self, x):
        return x + self.body(x)


class ResNetGenerator(nn.Module):
    depth = 2  # two stride-2 levels: ganbench colorize sizes its input to multiples of 4

    def __init__(self, width: int = 16, blocks: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.ReLU(),
            *[ResidualBlock(4 * width) for _ in range(blocks)],
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(width, 2, 3, 1, 1), nn.Tanh(),
        )
        self.apply(init_weights)

    def forward(self, L):
        return self.net(L)


class FeatureMatchingHinge(AdversarialLoss):
    generator_needs = frozenset({"features"})

    def __init__(self, weight: float = 10.0) -> None:
        if weight < 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        self.weight = float(weight)
        self.description = f"hinge + {self.weight:g}·feature matching"

    def critic_loss(self, real_scores, fake_scores):
        return torch.relu(1 - real_scores).mean() + torch.relu(1 + fake_scores).mean()

    def generator_loss(self, fake_scores, fake_features, real_features):
        fm = sum((f - r).abs().mean() for f, r in zip(fake_features, real_features, strict=True))
        return -fake_scores.mean() + self.weight * fm


def _adam(lr: float) -> OptimizerSpec:
    return OptimizerSpec("adam", lr, {"betas": (0.0, 0.9)})


def out_fm() -> Recipe:
    return Recipe(generator="out-resnet", critic="out-sn-critic", loss="out-fm-hinge",
                  generator_optimizer=_adam(1e-4), critic_optimizer=_adam(4e-4), n_critic=1,
                  description="ResNet generator, SN critic, hinge + feature matching, TTUR")


def out_r1() -> Recipe:
    return Recipe(generator="out-resnet", critic="out-sn-critic", loss="hinge",
                  regularizers=[{"name": "r1", "gamma": 1.0}],
                  generator_optimizer=_adam(1e-4), critic_optimizer=_adam(4e-4), n_critic=1,
                  description="ResNet generator, SN critic, the built-in hinge + the built-in r1")


@hookimpl
def register_generators(register):
    register("out-resnet", ResNetGenerator, description="ResNet encoder-decoder (width, blocks)")


@hookimpl
def register_critics(register):
    register("out-sn-critic", SNCritic, description="spectral-norm critic with features (width, layers)")


@hookimpl
def register_losses(register):
    register("out-fm-hinge", FeatureMatchingHinge, description="hinge + feature matching (weight=10)")


@hookimpl
def register_models(register):
    register("out-fm", out_fm)
    register("out-r1", out_r1)
