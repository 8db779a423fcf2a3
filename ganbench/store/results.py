"""Results store: one folder per run, written atomically, marked complete only when all is written.

    RESULTS/runs/<utc-time>-<model>-s<seed>-<random>/
        run.json        schema version, config, recipe, provenance, budget spent, status
        history.csv     one row per logged step (losses, Wasserstein estimate, images, seconds): every step
                        up to 200 steps, else every (steps // 200)-th (every 3rd at the ``cpu`` budget, every
                        5th under a time budget)
        validation.csv  validation PSNR and colourfulness at every evaluation
        metrics.json    test metrics: model (best and last generator), gray baseline, ground truth
        per_image.csv   per test image and metric: model, gray
        samples.png     gray input | output | truth on fixed test crops
        generator.pt    generator weights the table uses (weights only)
        state.pt        everything needed to resume (both networks, optimisers, counters, RNG states)
        log.txt         a grid worker's output for this run (--jobs N, --executor slurm)
    RESULTS/.claims/<run key>.lock   who trains that run right now (see :class:`Claim`)
    RESULTS/.grid/                   grids issued here (manifests), early worker logs, submitit's files
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import json
import math
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.core.errors import ResultsError
from ganbench.store.records import SCHEMA_VERSION, MetricsRecord, RunRecord, RunStatus

#: Schema versions ``report`` can read (older ones are upgraded on read).
READABLE_SCHEMAS = {1}


STATUSES = tuple(RunStatus)


def _fs_error(path: Path, exc: OSError) -> ResultsError:
    if exc.errno == errno.ENOSPC:
        return ResultsError(f"disk full while writing {path}; the previous version is intact")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ResultsError(f"results folder not writable: {path} ({exc.strerror})")
    return ResultsError(f"cannot write {path}: {exc.strerror or exc}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder + fsync + rename: readers see old or new, never half."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _fs_error(path, exc) from exc


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    """Valid JSON always: a non-finite number (NaN, ±inf) is written as null, with ``<key>_null_reason``
    beside it in its object (or, in a list, the list's reason under the enclosing key)."""
    atomic_write_text(path, json_text(data, sort_keys=True) + "\n")


def json_text(data: Any, sort_keys: bool = False) -> str:
    """``data`` as valid JSON text (what ``--json`` prints): non-finite numbers as null with
    ``<key>_null_reason`` beside them, as :func:`atomic_write_json` writes them."""
    return json.dumps(finite_json(data), indent=2, sort_keys=sort_keys, default=_json_default, allow_nan=False)


def _why(x: float) -> str:
    return "not a number (NaN): the value could not be computed" if math.isnan(x) else \
        f"{'+' if x > 0 else '-'}infinity: not representable in JSON"


def finite_json(data: Any) -> Any:
    """``data`` with every non-finite float replaced by None and the reason recorded beside it."""
    if isinstance(data, float | np.floating):
        return float(data) if math.isfinite(data) else None
    if isinstance(data, dict):
        out: dict[Any, Any] = {}
        for k, v in data.items():
            if isinstance(v, float | np.floating) and not math.isfinite(v):
                out[k] = None
                out.setdefault(f"{k}_null_reason", _why(float(v)))
            elif isinstance(v, list | tuple) and any(isinstance(x, float | np.floating) and not math.isfinite(x)
                                                     for x in v):
                out[k] = [finite_json(x) for x in v]
                out.setdefault(f"{k}_null_reason", "nulls in this list: values that were not finite numbers")
            else:
                out[k] = finite_json(v)
        return out
    if isinstance(data, list | tuple):
        return [finite_json(x) for x in data]
    return data


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (Path,)):
        return str(obj)
    if isinstance(obj, tuple):
        return list(obj)
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def atomic_torch_save(path: Path, obj: Any) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def safe_load(path: Path) -> Any:
    """Load a checkpoint without unpickling arbitrary objects (``weights_only=True``)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ResultsError(f"checkpoint {path} does not exist") from None
    except Exception as exc:
        raise ResultsError(
            f"refusing to load {path}: not a ganbench checkpoint of plain tensors ({type(exc).__name__})"
        ) from None


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path} is not valid JSON ({exc})") from None


class RunDir:
    """One run's folder. Holds an exclusive lock while a process trains into it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_fh: io.TextIOWrapper | None = None

    def __repr__(self) -> str:
        return f"RunDir({self.path})"

    @property
    def record_path(self) -> Path:
        return self.path / "run.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    def record(self) -> RunRecord:
        """``run.json`` as a :class:`RunRecord`."""
        return RunRecord.from_json(read_json(self.record_path))

    def write_record(self, record: RunRecord) -> None:
        atomic_write_json(self.record_path, record.to_json())

    def update_record(self, **changes: Any) -> RunRecord:
        record = self.record().update(**changes)
        self.write_record(record)
        return record

    def metrics(self) -> MetricsRecord:
        """``metrics.json`` (a complete run's test scores) as a :class:`MetricsRecord`."""
        return MetricsRecord.from_json(read_json(self.metrics_path))

    def write_metrics(self, metrics: MetricsRecord) -> None:
        atomic_write_json(self.metrics_path, metrics.to_json())

    def lock(self) -> bool:
        """Take the run's lock; False when another live process holds it."""
        fh = open(self.path / ".lock", "a+")  # noqa: SIM115
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._lock_fh = fh
        _LOCK_FDS.add(fh.fileno())
        return True

    def unlock(self) -> None:
        if self._lock_fh is not None:
            _LOCK_FDS.discard(self._lock_fh.fileno())
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None


