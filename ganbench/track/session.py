"""The trackers of one run, behind a queue: the training thread only hands over plain values, and one background
thread opens the trackers and calls them. A tracker that fails (its package missing, its server down, its disk
full: anything it raises) is switched off for the rest of the run with one warning; the run never fails, and a
slow or hung tracker never slows it."""

from __future__ import annotations

import contextlib
import queue
import threading
from pathlib import Path
from typing import Any

from ganbench.core.registry import Registry

#: How long the end of a run waits for its trackers to catch up before leaving them behind (a hung server).
FINISH_TIMEOUT_S = 60.0


class TrackerUnavailable(Exception):
    """A tracker cannot start here; its message is the one line the user sees (e.g. the package to install)."""


def require(module: str, extra: str) -> Any:
    """Import ``module`` for a tracker, or say in one line which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise TrackerUnavailable(f"the {module} package is not installed (pip install 'ganbench[{extra}]')") from None


class TrackerSession:
    """Opens the named trackers for one run and forwards calls to each of them, in a background thread.

    ``warnings`` collects one line per tracker that failed; :meth:`drain_warnings` hands them to the training
    thread (which prints them), so the tracker thread never touches the console."""

    def __init__(self, registry: Registry, names: list[str], run_dir: Path, run_name: str, results: Path,
                 timeout_s: float = FINISH_TIMEOUT_S) -> None:
        self.names = list(dict.fromkeys(names))
        self.timeout_s = timeout_s
        self.trackers: dict[str, Any] = {}
        self.failed: dict[str, str] = {}
        self._warnings: list[str] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, tuple[Any, ...]] | None] = queue.Queue()
        self._closed = False
        factories = {n: registry.get("tracker", n) for n in self.names}  # unknown names fail in the caller
        context = {"run_dir": Path(run_dir), "run_name": run_name, "results": Path(results)}
        self._thread = threading.Thread(target=self._work, args=(factories, context), daemon=True,
                                        name="ganbench-trackers")
        self._thread.start()

    # --- the training thread's side ----------------------------------------------------------------
    def call(self, method: str, *args: Any) -> None:
        """Queue ``tracker.method(*args)`` for every live tracker (returns at once)."""
        if not self._closed:
            self._queue.put((method, args))

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        self.call("log_hyperparams", params)

    def log_metrics(self, step: int, scalars: dict[str, float]) -> None:
        if scalars:
            self.call("log_metrics", step, scalars)

    def log_image(self, step: int, name: str, image: Any) -> None:
        self.call("log_image", step, name, image)

    def log_final(self, metrics: dict[str, float]) -> None:
        self.call("log_final", metrics)

    def finish(self, status: str) -> list[str]:
        """Call every tracker's ``finish(status)`` and wait for the queue to empty (at most ``timeout_s``);
        returns the warnings not yet drained."""
        if not self._closed:
            self._queue.put(("finish", (status,)))
            self._queue.put(None)
            self._closed = True
            self._thread.join(self.timeout_s)
            if self._thread.is_alive():
                self._warn_all(f"still busy {self.timeout_s:.0f} s after the run ended; left behind")
        return self.drain_warnings()

    def drain_warnings(self) -> list[str]:
        with self._lock:
            out, self._warnings = self._warnings, []
        return out

    # --- the tracker thread ------------------------------------------------------------------------
    def _work(self, factories: dict[str, Any], context: dict[str, Any]) -> None:
        for name, entry in factories.items():
            try:
                self.trackers[name] = entry.factory(**context)
            except Exception as exc:  # noqa: BLE001 - a tracker never fails the run
                self._fail(name, entry.plugin, "could not start", exc)
        while True:
            item = self._queue.get()
            if item is None:
                return
            method, args = item
            for name, tracker in list(self.trackers.items()):
                try:
                    getattr(tracker, method)(*args)
                except Exception as exc:  # noqa: BLE001
                    self._fail(name, factories[name].plugin, f"{method} failed", exc)
                    del self.trackers[name]
                    if method != "finish":
                        with contextlib.suppress(Exception):
                            tracker.finish("failed")

    def _fail(self, name: str, plugin: str, what: str, exc: BaseException) -> None:
        message = " ".join(str(exc).split()) or "(no message)"
        why = message if isinstance(exc, TrackerUnavailable) else f"{type(exc).__name__}: {message}"
        self.failed[name] = why
        with self._lock:
            self._warnings.append(f"warning: tracker '{name}' (plugin {plugin}) {what}, off for this run: {why}")

    def _warn_all(self, what: str) -> None:
        with self._lock:
            self._warnings += [f"warning: tracker '{n}' {what}" for n in self.trackers]
