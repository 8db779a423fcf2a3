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
    import faulthandler

    from ganbench.cli import cli

    # a stuck rank prints where every thread is and exits: the test fails with that, not a bare timeout
    faulthandler.dump_traceback_later(540, exit=True)
    out, code = sys.argv[1], 1
    try:
        cli.main(sys.argv[2:], prog_name="ganbench")  # ends in SystemExit, as the console script does
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        if trainers:
            m = trainers[-1].nets
            state = {"generator": m.generator.state_dict(), "critic": m.critic.state_dict()}
            torch.save(state, os.path.join(out, f"rank{os.environ.get('RANK', '0')}.pt"))
    # The spy keeps the trainer, and so its DistributedDataParallel wrappers, alive after ganbench has
    # destroyed the process group; freeing them then (at interpreter exit) can hang. Leave without freeing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
