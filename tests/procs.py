"""Child processes a test can always stop.

A test that starts processes (torchrun and its workers, a spawned pool) must never outlive its own
timeout: CI once ran past its 90 minutes because a stuck data-parallel worker, still alive after its
test had failed, kept pytest from exiting. ``run_bounded`` runs a command in its own session and, when
the time is up, kills it and every process under it (torchrun starts each worker in a session of its
own, so killing the group is not enough), then fails the test with the tail of what it printed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill(pids: list[int]) -> None:
    for p in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)


def kill_tree(pid: int) -> None:
    kill([*descendants(pid), pid])


def run_bounded(cmd: list[str], *, timeout: float, env: dict | None = None) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, text=True)`` that kills the whole tree after ``timeout`` s."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # a grandchild we could not see still holds the pipes
            out, err = "", "(output lost: the pipes stayed open after the kill)"
        pytest.fail(f"{' '.join(map(str, cmd[:3]))} ... did not finish within {timeout:.0f} s and was killed "
                    f"with every process under it; its stderr ended:\n{err[-3000:]}")
    finally:
        if proc.poll() is None:
            kill_tree(proc.pid)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
