"""The training loop: n_critic critic steps, one generator step, evaluation, checkpoints, divergence.

The trainer knows losses only through ``AdversarialLoss``: regularisers (gradient penalty) and
constraints (weight clipping) are the loss plugin's business.
"""

from __future__ import annotations

import copy
import math
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ganbench.core.budgets import size_hints
from ganbench.core.config import RunConfig
from ganbench.core.contract import AdversarialLoss, OptimizerSpec
from ganbench.core.errors import ConfigError
from ganbench.core.registry import Registry
from ganbench.data.color import lab_to_net, rgb_to_lab
from ganbench.data.pipeline import PreparedData, TrainSampler
from ganbench.score.diagnostics import RATIO_COLUMN
from ganbench.score.evaluate import evaluate_images
from ganbench.train.distributed import global_scores, local_batch, rank_slice
from ganbench.train.distributed import info as dist_info
from ganbench.train.precision import AUTOCAST

STAT_NAMES = ("d_loss", "d_reg", "g_adv", "g_l1", "w_estimate")
#: WGAN's critic warm-up (reference code, main.py): the warm-up's critic steps before each of the first
#: WARMUP_FIRST generator steps and before every WARMUP_EVERY-th.
WARMUP_FIRST, WARMUP_EVERY = 25, 500
#: The adversarial-to-L1 gradient ratio (history column RATIO_COLUMN) is measured every ~10 steps.
DIAGNOSTIC_EVERY = 10


class StopRequested(Exception):
    """SIGINT/SIGTERM arrived: the trainer wrote a checkpoint and stopped."""


