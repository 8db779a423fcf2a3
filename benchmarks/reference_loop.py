"""What people write by hand: an eager fp32 pix2pix-style training step (NCHW, default optimisers,
BatchNorm, separate real/fake critic passes, the generator run again for the generator step), the
reference ganbench's speed is compared with. Same architecture and recipe values as ganbench's."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganbench_plugins.patchgan import PatchGAN
from ganbench_plugins.unet import UNet


class ReferenceLoop:
    def __init__(self, model: str, gen_options: dict, critic_options: dict, seed: int = 0):
        torch.manual_seed(seed)
        self.model = model
        norm = "layer" if model == "wgan-gp" else "batch"
        self.G = UNet(**gen_options)
        self.D = PatchGAN(norm=norm, **critic_options)
        if model == "dcgan":
            self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
            self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
            self.n_critic = 1
        elif model == "wgan":
            self.opt_g = torch.optim.RMSprop(self.G.parameters(), lr=5e-5)
            self.opt_d = torch.optim.RMSprop(self.D.parameters(), lr=5e-5)
            self.n_critic = 5
        else:
            self.opt_g = torch.optim.Adam(self.G.parameters(), lr=1e-4, betas=(0.0, 0.9))
            self.opt_d = torch.optim.Adam(self.D.parameters(), lr=1e-4, betas=(0.0, 0.9))
            self.n_critic = 5

    def step(self, batches):
        """``batches``: n_critic (L, ab) pairs already in memory."""
        for L, ab in batches[: self.n_critic]:
            fake = self.G(L).detach()
            real_s = self.D(torch.cat([L, ab], 1))
            fake_s = self.D(torch.cat([L, fake], 1))
            if self.model == "dcgan":
                loss = F.binary_cross_entropy_with_logits(real_s, torch.ones_like(real_s)) + \
                    F.binary_cross_entropy_with_logits(fake_s, torch.zeros_like(fake_s))
            else:
                loss = fake_s.mean() - real_s.mean()
            if self.model == "wgan-gp":
                eps = torch.rand(L.shape[0], 1, 1, 1)
                x = (eps * torch.cat([L, ab], 1) + (1 - eps) * torch.cat([L, fake], 1)).requires_grad_(True)
                (grad,) = torch.autograd.grad(self.D(x).sum(), x, create_graph=True)
                loss = loss + 10 * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
            self.opt_d.zero_grad()
            loss.backward()
            self.opt_d.step()
            if self.model == "wgan":
                for p in self.D.parameters():
                    p.data.clamp_(-0.01, 0.01)
        L, ab = batches[self.n_critic - 1]
        fake = self.G(L)
        fake_s = self.D(torch.cat([L, fake], 1))
        adv = F.binary_cross_entropy_with_logits(fake_s, torch.ones_like(fake_s)) if self.model == "dcgan" \
            else -fake_s.mean()
        loss = adv + 100 * (fake - ab).abs().mean()
        self.opt_g.zero_grad()
        loss.backward()
        self.opt_g.step()
