"""Data-parallel training under PyTorch's launcher (``torchrun --nproc-per-node N -m ganbench run …``).

- One process per device; NCCL on CUDA, gloo on CPU. The budget's batch size is the *global* batch:
  each rank trains on its 1/N slice of global batch k, so budgets count global images.
- Generator and critic are wrapped in DistributedDataParallel for the passes that train them. The
  gradient penalty runs through the plain critic module: its input-gradients are taken with
  ``autograd.grad(create_graph=True)`` and the penalty joins the critic loss for one ordinary
  ``backward()``, which fires DDP's all-reduce (DDP does not support double backward through itself).
- BatchNorm: every BatchNorm layer becomes :class:`GlobalBatchNorm2d`, which normalises with statistics
  over the whole global batch (an all-reduce that autograd differentiates), so N processes compute what
  one process computes on the global batch. ``SyncBatchNorm`` would do the same on GPUs but runs only on
  CUDA and has no double backward; the WGAN-GP critic has no BatchNorm (LayerNorm), so the penalty never
  differentiates through a synchronised layer twice.
- Only rank 0 writes results, logs and checkpoints; every rank resumes from rank 0's checkpoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ganbench.core.errors import ConfigError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def info() -> DistInfo:
    """The process group this process belongs to (rank 0 of 1 when not launched by torchrun)."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    return DistInfo()


def init_from_env(device: str = "auto") -> DistInfo:
    """Join the process group torchrun describes in the environment (WORLD_SIZE, RANK, MASTER_ADDR …)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        use_cuda = device != "cpu" and torch.cuda.is_available()
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return info()


def local_device(device: torch.device, di: DistInfo) -> torch.device:
    if device.type == "cuda" and di.enabled:
        return torch.device("cuda", di.local_rank)
    return device


def local_batch(global_batch: int, di: DistInfo) -> int:
    if global_batch % di.world:
        raise ConfigError(f"batch size {global_batch} is not divisible by the {di.world} processes")
    return global_batch // di.world


def rank_slice(n_local: int) -> slice:
    """This rank's part of a global tensor of ``n_local * world`` rows (all of it in one process). Use it to
    draw per-sample randomness for the global batch, so N processes draw what one process draws."""
    di = info()
    return slice(di.rank * n_local, (di.rank + 1) * n_local)


def global_rows(n_local: int) -> int:
    return n_local * info().world


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks, differentiable: every rank's output is the sum of all inputs, so the gradient of each
    input is the sum of the output gradients over ranks (another all-reduce)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


@torch.compiler.disable  # a graph break under --compile: collectives inside a compiled graph are not needed here
def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Differentiable all-reduce (sum). ganbench's own: ``torch.distributed.nn.functional.all_reduce`` warns
    on every call from torch 2.13 on and raises inside ``torch.compile``; this one works on torch 2.4+, on gloo
    and NCCL, eager and compiled (``torch.compiler.disable`` exists since torch 2.1)."""
    return _AllReduceSum.apply(tensor)


def global_scores(scores: torch.Tensor) -> torch.Tensor:
    """The scores of the whole global batch, in rank order (``scores`` itself in one process).

    Differentiable (through :func:`all_reduce_sum`): each process's backward sends the gradient of its
    (identical) global loss back to the process that computed each row, so with DistributedDataParallel's
    gradient averaging N processes get the gradient one process gets on the global batch. A loss that sees
    global scores may use batch statistics (means, pairings) exactly as in one process.
    """
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return scores
    rank, world = dist.get_rank(), dist.get_world_size()
    before = scores.new_zeros((rank * scores.shape[0], *scores.shape[1:]))
    after = scores.new_zeros(((world - rank - 1) * scores.shape[0], *scores.shape[1:]))
    placed = torch.cat([before, scores, after])  # this rank's rows in place, zeros elsewhere
    return all_reduce_sum(placed) if scores.requires_grad else _summed(placed)


def average_gradients(module: nn.Module) -> None:
    """Average ``module``'s gradients over the ranks in place (nothing in one process): for an optimiser step
    whose backward ran outside DistributedDataParallel (the lazy regularizer's, through the plain critic), so
    every rank steps with the gradient of the global batch's mean, as DDP's all-reduce would give."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return
    world = dist.get_world_size()
    for p in module.parameters():
        if p.grad is not None:  # the same parameters have gradients on every rank: one graph, one recipe
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(world)


def _summed(tensor: torch.Tensor) -> torch.Tensor:
    tensor = tensor.contiguous()
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the global batch across all ranks (any backend, CPU
    included); identical to BatchNorm2d in one process and in evaluation."""

    #: False on copies that must not talk to the other ranks (e.g. FLOP counting on rank 0 alone).
    synchronize = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.synchronize and dist.is_available() and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(x)
        n_local = torch.tensor([x.shape[0] * x.shape[2] * x.shape[3]], dtype=x.dtype, device=x.device)
        stats = torch.cat([x.sum(dim=(0, 2, 3)), (x * x).sum(dim=(0, 2, 3)), n_local])
        stats = all_reduce_sum(stats)  # differentiable: gradients flow back to every rank's activations
        c = x.shape[1]
        count = stats[-1]
        mean = stats[:c] / count
        var = stats[c : 2 * c] / count - mean * mean
        if self.track_running_stats:
            assert self.running_mean is not None and self.running_var is not None
            assert self.num_batches_tracked is not None
            with torch.no_grad():
                m = self.momentum if self.momentum is not None else 0.1
                unbiased = var.detach() * count / (count - 1)
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                self.running_var.mul_(1 - m).add_(m * unbiased)
                self.num_batches_tracked.add_(1)
        y = (x - mean.view(1, c, 1, 1)) / torch.sqrt(var.view(1, c, 1, 1) + self.eps)
        if self.affine:
            y = y * self.weight.view(1, c, 1, 1) + self.bias.view(1, c, 1, 1)
        return y


def globalize_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d in ``module`` (in place) by a GlobalBatchNorm2d with the same state."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            new = GlobalBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats).to(next(child.buffers()).device)
            new.load_state_dict(child.state_dict())
            setattr(module, name, new)
        else:
            globalize_batchnorm(child)
    return module


def local_only(module: nn.Module) -> nn.Module:
    """Make a copy's global BatchNorm layers compute local statistics (no collectives)."""
    for m in module.modules():
        if isinstance(m, GlobalBatchNorm2d):
            m.synchronize = False
    return module


def rank0_value(value: float, di: DistInfo, device: torch.device) -> float:
    """``value`` as rank 0 has it (itself without data parallelism): e.g. rank 0's clock, so every rank stops,
    and decays its learning rate, at the same step of a time budget."""
    if not di.enabled:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(tensor, src=0)
    return float(tensor.item())


def broadcast_object(obj):
    """Rank 0's ``obj`` on every rank (itself in one process)."""
    if not info().enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if info().enabled:
        dist.barrier()
