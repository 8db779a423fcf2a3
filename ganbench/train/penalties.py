"""Helpers for gradient penalties on a critic, shared by the built-in losses and regularizers and offered to
plugins through ``ganbench.api``: the per-image score of a patch critic, a critic's input gradient kept
differentiable, and per-image gradient norms with the precision rules of WGAN-GP's penalty."""

from __future__ import annotations

import contextlib

import torch
from torch import nn


def per_image_score(scores: torch.Tensor) -> torch.Tensor:
    """One critic score per image: the mean over a patch critic's patch scores (N, 1, h, w) -> (N,); a
    critic with one score per image already has it. The Wasserstein loss and the gradient penalty both use
    this score, so the penalty constrains the critic the loss trains, with the same λ at every image size."""
    return scores.flatten(1).mean(1) if scores.dim() > 1 else scores


#: How the gradient penalty reduces a patch critic's scores before differentiating them.
PENALTY_REDUCTIONS = ("mean", "sum")


def critic_input_gradient(critic: nn.Module, x: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """∂D(x_i)/∂x_i for every image i of ``x`` (which must require grad), kept differentiable
    (``create_graph=True``) so a penalty on it trains the critic.

    ``reduction="mean"``: D is :func:`per_image_score` (the mean over patches), the score the Wasserstein
    loss uses. ``"sum"``: D is the patch scores' sum, as pix2pix's ``cal_gradient_penalty`` -- P times the
    per-image score for P patches, so a penalty on it asks the loss' critic for gradient norm 1/P.
    Images are independent (a per-sample critic), so one gradient of the batch total gives every image's.
    The scores are cast to fp32 before the reduction."""
    if reduction not in PENALTY_REDUCTIONS:
        raise ValueError(f"unknown penalty_reduction '{reduction}'; choose one of {', '.join(PENALTY_REDUCTIONS)}")
    scores = critic(x)
    scores = scores.to(torch.promote_types(scores.dtype, torch.float32))
    total = per_image_score(scores).sum() if reduction == "mean" else scores.sum()
    (grad,) = torch.autograd.grad(total, x, create_graph=True)
    return grad


def fp16_autocast_on(device_type: str) -> bool:
    """Is fp16 autocast on for ``device_type`` (where an inner gradient, which the GradScaler does not scale,
    could underflow: penalties then run in fp32)?"""
    if not torch.amp.is_autocast_available(device_type):  # e.g. the meta device (shape checks, FLOP counts)
        return False
    return torch.is_autocast_enabled(device_type) and torch.get_autocast_dtype(device_type) == torch.float16




def gradient_norms(critic: nn.Module, x: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """‖∂D(x_i)/∂x_i‖₂ per image at ``x`` (a leaf copy of it is differentiated), differentiable, at least
    float32. Under fp16 autocast it runs in fp32 (the GradScaler does not scale this inner gradient, which
    could underflow in fp16); under bf16 the critic runs in bf16 and the norms are fp32."""
    device_type = x.device.type
    with torch.autocast(device_type, enabled=False) if fp16_autocast_on(device_type) else contextlib.nullcontext():
        dtype = torch.promote_types(x.dtype, torch.float32)
        x = x.detach().to(dtype).requires_grad_(True)
        grad = critic_input_gradient(critic, x, reduction)
        return grad.flatten(1).to(dtype).norm(2, dim=1)
