"""What the terminal shows: tables and sentences on stdout (at their natural width outside a terminal), progress
bars and messages on stderr."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from ganbench.core.reporting import BaseReporter

stderr = Console(stderr=True)


class StdoutConsole(Console):
    """Tables and text on stdout. Outside a terminal (a pipe, a log, CI) rich would assume 80 columns and
    fold words; there each line is printed at its natural width instead (``COLUMNS`` still wins). A closed
    pipe ends the command quietly with status 0 (rich would exit 1)."""

    def __init__(self) -> None:
        super().__init__()
        if not self.is_terminal and not os.environ.get("COLUMNS"):
            self.width = NATURAL_WIDTH

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


#: "Unlimited" width for output that is not a terminal: tables take their natural width, text no wrapping.
NATURAL_WIDTH = 10_000


class RichReporter(BaseReporter):
    """A rich progress bar per model on stderr, and one-line messages."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.console = stderr

    def start(self, label: str, total: int | None) -> None:
        if self.quiet:
            return
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"), console=self.console, transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task(label, total=total, info="")

    def advance(self, completed: int, info: str = "") -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=completed, info=info)

    def finish(self, status: str) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, info=f"[{'green' if status == 'complete' else 'red'}]{status}")
            self.progress.stop()
            self.progress = None

    def message(self, text: str) -> None:
        from rich.markup import escape

        self.console.print(f"[yellow]{escape(text)}[/]", highlight=False, soft_wrap=True)  # a message may hold [x]

    # A grid (--jobs N, --executor slurm): one display, a row per running run, a line per finished run.
    def run_start(self, label: str, total: int | None) -> None:
        if self.quiet:
            return
        if self.progress is None:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TextColumn("{task.fields[info]}"), console=self.console, transient=True,
            )
            self.progress.start()
            self.rows: dict[str, Any] = {}
        self.rows[label] = self.progress.add_task(label, total=total, info="")

    def run_advance(self, label: str, completed: int, info: str = "") -> None:
        if self.progress is not None and label in self.rows:
            self.progress.update(self.rows[label], completed=completed, info=info)

    def run_finish(self, label: str, status: str, info: str = "") -> None:
        if self.progress is not None and label in self.rows:
            self.progress.remove_task(self.rows.pop(label))
        colour = "green" if status == "complete" else "red"
        self.console.print(f"[{colour}]{label}: {status}[/]{f' ({info})' if info else ''}", highlight=False,
                           soft_wrap=True)
        if self.progress is not None and not self.rows:
            self.progress.stop()
            self.progress = None


def rich_table(title: str, df) -> Table:
    """A display table for the terminal: text columns left, numbers right, the reference rows dimmed."""
    table = Table(title=title, title_justify="left")
    for col in df.columns:
        left = col in ("model", "status") or str(col).startswith("vs gray")
        table.add_column(str(col), justify="left" if left else "right", overflow="fold")
    for _, row in df.iterrows():
        style = "dim" if row.iloc[0] in ("gray", "ground truth") else None
        table.add_row(*[str(v) for v in row.values], style=style)
    return table


def print_summary(comps) -> None:
    """After ``ganbench run``: each comparison's table, its selection notes, runs left out, cells left empty and
    a short verdict summary with where the full lines are (``ganbench report`` prints the whole report)."""
    from ganbench.report.comparison import primary_metric
    from ganbench.report.forest import verdict_summary
    from ganbench.report.tables import console_table, selection_notes

    console = StdoutConsole()
    for comp in comps:
        console.print(rich_table(comp.title, console_table(comp)))
        lines = verdict_summary(comp.significance, primary_metric(comp))
        lines.append(f"{len(comp.significance)} significance lines (every metric, every pair) with their "
                     "numbers: report.md / index.html, or `ganbench report`")
        for line in selection_notes(comp) + comp.excluded + comp.problems + lines:
            console.print(f"  {line}", highlight=False)


def print_curves(comps, run_dirs=None) -> None:
    """The sentences of every curve, or of those the runs in ``run_dirs`` belong to."""
    from ganbench.report.curve_sentences import curve_sentences
    from ganbench.report.curves import build_curves

    console = StdoutConsole()
    touched = None if run_dirs is None else {Path(d).resolve() for d in run_dirs}
    for curve in build_curves(comps):
        if touched is None or any(r.path.resolve() in touched for comp in curve.points for r in comp.runs):
            console.print(f"[bold]{curve.title}[/]", highlight=False)
            for line in curve_sentences(curve):
                console.print(f"  {line}", highlight=False)


def print_scored(result: dict[str, Any]) -> None:
    """How many photos ``evaluate`` scored, and each file it skipped with the reason."""
    skipped = result["skipped"]
    stderr.print(f"scored {result['n_photos']} photo(s) ({result['n_test_images']} crops), skipped {len(skipped)} "
                 f"file(s)", highlight=False, soft_wrap=True)
    for item in skipped:
        stderr.print(f"  skipped {item['file']}: {item['reason']}", highlight=False, soft_wrap=True)
