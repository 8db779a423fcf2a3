"""Stopping a run cleanly: SIGINT/SIGTERM (and whatever signals an executor adds, e.g. SLURM's USR2) set a
flag; the trainer checks it between steps, writes a checkpoint and stops. The one place signals are handled."""

from __future__ import annotations

import signal
from collections.abc import Callable


class StopRequested(Exception):
    """SIGINT/SIGTERM arrived: the trainer wrote a checkpoint and stopped."""


class StopFlag:
    """Set by signal handlers; the trainer checks it between steps and checkpoints before stopping."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __bool__(self) -> bool:
        return self.signal is not None

    def install(self, extra: tuple[int, ...] = ()) -> Callable[[], None]:
        """Handle SIGINT/SIGTERM (a second one stops at once, as KeyboardInterrupt) and ``extra`` signals
        (each only sets the flag). Returns a function that restores the previous handlers."""
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, *extra)}

        def handler(signum, frame):
            if self.signal is not None:  # second Ctrl-C: stop now
                raise KeyboardInterrupt
            self.signal = signum

        def note(signum, frame):
            self.signal = signum

        for s in previous:
            signal.signal(s, note if s in extra else handler)

        def restore() -> None:
            for s, h in previous.items():
                signal.signal(s, h)

        return restore
