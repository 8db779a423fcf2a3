"""FLOP counting, in one place: the FLOPs per image of a trainer's real critic and generator steps (counted
with torch's flop formulas while those very steps run on throw-away copies of the networks), and the FLOPs a
run spent."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ganbench.core.contract import AdversarialLoss, Recipe
from ganbench.train.distributed import local_only
from ganbench.train.networks import Networks, build_optimizers
from ganbench.train.state import Counters
from ganbench.train.steps import Steps


class FlopCounter:
    """Counts FLOPs of the aten ops torch's flop counter knows (convolutions, matmuls), forward and
    backward, double backward included. (``FlopCounterMode`` itself tracks modules with hooks that
    ``autograd.grad`` rejects, so the gradient penalty could not be counted with it.)"""

    def __init__(self) -> None:
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils.flop_counter import flop_registry

        counter = self

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                out = func(*args, **kwargs)
                packet = func._overloadpacket
                if packet in flop_registry:
                    counter.total += flop_registry[packet](*args, **kwargs, out_val=out)
                return out

        self.total = 0
        self._mode = _Mode()

    def __enter__(self) -> FlopCounter:
        self.total = 0
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)


def _throwaway_steps(generator: nn.Module, critic: nn.Module, loss: AdversarialLoss, recipe: Recipe) -> Steps:
    """The recipe's steps on fp32 copies of the networks with fresh optimisers, in one process: running them
    changes nothing of the originals."""
    generator = local_only(copy.deepcopy(generator).float())
    critic = local_only(copy.deepcopy(critic).float())
    device = next(generator.parameters()).device
    copies = Networks(generator, critic, loss, *build_optimizers(recipe, generator, critic, device, "flops"))
    return Steps(copies, device, "fp32", recipe.l1_weight)


def count_flops_per_image(generator: nn.Module, critic: nn.Module, loss: AdversarialLoss, recipe: Recipe,
                          image_size: int) -> dict[str, float] | None:
    """FLOPs per image of the recipe's own training steps (``steps.py``) at ``image_size``, counted (not
    estimated) while they run on throw-away copies of the networks (on their device, the meta device
    included): ``generator_forward``; ``critic_step`` per critic image (the generator forward that makes its
    fake included); ``generator_step`` per generator image (its critic passes and the backward through both
    networks); ``train_step``, one whole step outside WGAN's warm-up (n_critic critic steps and the generator
    step) per generator image; and ``critic_forward``. None if counting fails (it is informative only: a run
    never fails over it)."""
    try:
        steps = _throwaway_steps(generator, critic, loss, recipe)
        b = 2
        L = torch.zeros(b, 1, image_size, image_size, device=steps.device)
        ab = torch.zeros(b, 2, image_size, image_size, device=steps.device)
        out: dict[str, float] = {}
        with FlopCounter() as fc, torch.no_grad():
            steps.generate(L)
        out["generator_forward"] = fc.total / b
        n = recipe.n_critic if loss.uses_critic else 0
        with FlopCounter() as fc:
            for i in range(max(n, 1)):
                with torch.set_grad_enabled(i == max(n, 1) - 1):
                    fake_ab = steps.generate(L)
                if n:
                    steps.critic_step(L, ab, fake_ab)
        critic_flops = fc.total
        with FlopCounter() as fc:
            steps.generator_step(L, ab, fake_ab)
        if not n:  # no critic: the generator's forward and its step
            out["train_step"] = (critic_flops + fc.total) / b
            return out
        out["critic_step"] = critic_flops / (b * n)
        out["generator_step"] = fc.total / b
        out["train_step"] = out["generator_step"] + n * out["critic_step"]
        with FlopCounter() as fc, torch.no_grad():
            steps.score(torch.cat([L, ab], 1))
        out["critic_forward"] = fc.total / b
        return out
    except Exception:  # counting is informative only; never fail a run over it
        return None


def flops_spent(flops: dict[str, float] | None, counters: Counters) -> float | None:
    """The FLOPs a run spent: generator steps and critic steps counted apart, so WGAN's warm-up (more
    critic steps in some steps) is counted as done."""
    if not flops:
        return None
    if "critic_step" not in flops:  # no critic
        return flops["train_step"] * counters.images
    return flops["generator_step"] * counters.images + flops["critic_step"] * counters.critic_images