def runs_root(results: Path) -> Path:
    return Path(results) / "runs"


def ensure_writable(results: Path) -> Path:
    results = Path(results)
    root = runs_root(results)
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".probe.{os.getpid()}.{secrets.token_hex(3)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise _fs_error(results, exc) from None
    return root


def create_run(results: Path, model: str, seed: int, record: RunRecord) -> RunDir:
    """A new, uniquely named run folder (never an existing one), locked, with its first run.json."""
    root = ensure_writable(results)
    safe_model = "".join(c if c.isalnum() or c in "-_" else "_" for c in model)
    for _ in range(100):
        name = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{safe_model}-s{seed}-{secrets.token_hex(3)}"
        try:
            (root / name).mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise _fs_error(root / name, exc) from None
        run = RunDir(root / name)
        run.lock()
        run.write_record(record.update(schema_version=SCHEMA_VERSION, status=RunStatus.RUNNING))
        return run
    raise ResultsError(f"could not create a unique run folder under {root}")


#: Descriptors of the locks this process holds (run claims, run locks). A forked child (a data-loader worker)
#: points its copies at /dev/null at once: an flock belongs to the open file, so a child that outlives a
#: killed holder would otherwise keep the run claimed ("another process is training it") until it exits.
_LOCK_FDS: set[int] = set()


def _drop_inherited_locks() -> None:
    if not _LOCK_FDS:
        return
    null = os.open(os.devnull, os.O_RDWR)
    for fd in _LOCK_FDS:
        with contextlib.suppress(OSError):
            os.dup2(null, fd)  # the fd number stays valid (closing it later is harmless); the lock is not ours
    os.close(null)
    _LOCK_FDS.clear()


os.register_at_fork(after_in_child=_drop_inherited_locks)


