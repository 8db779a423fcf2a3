"""The training schedule, as pure functions of the step (or of the budget spent), so a resumed run and every
data-parallel rank follow it: critic steps before each generator step (n_critic, WGAN's warm-up) and the
learning-rate decay."""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: WGAN's critic warm-up (reference code, main.py): the warm-up's critic steps before each of the first
#: WARMUP_FIRST generator steps and before every WARMUP_EVERY-th.
WARMUP_FIRST, WARMUP_EVERY = 25, 500


def lr_factor(lr_decay: float, progress: float | None) -> float:
    """Linear decay to zero over the last ``lr_decay`` fraction of the budget (pix2pix); ``progress``: the
    fraction of the budget spent (None: unknown, no decay)."""
    if lr_decay <= 0 or progress is None:
        return 1.0
    start = 1.0 - lr_decay
    return 1.0 if progress <= start else max(0.0, (1.0 - progress) / lr_decay)


@dataclass(frozen=True)
class Schedule:
    """``n_critic``: critic steps per generator step outside the warm-up (0: a loss without a critic);
    ``critic_warmup``: the warm-up's count (0: none); ``lr_decay``: see :func:`lr_factor`."""

    n_critic: int
    critic_warmup: int
    lr_decay: float

    def critic_steps_before(self, step: int) -> int:
        """Critic steps before generator step ``step`` (0-based): the warm-up's count before the first 25
        and every 500th, as WGAN's reference code; n_critic otherwise."""
        if self.n_critic and self.critic_warmup and (step < WARMUP_FIRST or step % WARMUP_EVERY == 0):
            return self.critic_warmup
        return self.n_critic

    def lr_factor(self, progress: float | None) -> float:
        return lr_factor(self.lr_decay, progress)


class LearningRates:
    """The optimisers' learning rates as the recipe set them, scaled by the schedule's factor."""

    def __init__(self, *optimizers: torch.optim.Optimizer) -> None:
        self.optimizers = optimizers
        self.base = [[group["lr"] for group in opt.param_groups] for opt in optimizers]

    def scale(self, factor: float) -> None:
        for opt, lrs in zip(self.optimizers, self.base, strict=True):
            for group, lr in zip(opt.param_groups, lrs, strict=True):
                group["lr"] = lr * factor
