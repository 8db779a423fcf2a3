"""One rank of a 2-process check that a loss sees the global batch, for tests/plugins/test_plugin_contract.py.

    torchrun --standalone --nproc-per-node 2 tests/ddp_loss_worker.py OUT.json

Each rank scores its half of a fixed batch with a DDP-wrapped linear critic, gathers the scores with
``ganbench.train.distributed.global_scores`` and backpropagates a relativistic (RaGAN) generator loss. Rank 0
writes ``{"loss", "grad", "rows"}`` to OUT.json; the test compares them with one process on the whole batch.
"""

import json
import sys
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def batch():
    g = torch.Generator().manual_seed(1)
    return torch.randn(8, 3, generator=g, dtype=torch.float64), torch.randn(8, 1, generator=g, dtype=torch.float64)


def critic():
    torch.manual_seed(0)
    return nn.Linear(3, 1).double()


def ragan_generator(fake, real):
    return 0.5 * (F.binary_cross_entropy_with_logits(fake - real.mean(), torch.ones_like(fake))
                  + F.binary_cross_entropy_with_logits(real - fake.mean(), torch.zeros_like(real)))


def main(out):
    from torch.nn.parallel import DistributedDataParallel as DDP

    from ganbench.train.distributed import global_scores

    # a bounded wait: a stuck rendezvous or collective raises instead of hanging (the test also kills it)
    dist.init_process_group("gloo", timeout=timedelta(seconds=60))
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        x, real = batch()
        net = DDP(critic())
        n = x.shape[0] // world
        part = slice(rank * n, (rank + 1) * n)
        fake_s = global_scores(net(x[part]))
        real_s = global_scores(real[part])
        loss = ragan_generator(fake_s, real_s)
        loss.backward()
        if rank == 0:
            with open(out, "w") as f:
                json.dump({"loss": loss.item(), "grad": net.module.weight.grad.tolist(), "rows": fake_s.shape[0]}, f)
        # DDP holds the process group: free it while both ranks still hold theirs (freed after
        # destroy_process_group, on leaving this function, it hung about 1 run in 6 under load)
        del net, fake_s, real_s, loss
        dist.barrier()  # rank 0 hosts the store: neither rank tears down while the other still talks to it
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    import faulthandler

    # a stuck rank prints where every thread is and exits, so the test fails with that instead of a bare timeout
    faulthandler.dump_traceback_later(150, exit=True)
    main(sys.argv[1])
