"""``ganbench status``: where each run of a grid stands (queued, running where, complete, diverged, failed and
why), read from the results folder, the grids' manifests and, for submitted jobs, the executor."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from ganbench.core.errors import GanbenchError, ResultsError
from ganbench.core.registry import Registry
from ganbench.grid.executors import grid_root, make_executor, read_manifests
from ganbench.store.records import RunRecord
from ganbench.store.results import (
    READABLE_SCHEMAS,
    RunDir,
    RunStatus,
    claim_holder,
    held_claims,
    iter_runs,
    runs_root,
)


def run_records(results: Path) -> dict[str, list[tuple[Path, RunRecord]]]:
    """Run key -> (folder, record) of every readable run folder under ``results``, oldest first."""
    by_key: dict[str, list[tuple[Path, RunRecord]]] = {}
    for run in iter_runs(results):
        try:
            record = run.record()
        except ResultsError:
            continue
        if record.schema_version in READABLE_SCHEMAS and record.key:
            by_key.setdefault(record.key, []).append((run.path, record))
    return by_key


_RANK: dict[str, int] = {RunStatus.COMPLETE: 4, RunStatus.DIVERGED: 3, RunStatus.RUNNING: 2, RunStatus.INTERRUPTED: 1,
                          RunStatus.FAILED: 0}


def _last_line(path: Path) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""


def grid_status(results: Path, registry: Registry | None = None) -> list[dict[str, Any]]:
    """One row per run of every grid issued into ``results`` (and every run folder): model, seed, state
    (queued / running / complete / diverged / failed / interrupted / not started), where, reason."""
    results = Path(results)
    if not runs_root(results).is_dir():
        raise ResultsError(f"{results} holds no ganbench runs (no {runs_root(results)})")
    records = run_records(results)
    rows: dict[str, dict[str, Any]] = {}
    jobs_by_executor: dict[str, set[str]] = {}
    for manifest in read_manifests(results):
        for r in manifest.get("runs", []):
            row = rows.setdefault(r["key"], {"key": r["key"], "model": r["model"], "seed": r["seed"]})
            if r.get("job"):
                row["job"], row["executor"] = r["job"], manifest.get("executor")
                jobs_by_executor.setdefault(manifest.get("executor", ""), set()).add(r["job"])
    for key, found in records.items():
        first = found[0][1]
        rows.setdefault(key, {"key": key, "model": first.model, "seed": first.config.get("seed")})
    for key, holder in held_claims(results).items():  # being trained, no folder yet (or by a plain run)
        rows.setdefault(key, {"key": key, "model": holder.get("model"), "seed": holder.get("seed")})
    states: dict[str, tuple[str, str]] = {}
    if registry is not None:
        for name, ids in jobs_by_executor.items():
            if name in registry.entries["executor"]:
                with contextlib.suppress(GanbenchError):
                    states.update(make_executor(registry, name, {}).job_states(sorted(ids)))
    for key, row in rows.items():
        row.update(_state_of(results, key, records.get(key, []), states.get(row.get("job", ""))))
    return sorted(rows.values(), key=lambda r: (str(r["model"]), int(r["seed"] or 0)))


def _state_of(results: Path, key: str, found: list[tuple[Path, RunRecord]],
              job: tuple[str, str] | None) -> dict[str, Any]:
    holder = claim_holder(results, key)
    best = max(found, key=lambda f: _RANK.get(str(f[1].status), -1), default=None)
    status = best[1].status if best else None
    out: dict[str, Any] = {"run_dir": str(best[0]) if best else None, "reason": "", "where": ""}
    if best and status == RunStatus.COMPLETE:
        psnr = _psnr(best[0])
        return {**out, "state": "complete", "reason": f"PSNR {psnr:.2f} dB" if psnr is not None else ""}
    if best and status == RunStatus.DIVERGED:
        d = best[1].divergence or {}
        return {**out, "state": "diverged",
                "reason": f"step {d.get('step')}: {', '.join(d.get('losses', []))} not finite"}
    if holder is not None:
        where = holder.get("host", "")
        where += f" pid {holder['pid']}" if holder.get("pid") else ""
        where += f" job {holder['job']}" if holder.get("job") else ""
        return {**out, "state": "running", "where": where.strip()}
    if job is not None and job[0] in ("PENDING", "REQUEUED", "CONFIGURING", "RESIZING", "SUSPENDED"):
        return {**out, "state": "queued", "where": "", "reason": job[1]}
    if job is not None and job[0] in ("RUNNING", "COMPLETING"):
        return {**out, "state": "running", "reason": "starting"}
    reason = (best[1].error or "") if best else ""
    if job is not None and job[0] not in ("COMPLETED",):
        reason = reason or f"job {job[0].lower()}{': ' + job[1] if job[1] and job[1] != 'None' else ''}"
    if best is None:
        log = grid_root(results) / "logs" / f"{key}.log"
        if log.exists():
            return {**out, "state": "failed", "reason": reason or _last_line(log)}
        return {**out, "state": "not started", "reason": reason}
    if status == RunStatus.FAILED or best[1].error:
        return {**out, "state": "failed", "reason": reason or _last_line(best[0] / "log.txt")}
    has_state = (best[0] / "state.pt").exists()
    return {**out, "state": "interrupted" if has_state else "failed",
            "reason": reason or ("stopped with a checkpoint: re-issue the grid to resume" if has_state
                                 else _last_line(best[0] / "log.txt") or "stopped before its first checkpoint")}


def _psnr(run_dir: Path) -> float | None:
    try:
        return RunDir(run_dir).metrics().score("model", "psnr")
    except ResultsError:
        return None
