"""The parallel input pipeline (ganbench/data/loader.py): the same bytes as the sampler in the training
process, whatever the worker count, after a resume, per data-parallel rank and under torchrun; clean
shutdown on a worker's death, Ctrl-C and SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from procs import descendants, kill_tree, run_bounded

from ganbench.core.errors import ConfigError
from ganbench.data.loader import ParallelBatches, auto_workers, data_workers, set_data_workers
from ganbench.data.pipeline import TrainSampler
from ganbench.data.synthetic import synthetic_data

TORCHRUN = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or shutil.which("torchrun")
WORKER = str(Path(__file__).parents[1] / "loader_worker.py")


def _sampler(seed: int = 3) -> TrainSampler:
    # 5 photos, batch 4: epochs end mid-batch, so a batch straddles two permutations
    return TrainSampler(synthetic_data(16, n=5, seed=1).train, 16, 4, seed)


@pytest.mark.parametrize("workers", [0, 1, 3])
def test_parallel_batches_are_the_samplers_bytes(workers):
    sampler = _sampler()
    source = ParallelBatches(_sampler(), workers=workers)
    try:
        for k in range(9):
            assert torch.equal(source(k), sampler.batch(k)), k
    finally:
        source.close()


def test_a_resume_starts_the_workers_at_its_batch_and_rank_rows_are_the_global_rows():
    sampler = _sampler(seed=7)
    resumed = ParallelBatches(_sampler(seed=7), workers=2)
    rank1 = ParallelBatches(_sampler(seed=7), rows=slice(2, 4), workers=2)
    try:
        for k in (11, 12, 13, 4, 5):  # a resume at 11, then a jump back (the workers restart at 4)
            assert torch.equal(resumed(k), sampler.batch(k)), k
            assert torch.equal(rank1(k), sampler.batch(k)[2:4]), k
    finally:
        resumed.close()
        rank1.close()


def test_a_dead_worker_is_one_message_and_the_batches_stay_the_same():
    sampler = _sampler()
    failures: list[str] = []
    source = ParallelBatches(_sampler(), workers=2, on_failure=failures.append)
    try:
        assert torch.equal(source(0), sampler.batch(0))
        workers = [w.pid for w in source._iter._workers]  # type: ignore[union-attr]
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        t0 = time.monotonic()
        for k in range(1, 10):
            assert torch.equal(source(k), sampler.batch(k)), k
        assert time.monotonic() - t0 < 30  # no hang on the dead workers
    finally:
        source.close()
    assert len(failures) == 1 and "data worker" in failures[0]
    assert not any(p in descendants(os.getpid()) for p in workers)


@pytest.mark.parametrize("error", [ConnectionResetError(104, "Connection reset by peer"), EOFError()])
def test_a_worker_dying_while_it_hands_a_batch_over_is_the_same_one_message(error):
    # a worker killed while the training process receives a batch's shared memory from it breaks that
    # connection (CI saw ConnectionResetError from multiprocessing.resource_sharer); it is a dead worker too
    sampler = _sampler()
    failures: list[str] = []
    source = ParallelBatches(_sampler(), workers=2, on_failure=failures.append)
    try:
        assert torch.equal(source(0), sampler.batch(0))
        workers = [w.pid for w in source._iter._workers]  # type: ignore[union-attr]

        class Broken:
            _shutdown_workers = source._iter._shutdown_workers  # type: ignore[union-attr]

            def __next__(self):
                raise error

        source._iter = Broken()  # type: ignore[assignment]
        for k in range(1, 4):
            assert torch.equal(source(k), sampler.batch(k)), k
    finally:
        source.close()
    assert len(failures) == 1 and failures[0].startswith("a data worker failed (")
    assert "()" not in failures[0]  # an exception with no message is named by its type
    assert source.workers == 0 and not any(p in descendants(os.getpid()) for p in workers)


def test_worker_count(monkeypatch):
    assert auto_workers("cuda", 1, cores=16) == 15
    assert auto_workers("cuda", 8, cores=64) == 7
    assert auto_workers("cuda", 4, cores=2) == 1
    assert auto_workers("cpu", 1, cores=2) == 0
    assert auto_workers("cpu", 1, cores=16) == 1
    monkeypatch.setenv("GANBENCH_DATA_WORKERS", "3")
    assert data_workers("cpu") == 3
    with pytest.raises(ConfigError, match="--data-workers"):
        set_data_workers("-1")
    with pytest.raises(ConfigError, match="--data-workers"):
        set_data_workers("many")
    set_data_workers("auto")
    assert data_workers("cpu") == auto_workers("cpu")


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not found")
def test_under_torchrun_each_ranks_workers_build_its_rows_of_the_global_batch(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = run_bounded([TORCHRUN, "--standalone", "--nproc-per-node=2", WORKER, str(tmp_path)], env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    sampler = _sampler(seed=5)
    for k in range(6):
        whole = torch.cat([torch.load(tmp_path / f"rank{r}.pt")[k] for r in range(2)])
        assert torch.equal(whole, sampler.batch(k)), k


def _wait_for(path_glob, root: Path, proc: subprocess.Popen, seconds: float = 120):
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        found = list(root.glob(path_glob))
        if found:
            return found[0]
        time.sleep(0.05)
    return None


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_with_data_workers_checkpoints_and_leaves_no_process(tmp_path, sig):
    cmd = [sys.executable, "-m", "ganbench", "run", "--models", "dcgan", "--budget", "smoke,steps=400",
           "--checkpoint-every", "2", "--device", "cpu", "--data-workers", "2", "-q", "--results", str(tmp_path)]
    env = {**os.environ, "GANBENCH_LOAD_PLUGINS": "ganbench", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        state = _wait_for("runs/*/state.pt", tmp_path, proc)
        assert state is not None, proc.communicate(timeout=60)[1][-2000:]
        assert len(descendants(proc.pid)) >= 2  # the workers are running
        # Ctrl-C reaches the whole process group (workers included); SIGTERM the training process alone
        os.killpg(proc.pid, sig) if sig == signal.SIGINT else proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        kill_tree(proc.pid)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    record = json.loads((state.parent / "run.json").read_text())
    assert record["status"] == "interrupted"
    assert torch.load(state, weights_only=True)["counters"]["step"] > 0


def test_a_dead_worker_stops_the_run_after_its_step_with_a_checkpoint(registry, monkeypatch, capfd):
    from ganbench.train.setup import build_trainer

    monkeypatch.setenv("GANBENCH_DATA_WORKERS", "2")
    trainer = build_trainer(registry, "dcgan", "smoke")
    assert trainer.batches.crops.workers == 2
    saved = []

    def kill_workers(tr):
        if tr.counters.step == 2:
            for w in tr.batches.crops._iter._workers:
                os.kill(w.pid, signal.SIGKILL)

    trainer.on_step, trainer.checkpoint = kill_workers, saved.append
    result = trainer.train(total_steps=40, seconds=None, eval_every=0, checkpoint_every=0, validate=False)
    assert result.status == "interrupted" and 2 < result.counters.step < 40
    assert [s["counters"]["step"] for s in saved] == [result.counters.step]  # one checkpoint, at the stop
    err = capfd.readouterr().err
    assert err.count("a data worker failed") == 1 and "Traceback" not in err
    assert trainer.batches.crops._iter is None  # closed: no worker left behind


def test_a_run_fed_by_workers_and_resumed_trains_the_weights_of_an_in_process_run(registry, monkeypatch):
    from ganbench.train.setup import build_trainer

    def trainer(workers: int):
        monkeypatch.setenv("GANBENCH_DATA_WORKERS", str(workers))
        torch.manual_seed(0)
        return build_trainer(registry, "wgan", "smoke", batch_size=4)  # n_critic batches per step

    ref = trainer(0)
    ref.train(total_steps=6, seconds=None, eval_every=0, checkpoint_every=0, validate=False)
    first, saved = trainer(2), []

    def stop_at_3(tr):
        if tr.counters.step == 3:
            tr.stop.signal = signal.SIGTERM

    first.on_step, first.checkpoint = stop_at_3, saved.append  # the same 6-step schedule, stopped at 3
    assert first.train(total_steps=6, seconds=None, eval_every=0, checkpoint_every=0,
                       validate=False).status == "interrupted"
    resumed = trainer(2)
    resumed.load_state_dict(saved[-1])
    assert resumed.counters.batches > 3  # the workers start mid-run
    resumed.train(total_steps=6, seconds=None, eval_every=0, checkpoint_every=0, validate=False)
    a, b = ref.nets.generator.state_dict(), resumed.nets.generator.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