class StopFlag:
    """Set by signal handlers; the trainer checks it between steps and checkpoints before stopping."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __bool__(self) -> bool:
        return self.signal is not None

    def install(self) -> Callable[[], None]:
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum, frame):
            if self.signal is not None:  # second Ctrl-C: stop now
                raise KeyboardInterrupt
            self.signal = signum

        for s in previous:
            signal.signal(s, handler)

        def restore() -> None:
            for s, h in previous.items():
                signal.signal(s, h)

        return restore


@dataclass
class Models:
    generator: nn.Module
    critic: nn.Module
    loss: AdversarialLoss
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer


def build_models(registry: Registry, recipe: dict[str, Any], device: torch.device, seed: int,
                 channels_last: bool | None = None, global_batchnorm: bool = False,
                 budget: dict[str, Any] | None = None) -> Models:
    """Networks (with the ``budget``'s size hints), loss and optimisers of a recipe. ``channels_last``
    (default: on CUDA) stores activations NHWC, which tensor cores want; cuDNN autotuning is switched on
    for CUDA."""
    torch.manual_seed(seed)
    generator, critic, loss = (registry.build(recipe, part, size_hints(budget, part))
                               for part in ("generator", "critic", "loss"))
    if global_batchnorm:  # data-parallel: BatchNorm statistics over the global batch
        from ganbench.train.distributed import globalize_batchnorm

        generator, critic = globalize_batchnorm(generator), globalize_batchnorm(critic)
    generator, critic = generator.to(device), critic.to(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if device.type == "cuda" if channels_last is None else channels_last:
        generator = generator.to(memory_format=torch.channels_last)
        critic = critic.to(memory_format=torch.channels_last)

    return Models(
        generator, critic, loss,
        OptimizerSpec.from_dict(recipe["generator_optimizer"]).build(generator.parameters(), device),
        OptimizerSpec.from_dict(recipe["critic_optimizer"]).build(critic.parameters(), device),
    )


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    npst = state["numpy"]
    np.random.set_state((npst[0], np.array(npst[1], dtype=np.uint32), *npst[2:]))


@dataclass
class Counters:
    step: int = 0  # generator steps done
    critic_steps: int = 0
    batches: int = 0  # training batches drawn (the data order position)
    images: int = 0  # generator images seen
    critic_images: int = 0
    step_seconds: float = 0.0  # time in training steps (data excluded)
    data_seconds: float = 0.0
    steady_seconds: float = 0.0  # step time after warm-up
    steady_images: int = 0
    eval_seconds: float = 0.0


@dataclass
class TrainResult:
    status: str  # complete | diverged | interrupted
    counters: Counters
    history: list[dict[str, float]]
    val_history: list[dict[str, float]]
    best: dict[str, Any] | None
    divergence: dict[str, Any] | None = None
    peak_memory: dict[str, float] = field(default_factory=dict)


class Trainer:
    def __init__(
        self, cfg: RunConfig, registry: Registry, data: PreparedData, device: torch.device,
        metrics: dict[str, Any], on_step: Callable[[Trainer], None] | None = None,
        stop: StopFlag | None = None, checkpoint: Callable[[dict[str, Any]], None] | None = None,
        channels_last: bool | None = None,
    ) -> None:
        self.cfg, self.device, self.data, self.metrics = cfg, device, data, metrics
        self.recipe = cfg.recipe
        self.n_critic = int(self.recipe["n_critic"])
        self.l1_weight = float(self.recipe.get("l1_weight", 100.0))
        self.lr_decay = float(self.recipe.get("lr_decay", 0.0))
        self.channels_last = device.type == "cuda" if channels_last is None else channels_last
        self.dist = dist_info()
        self.m = build_models(registry, self.recipe, device, cfg.seed, self.channels_last,
                              global_batchnorm=self.dist.enabled, budget=cfg.budget)
        self.local_batch = local_batch(cfg.batch_size, self.dist)
        self.critic_has_batchnorm = has_batchnorm(self.m.critic)
        check_penalty_critic(self.m.loss, self.m.critic, self.recipe["loss"], cfg.model)
        self.critic_warmup = int(self.recipe.get("critic_warmup", 0))
        self.sampler = TrainSampler(data.train, cfg.image_size, cfg.batch_size, cfg.seed)
        self.autocast_dtype = AUTOCAST[cfg.precision]
        self.scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")
        self.counters = Counters()
        self.history: list[dict[str, float]] = []
        self.val_history: list[dict[str, float]] = []
        self.best: dict[str, Any] | None = None
        self.ema: nn.Module | None = None
        if cfg.ema > 0:
            self.ema = copy.deepcopy(self.m.generator).eval().requires_grad_(False)
        self.on_step, self.checkpoint = on_step, checkpoint
        self.stop = stop if stop is not None else StopFlag()
        self._pending: list[torch.Tensor] = []
        self._pending_ratio: dict[int, torch.Tensor] = {}
        self.diagnostic_every = 0  # train() switches the gradient-ratio diagnostic on
        self.has_w_estimate = False  # set by the first critic step whose loss returns a distance estimate
        self._gray_val_psnr: float | None = None
        self._last_finite: dict[str, float] | None = None
        self._g_step, self._d_step = self.generator_step, self.critic_step
        self._wrap(cfg.compile)
        self._base_lrs = [[group["lr"] for group in opt.param_groups] for opt in (self.m.opt_g, self.m.opt_d)]
        self._colorfulness = metrics.get("colorfulness") or _optional_metric(registry, "colorfulness")
        self._truth_val_colorfulness: float | None = None
        self.total_steps: int | None = None
        self.seconds: float | None = None
        self.log_every = 1

    # --- the step -----------------------------------------------------------------------------------
    def _wrap(self, compile_: bool) -> None:
        """The callables each pass uses. Data-parallel: DistributedDataParallel for the passes that train
        a network (the generator's fake with gradients, the critic's scores in its own step); the plain
        modules for no-grad fakes and for the critic inside the generator step. ``compile_``:
        torch.compile the generator and the critic's plain passes; the gradient penalty always goes through
        the uncompiled, unwrapped critic (compiled graphs and DDP cannot double-backward)."""
        g_plain, d_plain = self.m.generator, self.m.critic
        g_train, d_train = g_plain, d_plain
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            kw = {"device_ids": [self.device.index]} if self.device.type == "cuda" else {}
            g_train = DDP(g_plain, broadcast_buffers=False, **kw)
            d_train = DDP(d_plain, broadcast_buffers=False, **kw)
        if compile_:
            g_plain, d_plain = torch.compile(g_plain), torch.compile(d_plain)
            g_train = torch.compile(g_train) if self.dist.enabled else g_plain
            d_train = torch.compile(d_train) if self.dist.enabled else d_plain
        self._g_plain, self._g_train, self._d_plain, self._d_train = g_plain, g_train, d_plain, d_train

    def G(self, x: torch.Tensor) -> torch.Tensor:
        return (self._g_train if torch.is_grad_enabled() else self._g_plain)(x)

    def D(self, x: torch.Tensor, train: bool = True) -> torch.Tensor:
        return (self._d_train if train else self._d_plain)(x)

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None)

    #: Where batches come from: None = the training sampler (decoded photos, random crops); a callable
    #: returning (L, ab) on the device replaces it (benchmarks feed batches already in memory).
    batch_source: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None = None

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(L, ab) scaled for the networks, on the device; Lab conversion runs on the device."""
        if self.batch_source is not None:
            self.counters.batches += 1
            return self.batch_source()
        t0 = time.perf_counter()
        rgb = self.sampler.batch(self.counters.batches, rank_slice(self.local_batch) if self.dist.enabled else None)
        self.counters.batches += 1
        if self.device.type == "cuda":
            rgb = rgb.pin_memory().to(self.device, non_blocking=True)
        if self.channels_last:
            rgb = rgb.contiguous(memory_format=torch.channels_last)
        L, ab = lab_to_net(rgb_to_lab(rgb))
        self.counters.data_seconds += time.perf_counter() - t0
        return L, ab

    def critic_step(self, L: torch.Tensor, ab: torch.Tensor, fake_ab: torch.Tensor) -> dict[str, torch.Tensor]:
        m = self.m
        real = torch.cat([L, ab], 1)
        fake = torch.cat([L, fake_ab.detach()], 1)
        with self._autocast():
            if self.critic_has_batchnorm:  # separate real and fake passes, as DCGAN/pix2pix (batch statistics)
                real_s = self.D(real).float()
                fake_s = self.D(fake).float()
            else:  # per-sample normalisation: one pass over both is the same maths, and faster
                real_s, fake_s = self.D(torch.cat([real, fake], 0)).float().chunk(2)
        real_s, fake_s = global_scores(real_s), global_scores(fake_s)  # the global batch under torchrun
        d_loss = m.loss.critic_loss(real_s, fake_s)
        with self._autocast():  # the uncompiled critic (compiled graphs cannot double-backward)
            reg = m.loss.critic_regularizer(m.critic, real, fake)
        reg = None if reg is None else reg.float()
        total = d_loss if reg is None else d_loss + reg
        m.opt_d.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.step(m.opt_d)
        self.scaler.update()
        m.loss.after_critic_step(m.critic)
        w = m.loss.distance_estimate(real_s.detach(), fake_s.detach())
        stats = {"d_loss": d_loss.detach(), "d_reg": d_loss.new_zeros(()) if reg is None else reg.detach()}
        if w is not None:
            self.has_w_estimate = True
            stats["w_estimate"] = w.detach()
        return stats

    def generator_step(self, L: torch.Tensor, ab: torch.Tensor, fake_ab: torch.Tensor) -> dict[str, torch.Tensor]:
        m = self.m
        m.critic.requires_grad_(False)  # no critic weight-gradients in the generator step
        try:
            if m.loss.uses_critic:
                with self._autocast():
                    fake_s, real_s = self.generator_scores(L, ab, fake_ab)
                g_adv = m.loss.generator_loss(fake_s) if real_s is None else m.loss.generator_loss(fake_s, real_s)
            else:
                g_adv = torch.zeros((), device=self.device)
            g_l1 = (fake_ab.float() - ab).abs().mean()
            if m.loss.uses_critic and self._diagnose_step():
                self._pending_ratio[self.counters.step + 1] = self.adversarial_to_l1_ratio(g_adv, fake_ab, ab)
            total = g_adv + self.l1_weight * g_l1
            m.opt_g.zero_grad(set_to_none=True)
            self.scaler.scale(total).backward()
            self.scaler.step(m.opt_g)
            self.scaler.update()
        finally:
            m.critic.requires_grad_(True)
        if self.ema is not None:
            with torch.no_grad():
                decay = self.cfg.ema
                torch._foreach_lerp_(list(self.ema.parameters()), list(m.generator.parameters()), 1 - decay)
                for eb, b in zip(self.ema.buffers(), m.generator.buffers(), strict=True):
                    eb.copy_(b)
        return {"g_adv": g_adv.detach(), "g_l1": g_l1.detach()}

    def _diagnose_step(self) -> bool:
        return self.diagnostic_every > 0 and (self.counters.step + 1) % self.diagnostic_every == 0

    def adversarial_to_l1_ratio(self, g_adv: torch.Tensor, fake_ab: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """‖∂g_adv/∂fake‖ / ‖∂(λ_L1·L1)/∂fake‖ on the generator's output: how hard the adversary pulls the
        generator compared with the L1 term (near 0: the critic hardly matters). One extra backward through
        the critic (its input gradient only), fp32 norms; under fp16 the inner gradient is loss-scaled."""
        scale = self.scaler.get_scale() if self.scaler.is_enabled() else 1.0
        (grad,) = torch.autograd.grad(g_adv * scale, fake_ab, retain_graph=True)
        adv = grad.float().norm() / scale
        # λ·mean|fake − ab| has gradient λ·sign(fake − ab)/numel: its norm in closed form
        l1 = self.l1_weight * torch.sign(fake_ab.detach().float() - ab).norm() / ab.numel()
        return adv / l1.clamp_min(torch.finfo(torch.float32).tiny)

    @property
    def absent_stats(self) -> tuple[str, ...]:
        """Statistics this loss does not have: every critic statistic without a critic; the Wasserstein
        estimate when the loss gives none (BCE, hinge). They are logged empty."""
        if not self.m.loss.uses_critic:
            return ("d_loss", "d_reg", "w_estimate")
        return () if self.has_w_estimate else ("w_estimate",)

    def generator_scores(self, L: torch.Tensor, ab: torch.Tensor,
                         fake_ab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The generator step's critic scores (fp32, the global batch under torchrun): the fake's, with
        gradients to the generator, and the real batch's (detached) if the loss' generator_loss takes them."""
        fake = torch.cat([L, fake_ab], 1)
        if not self.m.loss.generator_sees_real_scores:
            return global_scores(self.D(fake, train=False).float()), None
        real = torch.cat([L, ab], 1)
        if self.critic_has_batchnorm:  # batch statistics: separate passes, as in the critic step
            fake_s = self.D(fake, train=False)
            with torch.no_grad():
                real_s = self.D(real, train=False)
        else:  # per-sample normalisation: one pass over both
            fake_s, real_s = self.D(torch.cat([fake, real], 0), train=False).chunk(2)
        return global_scores(fake_s.float()), global_scores(real_s.detach().float())

    @property
    def critic_steps_per_step(self) -> int:
        """Critic steps per generator step outside WGAN's warm-up: the recipe's n_critic, or 0 for a loss
        without a critic."""
        return self.n_critic if self.m.loss.uses_critic else 0

    def critic_steps_before(self, step: int) -> int:
        """Critic steps before generator step ``step`` (0-based): the warm-up's count (``critic_warmup``)
        before the first 25 and every 500th, as WGAN's reference code; n_critic otherwise. A function of
        the step, so a resumed run follows it."""
        if self.critic_steps_per_step and self.critic_warmup and (step < WARMUP_FIRST or step % WARMUP_EVERY == 0):
            return self.critic_warmup
        return self.critic_steps_per_step

    def param_counts(self) -> dict[str, int]:
        return {"generator": sum(p.numel() for p in self.m.generator.parameters()),
                "critic": sum(p.numel() for p in self.m.critic.parameters())}

    def train_step(self) -> None:
        """n_critic critic steps (or the warm-up's count, :meth:`critic_steps_before`) on fresh batches, then
        one generator step on the last batch, reusing its fake (generated with gradients) so the generator
        runs forward once per step, as in pix2pix. A loss without a critic: one batch and the generator step
        alone."""
        n = self.critic_steps_before(self.counters.step)
        absent = torch.full((), math.nan, device=self.device)  # a statistic the loss does not have
        stats: dict[str, torch.Tensor] = {"d_loss": absent, "d_reg": absent, "w_estimate": absent}
        for i in range(max(n, 1)):
            L, ab = self.next_batch()
            with self._autocast(), torch.set_grad_enabled(i == max(n, 1) - 1):
                fake_ab = self.G(L)
            if n:
                stats.update(self._d_step(L, ab, fake_ab))
                self.counters.critic_steps += 1
                self.counters.critic_images += L.shape[0] * self.dist.world  # budgets count global images
        stats.update(self._g_step(L, ab, fake_ab))
        self.counters.step += 1
        self.counters.images += L.shape[0] * self.dist.world
        self._pending.append(torch.stack([stats[k].float() for k in STAT_NAMES]))

    def lr_factor(self) -> float:
        """Linear decay to zero over the last ``lr_decay`` fraction of the budget (pix2pix); a pure function
        of the step (or, for time budgets, of the training seconds spent, by rank 0's clock), so a resumed
        run and every data-parallel rank follow it."""
        if self.lr_decay <= 0:
            return 1.0
        c = self.counters
        if self.total_steps is not None:
            progress = c.step / self.total_steps
        elif self.seconds:
            progress = self._elapsed() / self.seconds
        else:
            return 1.0
        start = 1.0 - self.lr_decay
        return 1.0 if progress <= start else max(0.0, (1.0 - progress) / self.lr_decay)

    def _apply_lr(self) -> None:
        factor = self.lr_factor()
        for opt, lrs in zip((self.m.opt_g, self.m.opt_d), self._base_lrs, strict=True):
            for group, lr in zip(opt.param_groups, lrs, strict=True):
                group["lr"] = lr * factor

    # --- bookkeeping --------------------------------------------------------------------------------
    def pending_stats(self) -> dict[str, float]:
        """The last step's statistics (d_loss, d_reg, g_adv, g_l1, w_estimate) as floats (a host sync); those
        the loss does not have are None."""
        if not self._pending:
            return {}
        return {**dict(zip(STAT_NAMES, self._pending[-1].tolist(), strict=True)), **dict.fromkeys(self.absent_stats)}

    def flush(self) -> dict[str, Any] | None:
        """Move pending step statistics to the history; return a divergence record if any is not finite."""
        if not self._pending:
            return None
        values = torch.stack(self._pending).cpu().tolist()
        first_step = self.counters.step - len(values) + 1
        self._pending = []
        ratios = {k: float(v) for k, v in self._pending_ratio.items()}
        self._pending_ratio = {}
        for offset, row in enumerate(values):
            step = first_step + offset
            entry = dict(zip(STAT_NAMES, row, strict=True))
            entry.update(dict.fromkeys(self.absent_stats))  # empty, not a fake 0.0
            bad = [k for k, v in entry.items() if v is not None and not math.isfinite(v)]
            if bad:
                return {"step": step, "losses": bad, "last_finite": self._last_finite}
            self._last_finite = {"step": step, **entry}
            if step % self.log_every == 0 or step == 1:
                self.history.append({"step": step, "images": step * self.cfg.batch_size, **entry,
                                     "seconds": round(self.counters.step_seconds + self.counters.data_seconds, 4)})
                if step in ratios:
                    self.history[-1][RATIO_COLUMN] = ratios[step]
        bad_params = [name for net, name in ((self.m.generator, "generator"), (self.m.critic, "critic"))
                      if not all(bool(torch.isfinite(p).all()) for p in net.parameters())]
        if bad_params:
            return {"step": self.counters.step, "losses": [f"{n} weights" for n in bad_params],
                    "last_finite": self._last_finite}
        return None

    @property
    def eval_generator(self) -> nn.Module:
        return self.ema if self.ema is not None else self.m.generator

    def validate(self) -> float:
        """Score the generator on the validation crops and keep it if it is the best so far: the highest
        validation PSNR among generators whose validation colourfulness is at least ``colorfulness_floor``
        of the validation photos' own (an almost gray generator is not a colourizer); while none is, the
        highest validation PSNR of all."""
        t0 = time.perf_counter()
        metrics = {"psnr": self.metrics["psnr"]}
        if self._colorfulness is not None:
            metrics["colorfulness"] = self._colorfulness
        scores, _ = evaluate_images(self.eval_generator, self.data.val, metrics, self.device, None)  # fp32 scoring
        psnr = float(scores["psnr"].mean())
        if self._gray_val_psnr is None:
            from ganbench.score.evaluate import gray_uint8

            self._gray_val_psnr = float(self.metrics["psnr"].compute(gray_uint8(self.data.val), self.data.val).mean())
            if self._colorfulness is not None:
                self._truth_val_colorfulness = float(self._colorfulness.compute(self.data.val, self.data.val).mean())
        c = self.counters
        entry = {"step": c.step, "images": c.images, "val_psnr": psnr, "gray_val_psnr": self._gray_val_psnr}
        if self._colorfulness is not None:
            entry["val_colorfulness"] = float(scores["colorfulness"].mean())
            entry["truth_val_colorfulness"] = self._truth_val_colorfulness
        entry["seconds"] = round(c.step_seconds + c.data_seconds, 4)
        self.val_history.append(entry)
        if _better(entry, self.best, self.floor):
            self.best = {"val_psnr": psnr, "step": c.step, "val_colorfulness": entry.get("val_colorfulness"),
                         "meets_floor": _meets_floor(entry, self.floor),
                         "state": {k: v.detach().cpu().clone() for k, v in self.eval_generator.state_dict().items()}}
        c.eval_seconds += time.perf_counter() - t0
        return psnr

    @property
    def floor(self) -> float:
        return float(self.cfg.colorfulness_floor) if self._colorfulness is not None else 0.0

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.m.generator.state_dict(),
            "critic": self.m.critic.state_dict(),
            "opt_g": self.m.opt_g.state_dict(),
            "opt_d": self.m.opt_d.state_dict(),
            "scaler": self.scaler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "counters": dict(self.counters.__dict__),
            "history": self.history,
            "val_history": self.val_history,
            "best": self.best,
            "last_finite": self._last_finite,
            "rng": rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.m.generator.load_state_dict(state["generator"])
        self.m.critic.load_state_dict(state["critic"])
        self.m.opt_g.load_state_dict(state["opt_g"])
        self.m.opt_d.load_state_dict(state["opt_d"])
        self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        self.counters = Counters(**state["counters"])
        self.history = list(state["history"])
        self.val_history = list(state["val_history"])
        self.best = state["best"]
        self._last_finite = state.get("last_finite")
        set_rng_state(state["rng"])

    def _elapsed(self) -> float:
        """Training seconds spent (data included, evaluation not); under data parallelism rank 0's clock,
        so every rank stops, and decays its learning rate, at the same step."""
        elapsed = self.counters.step_seconds + self.counters.data_seconds
        if self.dist.enabled:
            import torch.distributed as tdist

            clock = torch.tensor([elapsed], dtype=torch.float64, device=self.device)
            tdist.broadcast(clock, src=0)
            elapsed = float(clock.item())
        return elapsed

    def _time_up(self, seconds: float) -> bool:
        return self._elapsed() >= seconds

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    # --- the loop -----------------------------------------------------------------------------------
    def train(self, total_steps: int | None, seconds: float | None, eval_every: int,
              checkpoint_every: int, log_every: int | None = None, validate: bool = True) -> TrainResult:
        if total_steps is None and seconds is None:
            raise ConfigError("the budget sets no limit (steps, images, epochs or time)")
        self.total_steps, self.seconds = total_steps, seconds
        self.log_every = log_every or max(1, (total_steps or 1000) // 200)
        # the gradient-ratio diagnostic on every logged step at least DIAGNOSTIC_EVERY steps apart
        self.diagnostic_every = self.log_every * math.ceil(DIAGNOSTIC_EVERY / self.log_every)
        sync_every = 1 if self.device.type == "cpu" else 25
        warmup = min(10, max(1, (total_steps or 100) // 10))
        c = self.counters
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        divergence = None
        status = "complete"
        while True:
            if total_steps is not None and c.step >= total_steps:
                break
            if seconds is not None and self._time_up(seconds):
                break
            self._sync() if c.step % sync_every == 0 else None
            t0 = time.perf_counter()
            data_before = c.data_seconds
            self._apply_lr()
            self.train_step()
            if c.step % sync_every == 0 or (total_steps is not None and c.step >= total_steps):
                self._sync()
            elapsed = time.perf_counter() - t0 - (c.data_seconds - data_before)
            c.step_seconds += elapsed
            if c.step > warmup:
                c.steady_seconds += elapsed
                c.steady_images += self.cfg.batch_size
            done = (total_steps is not None and c.step >= total_steps) or (
                seconds is not None and self._time_up(seconds))
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
        peak = {"cpu_rss_mb": _peak_rss_mb()}
        if self.device.type == "cuda":
            peak["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated(self.device) / 2**20
        return TrainResult(status, c, self.history, self.val_history, self.best, divergence, peak)


def _meets_floor(entry: dict[str, Any], floor: float) -> bool:
    if floor <= 0 or entry.get("val_colorfulness") is None:
        return True
    return entry["val_colorfulness"] >= floor * entry["truth_val_colorfulness"]


def _better(entry: dict[str, Any], best: dict[str, Any] | None, floor: float) -> bool:
    """Is this validation result a better pick than ``best``? One that meets the colourfulness floor beats
    one that does not; among equals, the higher validation PSNR wins (the earlier on ties)."""
    if best is None:
        return True
    meets = _meets_floor(entry, floor)
    best_meets = best.get("meets_floor", True) if floor > 0 else True
    if meets != best_meets:
        return meets
    return entry["val_psnr"] > best["val_psnr"]


def has_batchnorm(net: nn.Module) -> bool:
    return any(isinstance(mod, nn.modules.batchnorm._BatchNorm) for mod in net.modules())


def check_penalty_critic(loss: AdversarialLoss, critic: nn.Module, loss_name: str, model: str) -> None:
    """A per-image penalty (``loss.per_sample_regularizer``) needs a critic that scores each image on its
    own: BatchNorm mixes the images of a batch, so the penalised gradient is not the image's. Refused."""
    if getattr(loss, "per_sample_regularizer", False) and has_batchnorm(critic):
        raise ConfigError(f"model '{model}': loss '{loss_name}' penalises each image's critic gradient, but the "
                          "critic has BatchNorm, which mixes the images of a batch; use a per-sample norm "
                          "(--set critic.norm=layer, instance or none)")


def _optional_metric(registry: Registry, name: str):
    try:
        return registry.create("metric", name)
    except ConfigError:  # not registered (a restricted plugin set): selection falls back to PSNR alone
        return None


def _peak_rss_mb() -> float:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except Exception:  # pragma: no cover - non-POSIX
        return float("nan")


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

    def get_total_flops(self) -> int:
        return self.total


def count_flops_per_image(trainer: Trainer) -> dict[str, float] | None:
    """FLOPs per image, counted (not estimated) with torch's flop formulas on throw-away copies of the
    networks (their weights and optimisers are untouched): ``critic_step`` per critic image (the generator
    forward that makes its fake included), ``generator_step`` per generator image, and ``train_step``, one
    whole step (n_critic critic steps and the generator step) per generator image."""

    try:
        from ganbench.train.distributed import local_only

        g = local_only(copy.deepcopy(trainer.m.generator).float())
        d = local_only(copy.deepcopy(trainer.m.critic).float())
        loss = trainer.m.loss
        size, b = trainer.cfg.image_size, 2
        device = next(g.parameters()).device
        L = torch.zeros(b, 1, size, size, device=device)
        ab = torch.zeros(b, 2, size, size, device=device)
        out: dict[str, float] = {}
        with FlopCounter() as fc, torch.no_grad():
            g(L)
        out["generator_forward"] = fc.get_total_flops() / b
        if not loss.uses_critic:
            with FlopCounter() as fc:
                (g(L) - ab).abs().mean().backward()
            out["train_step"] = fc.get_total_flops() / b
            return out
        n = trainer.n_critic
        with FlopCounter() as fc:
            for i in range(n):
                with torch.set_grad_enabled(i == n - 1):
                    fake = g(L)
                real, fk = torch.cat([L, ab], 1), torch.cat([L, fake.detach()], 1)
                rs, fs = d(real), d(fk)
                total = loss.critic_loss(rs, fs)
                reg = loss.critic_regularizer(d, real, fk)
                (total if reg is None else total + reg).backward()
        out["critic_step"] = fc.get_total_flops() / (b * n)  # its generator forward, critic pass and penalty
        with FlopCounter() as fc:
            d.requires_grad_(False)
            g_scores = [d(torch.cat([L, fake], 1))]
            if loss.generator_sees_real_scores:
                g_scores.append(d(torch.cat([L, ab], 1)).detach())
            g_total = loss.generator_loss(*g_scores) + (fake - ab).abs().mean()
            g_total.backward()
        out["generator_step"] = fc.get_total_flops() / b
        out["train_step"] = out["generator_step"] + n * out["critic_step"]  # a step outside WGAN's warm-up
        with FlopCounter() as fc:
            d.requires_grad_(False)
            d(torch.cat([L, ab], 1))
        out["critic_forward"] = fc.get_total_flops() / b
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
