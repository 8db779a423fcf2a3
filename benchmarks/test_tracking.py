"""The trackers' overhead on training at the ``cpu`` budget's sizes: the same training steps (with validations and
their sample grids) without a tracker and with the TensorBoard tracker, its end-of-run flush included.

    pytest benchmarks/test_tracking.py --benchmark-enable --benchmark-json results/benchmarks/NAME.json

Compare the two means of group ``tracker overhead``: the ratio is the overhead (a tracker runs in a background
thread; what the training thread pays is handing over numbers and building the validation grid).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from ganbench.track import RunFeed, TrackerSession
from ganbench.train.setup import build_trainer

#: training steps per round and validations every EVAL_EVERY of them (GANBENCH_BENCH_STEPS / _ROUNDS shorten a
#: measurement on a loaded machine; the saved JSON records what was used)
STEPS = int(os.environ.get("GANBENCH_BENCH_STEPS", 30))
EVAL_EVERY = max(1, STEPS // 3)
ROUNDS = int(os.environ.get("GANBENCH_BENCH_ROUNDS", 3))


def _train(registry, tmp: Path, trackers: list[str]) -> None:
    trainer = build_trainer(registry, "dcgan", "cpu", metrics=("psnr", "colorfulness"))
    feed = None
    if trackers:
        session = TrackerSession(registry, trackers, tmp, "bench", tmp)
        feed = RunFeed(session, print)
        feed.start(trainer.cfg.to_dict(), trainer.cfg.run_key(), trainer)
        trainer.on_step = feed.update
    trainer.train(STEPS, None, EVAL_EVERY, 0, log_every=1)
    if feed is not None:
        feed.update(trainer)
        feed.close("complete")


@pytest.mark.parametrize("tracker", ["none", "tensorboard"])
def test_tracker_overhead(benchmark, registry, tmp_path, tracker):
    if tracker == "tensorboard" and importlib.util.find_spec("tensorboard") is None:
        pytest.skip("the tensorboard extra is not installed (pip install 'ganbench[tensorboard]')")
    benchmark.group = f"tracker overhead: dcgan, cpu budget sizes, {STEPS} steps, validation every {EVAL_EVERY}"
    benchmark.extra_info.update(tracker=tracker, steps=STEPS, eval_every=EVAL_EVERY, rounds=ROUNDS)
    rounds = iter(range(100))
    benchmark.pedantic(lambda: _train(registry, tmp_path / str(next(rounds)), [] if tracker == "none" else [tracker]),
                       rounds=ROUNDS, iterations=1, warmup_rounds=1 if ROUNDS > 2 else 0)
