"""The training loop: per step n_critic critic steps and one generator step (``steps.py``) on the schedule of
``schedule.py`` (WGAN's critic warm-up, the learning-rate decay), periodic validation and checkpoint
selection (``selection.py``), checkpoints, divergence and clean stops."""

from __future__ import annotations

import copy
import math
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ganbench.core.config import RunConfig
from ganbench.core.errors import ConfigError
from ganbench.core.registry import Registry
from ganbench.data.loader import data_workers
from ganbench.data.pipeline import PreparedData, TrainSampler
from ganbench.train.batches import BatchSource, PhotoBatches
from ganbench.train.checkpoint import checkpoint_state, restore_state
from ganbench.train.distributed import info as dist_info
from ganbench.train.distributed import local_batch, rank0_value, rank_slice
from ganbench.train.history import StepHistory
from ganbench.train.networks import build_networks
from ganbench.train.schedule import LearningRates, Schedule
from ganbench.train.selection import Validation
from ganbench.train.signals import StopFlag
from ganbench.train.state import Counters, TrainResult, peak_memory
from ganbench.train.steps import Steps

#: The adversarial-to-L1 gradient ratio (history column RATIO_COLUMN) is measured every ~10 steps.
DIAGNOSTIC_EVERY = 10


class Trainer:
    """Trains one run. ``batches``: where its batches come from (default: the run's photos, see
    ``batches.py``); ``on_step`` is called after every step, ``checkpoint`` with the state to save."""

    def __init__(
        self, cfg: RunConfig, registry: Registry, data: PreparedData, device: torch.device,
        metrics: dict[str, Any], on_step: Callable[[Trainer], None] | None = None,
        stop: StopFlag | None = None, checkpoint: Callable[[dict[str, Any]], None] | None = None,
        channels_last: bool | None = None, batches: BatchSource | None = None,
    ) -> None:
        self.cfg, self.device, self.data, self.metrics = cfg, device, data, metrics
        self.recipe = cfg.recipe
        self.channels_last = device.type == "cuda" if channels_last is None else channels_last
        self.dist = dist_info()
        self.nets = build_networks(registry, cfg, device, self.channels_last, global_batchnorm=self.dist.enabled)
        self.local_batch = local_batch(cfg.batch_size, self.dist)
        self.sampler = TrainSampler(data.train, cfg.image_size, cfg.batch_size, cfg.seed)
        self.stop = stop if stop is not None else StopFlag()
        self.batches = batches or PhotoBatches(self.sampler, device, self.channels_last,
                                               rank_slice(self.local_batch) if self.dist.enabled else None,
                                               data_workers(device), self._data_failed)
        self.counters = Counters()
        self.ema: nn.Module | None = None
        if cfg.ema > 0:
            self.ema = copy.deepcopy(self.nets.generator).eval().requires_grad_(False)
        self.steps = Steps(self.nets, device, cfg.precision, cfg.recipe.l1_weight, self.dist.enabled, cfg.compile,
                           self.ema, cfg.ema)
        self.log = StepHistory(cfg.batch_size, lambda: self.absent_stats)
        self.on_step, self.checkpoint = on_step, checkpoint
        self.diagnostic_every = 0  # train() switches the gradient-ratio diagnostic on
        n_critic = cfg.recipe.n_critic if self.nets.loss.uses_critic else 0
        self.schedule = Schedule(n_critic, cfg.recipe.critic_warmup, cfg.recipe.lr_decay)
        self.learning_rates = LearningRates(self.nets.generator_optimizer, self.nets.critic_optimizer)
        colorfulness = metrics.get("colorfulness") or _optional_metric(registry, "colorfulness")
        self.validation = Validation(data.val, metrics.get("psnr"), colorfulness, cfg.colorfulness_floor, device)
        self.total_steps: int | None = None
        self.seconds: float | None = None

    @property
    def parts(self) -> tuple[nn.Module, nn.Module, Any]:
        """The run's generator, critic and loss (the plain modules, not the DDP or compiled wrappers)."""
        return self.nets.generator, self.nets.critic, self.nets.loss

    # --- what the run has done ----------------------------------------------------------------------
    @property
    def history(self) -> list[dict[str, Any]]:
        return self.log.rows

    @property
    def val_history(self) -> list[dict[str, Any]]:
        return self.validation.history

    @property
    def eval_generator(self) -> nn.Module:
        return self.ema if self.ema is not None else self.nets.generator

    @property
    def absent_stats(self) -> tuple[str, ...]:
        """Statistics this loss does not have: every critic statistic without a critic; the Wasserstein
        estimate when the loss gives none (BCE, hinge). They are logged empty."""
        if not self.nets.loss.uses_critic:
            return ("d_loss", "d_reg", "w_estimate")
        absent = () if self.steps.has_w_estimate else ("w_estimate",)
        return absent if self.steps.has_regularizer else ("d_reg", *absent)

    # --- one step -----------------------------------------------------------------------------------
    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The run's next (L, ab), scaled for the networks, on the device; its time counts as data time."""
        t0 = time.perf_counter()
        L, ab = self.batches(self.counters.batches)
        self.counters.batches += 1
        self.counters.data_seconds += time.perf_counter() - t0
        return L, ab

    def _data_failed(self, message: str) -> None:
        """A data worker died: say so in one line and stop after this step with a checkpoint (a resume starts
        the workers again); the batch it owed was built in this process, the same bytes."""
        print(f"warning: {message}; stopping after this step with a checkpoint (resume to continue)",
              file=sys.stderr, flush=True)
        if not self.stop:
            self.stop.signal = signal.SIGTERM

    def close(self) -> None:
        """Stop the data workers (``train`` does it when it returns or fails)."""
        close = getattr(self.batches, "close", None)
        if close is not None:
            close()

    def train_step(self) -> None:
        """n_critic critic steps (or the warm-up's count, ``Schedule.critic_steps_before``) on fresh batches, then
        one generator step on the last batch, reusing its fake (generated with gradients) so the generator
        runs forward once per step, as in pix2pix. A loss without a critic: one batch and the generator step
        alone."""
        n = self.schedule.critic_steps_before(self.counters.step)
        absent = torch.full((), math.nan, device=self.device)  # a statistic the loss does not have
        stats: dict[str, torch.Tensor] = {"d_loss": absent, "d_reg": absent, "w_estimate": absent}
        for i in range(max(n, 1)):
            L, ab = self.next_batch()
            with self.steps.autocast(), torch.set_grad_enabled(i == max(n, 1) - 1):
                fake_ab = self.steps.generate(L)
            if n:
                stats.update(self.steps.critic_step(L, ab, fake_ab, self.counters.critic_steps))
                self.counters.critic_steps += 1
                self.counters.critic_images += L.shape[0] * self.dist.world  # budgets count global images
        diagnose = self.diagnostic_every > 0 and (self.counters.step + 1) % self.diagnostic_every == 0
        generator_stats, ratio = self.steps.generator_step(L, ab, fake_ab, diagnose)
        stats.update(generator_stats)
        self.counters.step += 1
        self.counters.images += L.shape[0] * self.dist.world
        self.log.record(stats, self.counters.step, ratio)

    def lr_factor(self) -> float:
        """The schedule's factor now: a function of the step (or, for time budgets, of the training seconds
        spent, by rank 0's clock), so a resumed run and every data-parallel rank follow it."""
        if self.schedule.lr_decay <= 0:
            return 1.0  # before reading the clock: under data parallelism that is a broadcast
        if self.total_steps is not None:
            return self.schedule.lr_factor(self.counters.step / self.total_steps)
        return self.schedule.lr_factor(self._elapsed() / self.seconds if self.seconds else None)

    # --- bookkeeping --------------------------------------------------------------------------------
    def pending_stats(self) -> dict[str, float]:
        """The last step's statistics (d_loss, d_reg, g_adv, g_l1, w_estimate) as floats (a host sync); those
        the loss does not have are None."""
        return self.log.last()

    def flush(self) -> dict[str, Any] | None:
        """Move pending step statistics to the history; return a divergence record if any is not finite."""
        seconds = round(self.counters.step_seconds + self.counters.data_seconds, 4)
        return self.log.flush(self.counters.step, seconds,
                              {"generator": self.nets.generator, "critic": self.nets.critic})

    def validate(self) -> float:
        """Score the generator (its EMA copy if any) on the validation crops; keep it if it is the best so far
        (``selection.py``)."""
        t0 = time.perf_counter()
        c = self.counters
        psnr = self.validation.run(self.eval_generator, c.step, c.images, round(c.step_seconds + c.data_seconds, 4))
        c.eval_seconds += time.perf_counter() - t0
        return psnr

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs (``checkpoint.py``)."""
        return checkpoint_state(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        restore_state(self, state)

    def _elapsed(self) -> float:
        """Training seconds spent (data included, evaluation not), by rank 0's clock."""
        return rank0_value(self.counters.step_seconds + self.counters.data_seconds, self.dist, self.device)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    # --- the loop -----------------------------------------------------------------------------------
    def train(self, total_steps: int | None, seconds: float | None, eval_every: int,
              checkpoint_every: int, log_every: int | None = None, validate: bool = True) -> TrainResult:
        try:
            return self._train(total_steps, seconds, eval_every, checkpoint_every, log_every, validate)
        finally:
            self.close()

    def _train(self, total_steps: int | None, seconds: float | None, eval_every: int,
               checkpoint_every: int, log_every: int | None, validate: bool) -> TrainResult:
        if total_steps is None and seconds is None:
            raise ConfigError("the budget sets no limit (steps, images, epochs or time)")
        self.total_steps, self.seconds = total_steps, seconds
        self.log.log_every = log_every or max(1, (total_steps or 1000) // 200)
        # the gradient-ratio diagnostic on every logged step at least DIAGNOSTIC_EVERY steps apart
        self.diagnostic_every = self.log.log_every * math.ceil(DIAGNOSTIC_EVERY / self.log.log_every)
        sync_every = 1 if self.device.type == "cpu" else 25
        warmup = min(10, max(1, (total_steps or 100) // 10))
        c = self.counters
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        divergence = None
        status = "complete"

        def finished() -> bool:
            return (total_steps is not None and c.step >= total_steps) or (
                seconds is not None and self._elapsed() >= seconds)

        while not finished():
            self._sync() if c.step % sync_every == 0 else None
            t0 = time.perf_counter()
            data_before = c.data_seconds
            self.learning_rates.scale(self.lr_factor())
            self.train_step()
            if c.step % sync_every == 0 or (total_steps is not None and c.step >= total_steps):
                self._sync()
            elapsed = time.perf_counter() - t0 - (c.data_seconds - data_before)
            c.step_seconds += elapsed
            if c.step > warmup:
                c.steady_seconds += elapsed
                c.steady_images += self.cfg.batch_size
            done = finished()
            due_ckpt = checkpoint_every > 0 and c.step % checkpoint_every == 0
            if self.on_step is not None:
                self.on_step(self)
            stopping = bool(self.stop)  # one snapshot: a signal arriving later is handled after the next step
            if c.step % sync_every == 0 or due_ckpt or done or stopping:
                divergence = self.flush()
                if divergence is not None:
                    status = "diverged"
                    break
            if validate and eval_every > 0 and c.step % eval_every == 0 and not done:
                self.validate()
            if (due_ckpt or stopping) and self.checkpoint is not None and not done:
                self.checkpoint(self.state_dict())
            if stopping and not done:
                status = "interrupted"
                break
        if status == "complete" and validate:
            self.validate()
        return TrainResult(status, c, self.log.rows, self.validation.history, self.validation.best, divergence,
                           peak_memory(self.device))


def _optional_metric(registry: Registry, name: str):
    try:
        return registry.create("metric", name)
    except ConfigError:  # not registered (a restricted plugin set): selection falls back to PSNR alone
        return None
