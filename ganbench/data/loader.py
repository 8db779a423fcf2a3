"""Training batches built ahead of the step in worker processes.

Batch ``k`` is still ``TrainSampler.batch(k, rows)`` — a pure function of (seed, k) — so the parallel pipeline
gives, byte for byte, what the sampler gives in the training process: the same data order, the same resume
(a run resumed at batch k asks for k and the workers start there), the same data-parallel slices (each rank's
workers build that rank's rows of global batch k).

Why processes (torch ``DataLoader`` workers) and not threads: one sample is a short Python loop around small
torch calls (a crop, an antialiased resize, a flip); the interpreter lock is held for much of it, so threads
do not scale with cores, while worker processes do, one core each. The workers are forked after the photos
are decoded, so they share the decoded pixels (copy-on-write, or the memory-mapped store of
``ganbench.data.store``) instead of copying them. ``DataLoader`` brings what the rest needs: batches delivered
in index order, a bounded queue (``prefetch_factor`` batches per worker), pinned host memory for a CUDA device
(copied with ``non_blocking``), and detection of a worker that dies.

Shutdown: workers ignore SIGINT and SIGTERM, so Ctrl-C (sent to the whole process group) and SIGTERM reach
only the training process, whose stop flag ends the step, writes the checkpoint and closes the workers. A
worker that dies (killed, out of memory) is noticed when its batch is due (DataLoader's own SIGCHLD handler,
which would raise in the middle of whatever the training process is doing, is taken out) and reported in one
line; the batch it owed is built in the training process (the same bytes), the run is asked to stop after
this step with a checkpoint (``on_failure``), and nothing waits on the dead worker.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import threading
import warnings
from collections.abc import Callable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ganbench.core.errors import ConfigError
from ganbench.data.pipeline import TrainSampler

#: ``--data-workers N`` (and grid workers it starts) pass the count in this variable; unset: automatic.
WORKERS_ENV = "GANBENCH_DATA_WORKERS"
#: Forked workers share the decoded photos (where the platform can fork).
_CONTEXT = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
#: Batches queued per worker (DataLoader's ``prefetch_factor``): the queue holds at most workers × this.
PREFETCH = 2


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def auto_workers(device: torch.device | str = "cpu", processes_per_host: int | None = None,
                 cores: int | None = None) -> int:
    """Worker processes per training process, from the cores this process may use.

    On a GPU the training process needs about one core (it launches kernels): every other core of its share
    of the host builds batches (16 cores, one GPU: 15 workers; 8 ranks on 64 cores: 7 each). On a CPU the
    step itself uses every core, so batches are built in the training process (0 workers) unless there are
    8 cores or more per process, where one worker overlaps the (small) data time with the step.
    """
    cores = cores or available_cores()
    per = max(1, cores // max(1, processes_per_host or int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    if torch.device(device).type == "cuda":
        return max(1, per - 1)
    return 1 if per >= 8 else 0


def data_workers(device: torch.device | str = "cpu") -> int:
    """The worker count for a run: ``$GANBENCH_DATA_WORKERS`` (set by ``--data-workers``), else automatic."""
    text = os.environ.get(WORKERS_ENV, "").strip()
    if not text or text == "auto":
        return auto_workers(device)
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise ConfigError(f"--data-workers (${WORKERS_ENV}) must be a count >= 0 or 'auto', not '{text}'")
    return n


def set_data_workers(text: str | int) -> None:
    """``--data-workers N|auto``: checked now, kept in ``$GANBENCH_DATA_WORKERS`` for this process's trainers and
    the processes it starts (grid workers, torchrun's ranks inherit it from the launching shell)."""
    os.environ[WORKERS_ENV] = str(text).strip()
    data_workers()


class _BatchDataset(Dataset):
    """Item ``k`` is batch ``k``: the sampler's own function, evaluated in a worker."""

    def __init__(self, sampler: TrainSampler, rows: slice | None) -> None:
        self.sampler, self.rows = sampler, rows

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.sampler.batch(index, self.rows)


class _CountFrom(Sampler[int]):
    """Batch indices ``start``, ``start + 1``, ... (a run stops taking them when its budget is spent)."""

    def __init__(self, start: int) -> None:
        self.start = start

    def __iter__(self) -> Iterator[int]:
        return itertools.count(self.start)


def _quiet_worker(_: int) -> None:
    """Ctrl-C and SIGTERM are the training process's to handle (checkpoint, then close the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class ParallelBatches:
    """``TrainSampler.batch(k, rows)`` for k = the index asked, built ahead in ``workers`` processes.

    Called with consecutive indices (as a run asks) it reads the workers' queue; any other index (a resume,
    a benchmark starting over) restarts the workers there. ``workers`` 0: built in this process, no queue.
    ``pin``: batches in pinned memory (a CUDA device). ``on_failure(message)``: a worker died (the batch was
    built here instead); default: raise nothing, keep building batches here.
    """

    def __init__(self, sampler: TrainSampler, rows: slice | None = None, workers: int = 0, pin: bool = False,
                 on_failure: Callable[[str], None] | None = None) -> None:
        self.sampler, self.rows, self.workers, self.pin = sampler, rows, workers, pin
        self.on_failure = on_failure
        self._iter: Iterator[torch.Tensor] | None = None
        self._next = -1

    def __call__(self, index: int) -> torch.Tensor:
        if self.workers <= 0:
            return self.sampler.batch(index, self.rows)
        if self._iter is None or index != self._next:
            self._start(index)
        assert self._iter is not None
        try:
            batch = next(self._iter)
        # "DataLoader worker (pid(s) ...) exited unexpectedly" and the like (RuntimeError); a worker that dies while
        # the batch's shared memory is being handed over resets that connection (ConnectionResetError, EOFError)
        except (RuntimeError, OSError, EOFError) as exc:
            self.close()
            self.workers = 0
            why = (str(exc).splitlines() or [""])[0] or type(exc).__name__
            message = f"a data worker failed ({why}); building batches in the training process"
            if self.on_failure is not None:
                self.on_failure(message)
            return self.sampler.batch(index, self.rows)
        self._next = index + 1
        return batch

    def _start(self, index: int) -> None:
        self.close()
        main = threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGCHLD")
        previous = signal.getsignal(signal.SIGCHLD) if main else None
        with warnings.catch_warnings():  # more workers than cores is the user's explicit choice (--data-workers)
            warnings.filterwarnings("ignore", message="This DataLoader will create")
            loader = DataLoader(_BatchDataset(self.sampler, self.rows), batch_size=None, sampler=_CountFrom(index),
                                num_workers=self.workers, pin_memory=self.pin, prefetch_factor=PREFETCH,
                                worker_init_fn=_quiet_worker, multiprocessing_context=_CONTEXT,
                                # its own generator: DataLoader draws the workers' base seed from it, which would
                                # otherwise come from the global generator and shift the run's dropout and noise
                                generator=torch.Generator().manual_seed(index))
            self._iter, self._next = iter(loader), index
        if main:
            # DataLoader's SIGCHLD handler raises wherever the training process happens to be when a worker dies
            # (inside a step, a checkpoint write); without it the death is seen where it matters, in next()
            # above (DataLoader checks its workers while it waits), and handled there
            signal.signal(signal.SIGCHLD, previous if previous is not None else signal.SIG_DFL)

    def close(self) -> None:
        """Stop the workers (idempotent; a later call starts them again)."""
        it, self._iter = self._iter, None
        shutdown = getattr(it, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()

    def __del__(self) -> None:
        self.close()
