"""The report as one document: a list of sections, each a title and its blocks in reading order (text, bullet
lines, tables, figures, a gallery of per-run pictures) with the section's data for report.json.

The report's content is built once, here in this shape (``write.py`` builds the comparisons' sections,
``curve_section.py`` the curves'), and ``render.py`` writes it as Markdown, HTML, JSON and to the terminal: a
new section or line is one edit, and every format shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass
class Text:
    """A paragraph. ``console``: whether the terminal shows it too (the files always do)."""

    text: str
    console: bool = False


@dataclass
class Lines:
    """Bullet lines under an optional heading. ``console_lines``: what the terminal shows of them (None: the
    same lines; ``[]``: nothing)."""

    lines: list[str]
    heading: str = ""
    console_lines: list[str] | None = None

    def on_console(self) -> list[str]:
        return self.lines if self.console_lines is None else self.console_lines


@dataclass
class Table:
    """A table of display strings with the sentence that says what it shows. ``console``: the frame the terminal
    shows (narrower than ``frame``; None: the terminal does not show this table)."""

    frame: pd.DataFrame
    caption: str = ""
    console: pd.DataFrame | None = None


@dataclass
class Figure:
    """A picture written into the report folder (``file``: its name there), with its title and alt text."""

    file: str
    title: str
    alt: str


@dataclass
class Gallery:
    """Pictures that stay in the run folders (each run's ``samples.png``), by caption."""

    title: str
    pictures: list[tuple[str, Path]]


Block = Text | Lines | Table | Figure | Gallery


@dataclass
class Section:
    """One part of the report: ``kind`` says which list of report.json its ``data`` joins (``comparisons``,
    ``curves``, ``notes``)."""

    title: str
    kind: str
    blocks: list[Block] = field(default_factory=list)
    data: Any = None


@dataclass
class Report:
    title: str
    sections: list[Section] = field(default_factory=list)

    def data(self, kind: str) -> list[Any]:
        """The JSON data of every section of ``kind``, in order."""
        return [s.data for s in self.sections if s.kind == kind and s.data is not None]


__all__ = ["Block", "Figure", "Gallery", "Lines", "Report", "Section", "Table", "Text"]
