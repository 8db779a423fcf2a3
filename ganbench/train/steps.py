"""The two training steps of an adversarial recipe: a critic step and a generator step (adversarial loss +
λ_L1 · L1). The trainer runs them, and the FLOP counter counts these very passes (``flops.py``).

The steps know a loss only through ``AdversarialLoss``: constraints (weight clipping) are the loss plugin's
business, regularisers (gradient penalties) the loss' or the recipe's (``regularize.py`` composes them into
the loss' ``critic_regularizer``). The statistics they return are named as the run's
``history.csv`` columns (``d_loss``, ``d_reg``: the critic's loss and regulariser; ``g_adv``, ``g_l1``;
``w_estimate``).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ganbench.train.distributed import average_gradients, global_scores
from ganbench.train.networks import Networks, has_batchnorm
from ganbench.train.precision import AUTOCAST
from ganbench.train.regularize import RegularizedLoss, ScoresOnly, has_regularizer, scores_of


def _no_forward_buffer_sync_option(ddp: type) -> str:
    """DDP's option that stops it broadcasting rank 0's buffers before every forward (ganbench's BatchNorm
    statistics are global already): ``forward_sync_buffers`` from torch 2.13, which deprecates
    ``broadcast_buffers`` with a warning per wrapper; ``broadcast_buffers`` before it. The new option still
    broadcasts the buffers once, when the wrapper is built: harmless, every rank builds the same networks
    from the same seed, before any resume."""
    params = inspect.signature(ddp).parameters
    return "forward_sync_buffers" if "forward_sync_buffers" in params else "broadcast_buffers"


class Steps:
    """The critic and generator steps on ``nets``. ``distributed``: the passes that train a network go
    through DistributedDataParallel; ``compile_``: torch.compile the generator and the critic's plain passes;
    ``ema``: a copy of the generator that each generator step moves towards it with decay ``ema_decay``."""

    def __init__(self, nets: Networks, device: torch.device, precision: str, l1_weight: float,
                 distributed: bool = False, compile_: bool = False, ema: nn.Module | None = None,
                 ema_decay: float = 0.0) -> None:
        self.nets, self.loss, self.device = nets, nets.loss, device
        self.l1_weight = l1_weight
        self.autocast_dtype = AUTOCAST[precision]
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
        self.critic_has_batchnorm = has_batchnorm(nets.critic)
        #: the critic returns (scores, [features]) (it declares ``returns_features``)
        self.critic_features = bool(getattr(nets.critic, "returns_features", False))
        #: what the loss' generator_loss receives besides the fake's scores (``AdversarialLoss.needs``)
        self.generator_needs = nets.loss.needs if nets.loss.uses_critic else frozenset()
        #: the critic step adds a regularizer (the loss' own or a recipe's); else d_reg is logged empty
        self.has_regularizer = has_regularizer(nets.loss)
        self.ema, self.ema_decay = ema, ema_decay
        self.has_w_estimate = False  # set by the first critic step whose loss returns a distance estimate
        #: scores over the global batch under torchrun (every rank's rows); a copy outside it keeps its own
        self._gather = global_scores if distributed else (lambda scores: scores)
        #: averages the critic's gradients over the ranks after a backward outside DDP (a copy outside it: none)
        self._average = average_gradients if distributed else (lambda module: None)
        self._wrap(distributed, compile_)

    def _wrap(self, distributed: bool, compile_: bool) -> None:
        """The callables each pass uses. Data-parallel: DistributedDataParallel for the passes that train
        a network (the generator's fake with gradients, the critic's scores in its own step); the plain
        modules for no-grad fakes and for the critic inside the generator step. ``compile_``:
        torch.compile the generator and the critic's plain passes; the gradient penalty always goes through
        the uncompiled, unwrapped critic (compiled graphs and DDP cannot double-backward)."""
        g_plain: Callable[..., Any] = self.nets.generator
        c_plain: Callable[..., Any] = self.nets.critic
        g_train, c_train = g_plain, c_plain
        if distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            kw: dict[str, Any] = {"device_ids": [self.device.index]} if self.device.type == "cuda" else {}
            kw[_no_forward_buffer_sync_option(DDP)] = False
            g_train = DDP(g_plain, **kw)
            c_train = DDP(c_plain, **kw)
        if compile_:
            g_plain, c_plain = torch.compile(g_plain), torch.compile(c_plain)
            g_train = torch.compile(g_train) if distributed else g_plain
            c_train = torch.compile(c_train) if distributed else c_plain
        self._g_plain, self._g_train, self._c_plain, self._c_train = g_plain, g_train, c_plain, c_train

    def generate(self, L: torch.Tensor) -> torch.Tensor:
        """The generator's ab for L (with gradients when they are enabled, through DDP under torchrun)."""
        return (self._g_train if torch.is_grad_enabled() else self._g_plain)(L)

    def score(self, x: torch.Tensor, train: bool = True) -> torch.Tensor:
        """The critic's scores of (L, ab); ``train``: the critic's own step (through DDP under torchrun)."""
        return scores_of(self.nets.critic, (self._c_train if train else self._c_plain)(x))

    def score_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The critic's scores and intermediate features of (L, ab) (a critic that declares
        ``returns_features``), through the plain critic (the generator step's)."""
        scores, features = self._c_plain(x)
        return scores, list(features)

    def autocast(self):
        """Autocast to the run's precision (nothing for fp32)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def critic_step(self, L: torch.Tensor, ab: torch.Tensor, fake_ab: torch.Tensor,
                    index: int = 0) -> dict[str, torch.Tensor]:
        """One update of the critic on real (L, ab) against (L, fake_ab), fake detached; ``index``: the critic
        steps done before it (when lazy regularizers run)."""
        nets, loss = self.nets, self.loss
        if isinstance(loss, RegularizedLoss):
            loss.critic_step = index
        real = torch.cat([L, ab], 1)
        fake = torch.cat([L, fake_ab.detach()], 1)
        with self.autocast():
            if self.critic_has_batchnorm:  # separate real and fake passes, as DCGAN/pix2pix (batch statistics)
                real_s = self.score(real).float()
                fake_s = self.score(fake).float()
            else:  # per-sample normalisation: one pass over both is the same maths, and faster
                real_s, fake_s = self.score(torch.cat([real, fake], 0)).float().chunk(2)
        real_s, fake_s = self._gather(real_s), self._gather(fake_s)  # the global batch under torchrun
        critic_loss = loss.critic_loss(real_s, fake_s)
        with self.autocast():  # the uncompiled critic (compiled graphs cannot double-backward)
            reg = loss.critic_regularizer(ScoresOnly(nets.critic) if self.critic_features else nets.critic, real, fake)
        reg = None if reg is None else reg.float()
        total = critic_loss if reg is None else critic_loss + reg
        self._step_critic(total)
        if isinstance(loss, RegularizedLoss):  # a lazy regularizer due now: an optimiser step of its own
            with self.autocast():
                lazy = loss.lazy_regularizer(nets.critic, real, fake)
            if lazy is not None:
                lazy = lazy.float()
                self._step_critic(lazy, average=True)
                reg = lazy if reg is None else reg + lazy
        w = loss.distance_estimate(real_s.detach(), fake_s.detach())
        stats = {"d_loss": critic_loss.detach()}
        if self.has_regularizer:  # a lazy regularizer's off-steps log 0: it added nothing
            stats["d_reg"] = critic_loss.new_zeros(()) if reg is None else reg.detach()
        if w is not None:
            self.has_w_estimate = True
            stats["w_estimate"] = w.detach()
        return stats

    def _step_critic(self, total: torch.Tensor, average: bool = False) -> None:
        """One optimiser step of the critic on ``total``, then the loss' constraint (weight clipping).
        ``average``: ``total``'s backward ran outside DistributedDataParallel (the plain critic), so the
        gradients are averaged over the ranks here."""
        self.nets.critic_optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        if average:
            self._average(self.nets.critic)
        self.scaler.step(self.nets.critic_optimizer)
        self.scaler.update()
        self.loss.after_critic_step(self.nets.critic)  # the loss' constraint after every optimiser step

    def generator_step(self, L: torch.Tensor, ab: torch.Tensor, fake_ab: torch.Tensor,
                       diagnose: bool = False) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """One update of the generator (``fake_ab`` generated with gradients) and of its EMA copy. Returns the
        statistics and, when ``diagnose``, the adversarial-to-L1 gradient ratio (else None)."""
        nets, loss = self.nets, self.loss
        ratio = None
        nets.critic.requires_grad_(False)  # no critic weight-gradients in the generator step
        try:
            if loss.uses_critic:
                with self.autocast():
                    fake_s, needed = self.generator_inputs(L, ab, fake_ab)
                g_adv = loss.generator_loss(fake_s, **needed)
            else:
                g_adv = torch.zeros((), device=self.device)
            g_l1 = (fake_ab.float() - ab).abs().mean()
            if loss.uses_critic and diagnose:
                ratio = self.adversarial_to_l1_ratio(g_adv, fake_ab, ab)
            total = g_adv + self.l1_weight * g_l1
            nets.generator_optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(total).backward()
            self.scaler.step(nets.generator_optimizer)
            self.scaler.update()
        finally:
            nets.critic.requires_grad_(True)
        if self.ema is not None:
            with torch.no_grad():
                params: list[torch.Tensor] = list(self.ema.parameters())
                torch._foreach_lerp_(params, [*nets.generator.parameters()], 1 - self.ema_decay)
                for eb, b in zip(self.ema.buffers(), nets.generator.buffers(), strict=True):
                    eb.copy_(b)
        return {"g_adv": g_adv.detach(), "g_l1": g_l1.detach()}, ratio

    def generator_inputs(self, L: torch.Tensor, ab: torch.Tensor,
                         fake_ab: torch.Tensor) -> tuple[torch.Tensor, dict[str, object]]:
        """The generator step's critic outputs (fp32, the global batch under torchrun): the fake's scores, with
        gradients to the generator, and what the loss declared it needs (``generator_needs``) as keyword
        arguments: ``real_scores`` (detached); ``fake_features`` (with gradients) and ``real_features``
        (detached), layer by layer. A loss that needs nothing costs one critic pass over the fake."""
        needs = self.generator_needs
        fake = torch.cat([L, fake_ab], 1)
        if not needs:
            return self._gather(self.score(fake, train=False).float()), {}
        real = torch.cat([L, ab], 1)
        features = "features" in needs
        if self.critic_has_batchnorm:  # batch statistics: separate passes, as in the critic step
            fake_s, fake_f = self._critic_outputs(fake, features)
            with torch.no_grad():
                real_s, real_f = self._critic_outputs(real, features)
        else:  # per-sample normalisation: one pass over both
            both_s, both_f = self._critic_outputs(torch.cat([fake, real], 0), features)
            fake_s, real_s = both_s.chunk(2)
            fake_f, real_f = [f.chunk(2)[0] for f in both_f], [f.chunk(2)[1] for f in both_f]
        needed: dict[str, object] = {}
        if "real_scores" in needs:
            needed["real_scores"] = self._gather(real_s.detach().float())
        if features:
            needed["fake_features"] = [self._gather(f.float()) for f in fake_f]
            needed["real_features"] = [self._gather(f.detach().float()) for f in real_f]
        return self._gather(fake_s.float()), needed

    def _critic_outputs(self, x: torch.Tensor, features: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        if features:
            return self.score_with_features(x)
        return self.score(x, train=False), []

    def generator_scores(self, L: torch.Tensor, ab: torch.Tensor,
                         fake_ab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The fake's scores and, if the loss needs them, the real batch's (see :meth:`generator_inputs`)."""
        fake_s, needed = self.generator_inputs(L, ab, fake_ab)
        real_s = needed.get("real_scores")
        return fake_s, real_s if isinstance(real_s, torch.Tensor) else None

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
