"""What a run and a grid tell whoever watches them: the ``Reporter`` protocol, complete, and the reporters
every display builds on.

A reporter gets one run's progress (``start``, ``advance``, ``finish``), the run's folder once it exists
(``opened``), a grid's row per run (``run_start``, ``run_advance``, ``run_finish``) and messages. Subclass
:class:`BaseReporter` and override what your display shows: the rest does nothing (a grid's rows become
messages). Code that receives a reporter calls its methods directly; :func:`as_reporter` completes, at the
boundary, an object written before the protocol was complete.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

#: The protocol's methods, in the order above.
REPORTER_METHODS = ("start", "advance", "finish", "message", "opened", "run_start", "run_advance", "run_finish")


@runtime_checkable
class Reporter(Protocol):
    def start(self, label: str, total: int | None) -> None: ...
    def advance(self, completed: int, info: str = "") -> None: ...
    def finish(self, status: str) -> None: ...
    def message(self, text: str) -> None: ...
    def opened(self, run_dir: Path) -> None: ...
    def run_start(self, label: str, total: int | None) -> None: ...
    def run_advance(self, label: str, completed: int, info: str = "") -> None: ...
    def run_finish(self, label: str, status: str, info: str = "") -> None: ...


class BaseReporter:
    """Every method of :class:`Reporter`, doing nothing, except that a grid's finished row is a message."""

    def start(self, label: str, total: int | None) -> None:
        pass

    def advance(self, completed: int, info: str = "") -> None:
        pass

    def finish(self, status: str) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def opened(self, run_dir: Path) -> None:
        pass

    def run_start(self, label: str, total: int | None) -> None:
        pass

    def run_advance(self, label: str, completed: int, info: str = "") -> None:
        pass

    def run_finish(self, label: str, status: str, info: str = "") -> None:
        self.message(f"{label}: {status}{f' ({info})' if info else ''}")


class SilentReporter(BaseReporter):
    """Shows nothing; keeps the messages (``.messages``)."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def message(self, text: str) -> None:
        self.messages.append(text)


class _Completed(BaseReporter):
    """An incomplete reporter with :class:`BaseReporter`'s methods where it has none of its own."""

    def __init__(self, inner: object) -> None:
        self.inner = inner


def _delegate(name: str) -> Callable[..., Any]:
    def method(self: _Completed, *args: Any, **kwargs: Any) -> Any:
        own = getattr(self.inner, name, None)
        return own(*args, **kwargs) if own is not None else getattr(BaseReporter, name)(self, *args, **kwargs)

    method.__name__ = name
    return method


for _name in REPORTER_METHODS:
    setattr(_Completed, _name, _delegate(_name))


def as_reporter(obj: object | None) -> Reporter:
    """``obj`` as a complete :class:`Reporter`: a silent one for None, ``obj`` itself when it has every method,
    else ``obj`` completed with :class:`BaseReporter`'s methods (deprecated: subclass BaseReporter)."""
    if obj is None:
        return SilentReporter()
    if isinstance(obj, Reporter):
        return obj
    missing = [m for m in REPORTER_METHODS if not callable(getattr(obj, m, None))]
    warnings.warn(f"{type(obj).__name__} lacks Reporter methods {', '.join(missing)}: subclass "
                  "ganbench.api.BaseReporter (incomplete reporters are completed for now)", DeprecationWarning,
                  stacklevel=2)
    return _Completed(obj)


__all__ = ["REPORTER_METHODS", "BaseReporter", "Reporter", "SilentReporter", "as_reporter"]
