"""User-facing errors: each carries a documented exit code and prints as one line, never a traceback."""

from __future__ import annotations

import difflib


class GanbenchError(Exception):
    """A problem the user can fix. The CLI prints ``error: <message>`` and exits with ``exit_code``."""

    exit_code = 2


class ConfigError(GanbenchError):
    """Bad option, budget, --set, --seeds, config file or name (exit 2)."""

    exit_code = 2


class DataError(GanbenchError):
    """Missing, empty or unusable data (exit 3)."""

    exit_code = 3


class PluginError(GanbenchError):
    """A plugin failed to import, registered a clashing name, implements an unknown hook, or one of its factories
    raised (exit 4)."""

    exit_code = 4


class ResultsError(GanbenchError):
    """The results folder cannot be written or a run folder cannot be read (exit 5)."""

    exit_code = 5


EXIT_CODES = {
    0: "success",
    1: "internal error (a bug: please report it with the traceback)",
    2: "usage or configuration error (unknown name, malformed --budget/--set/--seeds, bad config file)",
    3: "data error (missing or empty data root, no usable images)",
    4: "plugin error (import failure, duplicate name, misspelt hook, GANBENCH_LOAD_PLUGINS naming no plugin, "
       "a plugin's factory failed or rejected its options)",
    5: "results error (folder not writable, disk full, not a run folder, unreadable schema)",
    6: "at least one model diverged or failed (the others' results are complete)",
    130: "interrupted (Ctrl-C / SIGTERM); a checkpoint was written, rerun the command or use --resume",
}


def unknown_name(kind: str, name: str, known: list[str] | tuple[str, ...]) -> ConfigError:
    """An error for an unknown plugin name that suggests the closest known one."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    listing = ", ".join(known) if known else "(none registered)"
    return ConfigError(f"unknown {kind} '{name}'.{hint} Known {plural(kind)}: {listing}.")


def plural(noun: str) -> str:
    """``loss`` -> ``losses``, ``metric`` -> ``metrics``."""
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")
