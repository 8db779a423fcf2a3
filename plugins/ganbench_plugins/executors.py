"""The built-in grid executors: ``local`` (``--jobs N`` processes on this machine) and ``slurm`` (submitit).

Both run every run through :func:`ganbench.grid.run_member`, which claims it by its key, skips it when
complete, resumes it when interrupted and writes its log into its folder; see ganbench/grid/executors.py.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from ganbench.api import ConfigError, hookimpl, parse_duration
from ganbench.grid import (
    Executor,
    GridPlan,
    RunOutcome,
    StopFlag,
    StopRequested,
    grid_root,
    grid_status,
    is_complete,
    run_configs,
    run_label,
    run_member,
    write_manifest,
)

# ------------------------------------------------------------------------------------------------- local


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


class LocalExecutor(Executor):
    """``--jobs N`` runs at once on this machine, each in its own process: on CUDA process i sees only
    GPU i mod (GPUs) (``CUDA_VISIBLE_DEVICES``), on the CPU the cores are divided between the processes.
    ``--jobs 1`` trains the runs one after another in this process (the classic ``ganbench run``)."""

    name = "local"

    def __init__(self, jobs: int = 1) -> None:
        if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
            raise ConfigError(f"--jobs must be a whole number >= 1, got {jobs!r}")
        self.jobs = jobs

    def target_device(self, requested: str) -> str:
        if self.jobs > 1 and requested.startswith("cuda:"):
            raise ConfigError(f"--jobs {self.jobs} places each run on its own GPU: use --device cuda (or auto), "
                              f"not {requested}")
        return requested

    def threads(self) -> int | None:
        """Torch threads of each worker on the CPU (the cores divided between the jobs); None: unchanged."""
        return max(1, (os.cpu_count() or 1) // self.jobs) if self.jobs > 1 else None

    def placements(self, plan: GridPlan) -> list[tuple[str, dict[str, str]]]:
        """(label, environment) of each of the ``jobs`` worker slots."""
        if plan.configs[0].device.startswith("cuda"):
            gpus = _gpu_count()
            if gpus == 0:
                raise ConfigError("the grid is planned for CUDA but no GPU is visible")
            return [(f"cuda:{i % gpus}", {"CUDA_VISIBLE_DEVICES": _visible(i % gpus)}) for i in range(self.jobs)]
        t = str(self.threads() or os.cpu_count() or 1)
        env = {"OMP_NUM_THREADS": t, "MKL_NUM_THREADS": t, "GANBENCH_THREADS": t}
        return [(f"cpu ({t} threads)", env) for _ in range(self.jobs)]

    def describe(self, plan: GridPlan) -> list[str]:
        if self.jobs == 1:
            return ["executor local: one run after another in this process"]
        places = [p for p, _ in self.placements(plan)]
        return [f"executor local: {self.jobs} processes at once on {', '.join(dict.fromkeys(places))}; "
                "each run's log in its folder (log.txt)"]

    def slots(self, plan: GridPlan) -> int:
        return min(self.jobs, len(plan.configs))

    def run(self, plan, registry, reporter, stop):
        if self.jobs == 1:
            return run_configs(plan.request, plan.configs, registry, reporter, stop)
        write_manifest(plan, self)
        return _run_processes(plan, self.placements(plan), reporter, stop)


def _visible(index: int) -> str:
    """The physical GPU behind logical index ``index`` when CUDA_VISIBLE_DEVICES already narrows the set."""
    outer = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    return outer[index] if index < len(outer) else str(index)


def _worker(request, cfg, env: dict[str, str], events) -> None:
    """A local worker process: pinned by ``env``, trains one run, reports to the parent through ``events``."""
    os.environ.update(env)
    if "GANBENCH_THREADS" in env:
        import torch

        torch.set_num_threads(int(env["GANBENCH_THREADS"]))
    stop = StopFlag()
    stop.install()
    run_member(request, cfg, send=events.put, stop=stop)


def _run_processes(plan: GridPlan, places: list[tuple[str, dict[str, str]]], display, stop: StopFlag):
    """Keep one process per slot busy until every run has ended; a dead worker fails its run alone."""
    ctx = multiprocessing.get_context("spawn")  # fresh processes: no inherited CUDA state or threads
    events = ctx.Queue()
    pending = list(plan.configs)
    running: dict[int, tuple[Any, Any]] = {}
    ended: dict[str, RunOutcome] = {}
    free = list(range(len(places)))
    forwarded = False
    while pending or running:
        if stop and not forwarded:  # every worker checkpoints and stops; Ctrl-C reached them already
            forwarded, pending = True, []
            for proc, _ in running.values():
                if proc.is_alive() and stop.signal != signal.SIGINT:
                    proc.terminate()
        while pending and free:
            slot, cfg = free.pop(0), pending.pop(0)
            if is_complete(plan.request.results, cfg):  # no process needed
                ended[run_label(cfg)] = RunOutcome(cfg.model, cfg.seed, "skipped", plan.request.results)
                display.message(f"{run_label(cfg)}: already complete, skipped")
                free.append(slot)
                continue
            proc = ctx.Process(target=_worker, args=(plan.request, cfg, places[slot][1], events),
                               name=f"ganbench-{run_label(cfg)}")
            proc.start()
            running[slot] = (proc, cfg)
            display.message(f"{run_label(cfg)}: started on {places[slot][0]} (pid {proc.pid})")
        _drain(events, display, ended, timeout=0.2)
        for slot, (proc, cfg) in list(running.items()):
            if proc.is_alive():
                continue
            proc.join()
            _drain(events, display, ended, timeout=0.05)
            label = run_label(cfg)
            if label not in ended:
                reason = f"worker process ended with exit code {proc.exitcode}" + (
                    f" (signal {-proc.exitcode})" if proc.exitcode and proc.exitcode < 0 else "")
                ended[label] = RunOutcome(cfg.model, cfg.seed, "failed", plan.request.results, {"error": reason})
                display.run_finish(label, "failed", reason)
            del running[slot]
            free.append(slot)
    outcomes = [ended.get(run_label(c)) or RunOutcome(c.model, c.seed, "interrupted", plan.request.results)
                for c in plan.configs]
    if stop:
        raise StopRequested("the grid was stopped; every started run checkpointed")
    return outcomes


def _drain(events, display, ended: dict[str, RunOutcome], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            event = events.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return
        kind, label, *rest = event
        if kind == "start":
            display.run_start(label, rest[0])
        elif kind == "advance":
            display.run_advance(label, rest[0], rest[1])
        elif kind == "message":
            display.message(rest[0])
        elif kind == "done":
            status, run_dir, metrics = rest
            model, seed = label.rsplit(" (seed ", 1)
            ended[label] = RunOutcome(model, int(seed.rstrip(")")), status, Path(run_dir), metrics)
            psnr = (metrics or {}).get("model", {}).get("psnr") if status == "complete" else None
            info = f"PSNR {psnr:.2f} dB" if psnr is not None else (metrics or {}).get("error", "")
            display.run_finish(label, status, info)


# ------------------------------------------------------------------------------------------------- slurm


class SlurmRun:
    """What one SLURM job runs: one run of the grid, through submitit.

    submitit's checkpoint hook: on the time-limit/preemption signal (USR2, ``scancel --signal=USR2``)
    the trainer finishes its step and writes its checkpoint, then :meth:`checkpoint` hands submitit this
    same call to requeue; the requeued job finds the interrupted run and resumes it, bit-exact."""

    def __init__(self, request, cfg) -> None:
        self.request, self.cfg = request, cfg

    def __call__(self) -> dict[str, Any]:
        requeue = signal.getsignal(signal.SIGUSR2)  # submitit's: checkpoint() + scontrol requeue + exit
        stop = StopFlag()
        restore = stop.install(extra=(signal.SIGUSR2,))
        try:
            outcome = run_member(self.request, self.cfg, stop=stop)
        finally:
            restore()  # submitit's own handlers again (its SIGTERM handler ignores the requeue's SIGTERM)
        if outcome.status == "interrupted" and stop.signal == signal.SIGUSR2 and callable(requeue):
            requeue(signal.SIGUSR2, None)
        return {"status": outcome.status, "run_dir": str(outcome.run_dir)}

    def checkpoint(self, *args: Any, **kwargs: Any):
        import submitit

        return submitit.helpers.DelayedSubmission(SlurmRun(self.request, self.cfg))


class SlurmExecutor(Executor):
    """One SLURM job per run (an array job), submitted through submitit; waits and reports as runs
    finish, or returns at once with ``detach`` (then ``ganbench status RESULTS``)."""

    name = "slurm"
    runs_here = False

    def __init__(self, partition: str | None = None, gpus_per_job: int | None = None, time: str | None = None,
                 account: str | None = None, options: list[str] | tuple[str, ...] = (),
                 detach: bool = False, poll_s: float = 5.0) -> None:
        self.partition, self.account, self.detach, self.poll_s = partition, account, detach, poll_s
        if gpus_per_job is not None and (not isinstance(gpus_per_job, int) or gpus_per_job < 0):
            raise ConfigError(f"--slurm-gpus-per-job must be a whole number >= 0, got {gpus_per_job!r}")
        self.gpus = gpus_per_job or 0
        self.minutes = max(1, round(parse_duration(time or "1h") / 60))
        self.options = _sbatch_options(options)

    def target_device(self, requested: str) -> str:
        if requested == "auto":
            return "cuda" if self.gpus else "cpu"
        if requested.startswith("cuda") and not self.gpus:
            raise ConfigError(f"--device {requested} on SLURM needs --slurm-gpus-per-job 1 (or more)")
        return requested

    def describe(self, plan: GridPlan) -> list[str]:
        where = ", ".join(x for x in (f"partition {self.partition}" if self.partition else "default partition",
                                      f"{self.gpus} GPU(s) per job" if self.gpus else "no GPU",
                                      f"time limit {self.minutes} min (requeued from its checkpoint when hit)",
                                      f"account {self.account}" if self.account else "",
                                      " ".join(f"--{k}={v}" for k, v in self.options.items())) if x)
        return [f"executor slurm: {len(plan.configs)} jobs (one array job), {where}"]

    def slots(self, plan: GridPlan) -> None:
        return None

    def _submitit(self, plan: GridPlan):
        import submitit

        if shutil.which("sbatch") is None:
            raise ConfigError("--executor slurm needs SLURM's sbatch on PATH (run it on a login node)")
        folder = grid_root(plan.request.results) / "slurm"
        ex = submitit.AutoExecutor(folder=str(folder / "%j"), cluster="slurm")
        params: dict[str, Any] = {"name": "ganbench", "timeout_min": self.minutes, "slurm_signal_delay_s": 90,
                                  "slurm_additional_parameters": dict(self.options)}
        if self.partition:
            params["slurm_partition"] = self.partition
        if self.account:
            params["slurm_account"] = self.account
        if self.gpus:
            params["slurm_gpus_per_node"] = self.gpus
        ex.update_parameters(**params)
        return ex

    def run(self, plan, registry, reporter, stop):
        display = reporter
        todo = [c for c in plan.configs if not is_complete(plan.request.results, c)]
        ex = self._submitit(plan)
        jobs: dict[str, str] = {}
        if todo:
            with ex.batch():
                submitted = [(cfg, ex.submit(SlurmRun(plan.request, cfg))) for cfg in todo]
            jobs = {cfg.run_key(): str(job.job_id) for cfg, job in submitted}
        write_manifest(plan, self, jobs)
        skipped = len(plan.configs) - len(todo)
        display.message(f"submitted {len(todo)} SLURM job(s)" + (f" ({', '.join(sorted(set(jobs.values()))[:3])}"
                                                                  f"{' ...' if len(jobs) > 3 else ''})" if jobs else "")
                        + (f"; {skipped} run(s) already complete" if skipped else ""))
        if self.detach:
            display.message(f"detached: follow with `ganbench status {plan.request.results}`, read what has "
                            f"finished with `ganbench report --results {plan.request.results}`")
            return [RunOutcome(c.model, c.seed, "queued" if c in todo else "skipped", plan.request.results)
                    for c in plan.configs]
        return self._wait(plan, registry, display, stop, jobs)

    def _wait(self, plan, registry, display, stop, jobs: dict[str, str]) -> list[RunOutcome]:
        keys = {c.run_key() for c in plan.configs}
        seen: dict[str, str] = {}
        while True:
            rows = [r for r in grid_status(plan.request.results, registry) if r["key"] in keys]
            for r in rows:
                label = f"{r['model']} (seed {r['seed']})"
                if seen.get(r["key"]) != r["state"]:
                    seen[r["key"]] = r["state"]
                    if r["state"] in ("complete", "diverged", "failed"):
                        display.run_finish(label, r["state"], r["reason"])
                    else:
                        where = f" ({r['where']})" if r["where"] else ""
                        display.message(f"{label}: {r['state']}{where}")
            live = {j for j, (state, _) in self.job_states(sorted(set(jobs.values()))).items()
                    if state not in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
                                     "BOOT_FAIL", "DEADLINE", "PREEMPTED")}
            if not live and all(r["state"] not in ("queued", "running") for r in rows):
                break
            if stop:
                display.message(f"stopped waiting; the jobs go on: `ganbench status {plan.request.results}`")
                break
            time.sleep(self.poll_s)
        by_key = {r["key"]: r for r in rows}
        state_to_status = {"complete": "complete", "diverged": "diverged", "queued": "queued",
                           "running": "running", "interrupted": "interrupted"}
        return [RunOutcome(c.model, c.seed, state_to_status.get(by_key[c.run_key()]["state"], "failed"),
                           Path(by_key[c.run_key()]["run_dir"] or plan.request.results))
                for c in plan.configs]

    def job_states(self, job_ids: list[str]) -> dict[str, tuple[str, str]]:
        """squeue's view (it needs no accounting database): id -> (state, reason)."""
        if not job_ids or shutil.which("squeue") is None:
            return {}
        out = subprocess.run(["squeue", "-h", "--states=all", "-r", "-o", "%i|%T|%r"],
                             capture_output=True, text=True, timeout=60, check=False)
        states = {}
        wanted = set(job_ids)
        for line in out.stdout.splitlines():
            parts = line.strip().split("|")
            if len(parts) == 3 and parts[0] in wanted:
                states[parts[0]] = (parts[1], parts[2])
        return states


def _sbatch_options(options) -> dict[str, str | bool]:
    """``--slurm-option KEY=VALUE`` (or ``--key=value``) -> sbatch's ``--key=value``."""
    out = {}
    for opt in options or ():
        key, sep, value = str(opt).lstrip("-").partition("=")
        if not key:
            raise ConfigError(f"malformed --slurm-option '{opt}': use KEY=VALUE, e.g. qos=high")
        out[key.strip()] = value.strip() if sep else True  # a flag: #SBATCH --key
    return out


@hookimpl
def register_executors(register):
    register("local", LocalExecutor, accepts=("jobs",))
    register("slurm", SlurmExecutor, accepts=("partition", "gpus_per_job", "time", "account", "options", "detach"))
