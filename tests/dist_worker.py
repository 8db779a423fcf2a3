"""``ganbench`` with a spy that saves each process's final networks, for tests/train/test_distributed.py.

    [torchrun --standalone --nproc-per-node 2] tests/dist_worker.py OUT_DIR run --models ... (ganbench args)

The run folder keeps only the selected generator; the critic and every rank's weights are what data
parallelism must get right, so the spy writes ``OUT_DIR/rank<R>.pt`` = {"generator": ..., "critic": ...}
(the networks after the last step) for every process.
"""

import os
import sys

import torch

import ganbench.grid.runner as runner

trainers = []


class SpyTrainer(runner.Trainer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        trainers.append(self)


runner.Trainer = SpyTrainer

if __name__ == "__main__":
    from ganbench.cli import cli

    out = sys.argv[1]
    try:
        cli.main(sys.argv[2:], prog_name="ganbench")
    finally:
        if trainers:
            m = trainers[-1].nets
            state = {"generator": m.generator.state_dict(), "critic": m.critic.state_dict()}
            torch.save(state, os.path.join(out, f"rank{os.environ.get('RANK', '0')}.pt"))