class Claim:
    """An exclusive claim on one run key, held by one process for as long as it trains that run.

    The claim is an ``flock`` on ``RESULTS/.claims/<run key>.lock``: taken atomically, released when the
    holder ends (even by SIGKILL or a lost node, as the lock dies with the process), and shared by every
    process and node that sees the same results folder (NFS emulates flock with POSIX locks; Lustre
    needs its ``flock`` mount option). The file names who holds it (host, pid, SLURM job) for ``status``.
    """

    def __init__(self, path: Path, fh) -> None:
        self.path = path
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            _LOCK_FDS.discard(self._fh.fileno())
            with contextlib.suppress(OSError):
                self._fh.truncate(0)
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def who(**extra: Any) -> dict[str, Any]:
    """This process, as a claim names it: host, pid, SLURM job (array jobs as JOB_TASK), since when."""
    import socket

    job = os.environ.get("SLURM_JOB_ID")
    if job and os.environ.get("SLURM_ARRAY_JOB_ID"):
        job = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ.get('SLURM_ARRAY_TASK_ID', '')}"
    return {"host": socket.gethostname(), "pid": os.getpid(), "job": job,
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra}


def claims_root(results: Path) -> Path:
    return Path(results) / ".claims"


def claim_run(results: Path, run_key: str, holder: dict[str, Any] | None = None) -> Claim | None:
    """Claim ``run_key`` for this process, or None when another live process holds it."""
    ensure_writable(results)
    root = claims_root(results)
    try:
        root.mkdir(exist_ok=True)
        fh = open(root / f"{run_key}.lock", "a+")  # noqa: SIM115
    except OSError as exc:
        raise _fs_error(root, exc) from None
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    with contextlib.suppress(OSError):
        fh.truncate(0)
        fh.write(json.dumps(holder or {}) + "\n")
        fh.flush()
    _LOCK_FDS.add(fh.fileno())
    return Claim(root / f"{run_key}.lock", fh)


def held_claims(results: Path) -> dict[str, dict[str, Any]]:
    """Run key -> holder of every claim held right now."""
    root = claims_root(results)
    keys = [p.stem for p in root.glob("*.lock")] if root.is_dir() else []
    return {k: h for k in keys if (h := claim_holder(results, k)) is not None}


def claim_holder(results: Path, run_key: str) -> dict[str, Any] | None:
    """Who holds the claim on ``run_key`` right now (host, pid, job), or None when nobody does."""
    path = claims_root(results) / f"{run_key}.lock"
    try:
        fh = open(path)  # noqa: SIM115
    except OSError:
        return None
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            try:
                return json.loads(fh.read() or "{}")
            except json.JSONDecodeError:
                return {}
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return None


def iter_runs(results: Path) -> Iterator[RunDir]:
    root = runs_root(results)
    if not root.is_dir():
        return
    for path in sorted(root.iterdir()):
        if path.is_dir() and not path.name.startswith("."):
            yield RunDir(path)


def find_existing(results: Path, run_key: str) -> RunDir | None:
    """The run with this key that is complete (skip it), else the newest resumable one (not locked by a live
    process; one with a checkpoint before one stopped ahead of its first, which restarts from step 0)."""
    best: tuple[int, RunDir] | None = None
    for run in iter_runs(results):
        try:
            record = run.record()
        except ResultsError:
            continue
        if record.key != run_key:
            continue
        status = record.status
        if status == RunStatus.COMPLETE:
            rank = 2
        elif status in (RunStatus.RUNNING, RunStatus.INTERRUPTED, RunStatus.FAILED):  # resumable, or restartable
            if not run.lock():
                continue  # another process is training it right now
            run.unlock()
            rank = 1 if (run.path / "state.pt").exists() else 0
        else:
            continue
        if best is None or rank >= best[0]:  # runs are listed oldest first
            best = (rank, run)
    return best[1] if best else None


def open_run(path: Path) -> RunDir:
    """A folder the user named (``--resume``, ``evaluate``, ``colorize``): it must be a run folder."""
    path = Path(path)
    if not (path / "run.json").is_file():
        raise ResultsError(f"{path} is not a ganbench run folder (no run.json)")
    record = RunDir(path).record()
    if record.schema_version not in READABLE_SCHEMAS:
        raise ResultsError(
            f"{path}: results schema version {record.schema_version!r} is not readable by this "
            f"ganbench (reads {sorted(READABLE_SCHEMAS)}); use the ganbench version that wrote it"
        )
    return RunDir(path)
