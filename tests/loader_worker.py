"""One rank of tests/data/test_loader.py's torchrun test: joins the process group, builds its rows of global
batches 0..5 with two data workers (as a data-parallel run does), and saves them to OUT_DIR/rank<R>.pt.

    torchrun --standalone --nproc-per-node 2 tests/loader_worker.py OUT_DIR
"""

import sys
from pathlib import Path

import torch

from ganbench.data.loader import ParallelBatches
from ganbench.data.pipeline import TrainSampler
from ganbench.data.synthetic import synthetic_data
from ganbench.train.distributed import init_from_env, local_batch, rank_slice


def main(out: Path) -> None:
    di = init_from_env("cpu")
    sampler = TrainSampler(synthetic_data(16, n=5, seed=1).train, 16, 4, 5)
    source = ParallelBatches(sampler, rank_slice(local_batch(4, di)), workers=2)
    try:
        torch.save([source(k) for k in range(6)], out / f"rank{di.rank}.pt")
    finally:
        source.close()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
