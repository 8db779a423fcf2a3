"""One report document (``document.py``) written four ways: Markdown (report.md), HTML (index.html, images
embedded), JSON (report.json: each section's data) and the terminal (rich)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ganbench.report.document import Block, Figure, Gallery, Lines, Report, Table, Text
from ganbench.report.tables import img_tag, markdown


# --- Markdown ------------------------------------------------------------------------------------------
def _md_block(block: Block) -> list[str]:
    if isinstance(block, Text):
        return [block.text, ""]
    if isinstance(block, Lines):
        if not block.lines:
            return []
        return ([block.heading, ""] if block.heading else []) + [f"- {line}" for line in block.lines] + [""]
    if isinstance(block, Table):
        return ([block.caption, ""] if block.caption else []) + [markdown(block.frame), ""]
    if isinstance(block, Figure):
        return [f"![{block.alt}]({block.file})", ""]
    if isinstance(block, Gallery):
        if not block.pictures:
            return []
        return [f"{block.title}:", ""] + [f"- {caption}: {path}" for caption, path in block.pictures] + [""]
    raise TypeError(f"not a report block: {type(block).__name__}")


def to_markdown(report: Report) -> str:
    md = [f"# {report.title}", ""]
    for section in report.sections:
        md += [f"## {section.title}", ""]
        for block in section.blocks:
            md += _md_block(block)
    return "\n".join(md)


# --- HTML ----------------------------------------------------------------------------------------------
_STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}"
          "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
          "td:first-child,th:first-child,td:nth-child(2),th:nth-child(2),td:nth-last-child(-n+2),"
          "th:nth-last-child(-n+2){text-align:left}img{max-width:100%}.grids img{margin:4px}")


def _html_block(block: Block, out: Path) -> list[str]:
    esc = html.escape
    if isinstance(block, Text):
        return [f"<p>{esc(block.text)}</p>"]
    if isinstance(block, Lines):
        if not block.lines:
            return []
        return ([f"<p>{esc(block.heading)}</p>"] if block.heading else []) + [
            "<ul>" + "".join(f"<li>{esc(line)}</li>" for line in block.lines) + "</ul>"]
    if isinstance(block, Table):
        return ([f"<p>{esc(block.caption)}</p>"] if block.caption else []) + [
            block.frame.to_html(index=False, escape=True, border=0)]
    if isinstance(block, Figure):
        path = out / block.file
        if not path.exists():
            return []
        return ([f"<h3>{esc(block.title)}</h3>"] if block.title else []) + [img_tag(path, block.alt)]
    if isinstance(block, Gallery):
        figures = [f"<figure style='display:inline-block'>{img_tag(path, caption)}"
                   f"<figcaption>{esc(caption)}</figcaption></figure>" for caption, path in block.pictures]
        return [f"<details><summary>{esc(block.title)}</summary><div class='grids'>", *figures, "</div></details>"]
    raise TypeError(f"not a report block: {type(block).__name__}")


def to_html(report: Report, out: Path) -> str:
    """Self-contained: every figure in ``out`` (and every gallery picture) is embedded."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(report.title)}</title><style>",
             _STYLE, f"</style></head><body><h1>{html.escape(report.title)}</h1>"]
    for section in report.sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        for block in section.blocks:
            parts += _html_block(block, Path(out))
    parts.append("</body></html>")
    return "\n".join(parts)


# --- JSON ----------------------------------------------------------------------------------------------
def to_json(report: Report) -> dict[str, Any]:
    """report.json: the comparisons' and the curves' data, and the notes."""
    return {"comparisons": report.data("comparison"), "curves": report.data("curve"),
            "notes": [n for notes in report.data("notes") for n in notes]}


# --- the terminal --------------------------------------------------------------------------------------
def print_report(report: Report) -> None:
    """What ``ganbench report`` prints: each section's title, its terminal tables and the lines the terminal
    shows (figures, galleries and the files' explanations stay in the files)."""
    from ganbench.report.console import StdoutConsole, rich_table

    console = StdoutConsole()
    for section in report.sections:
        if section.kind == "notes":
            for block in section.blocks:
                for n in block.on_console() if isinstance(block, Lines) else []:
                    console.print(f"[yellow]note:[/] {n}", highlight=False)
            continue
        tables = [b for b in section.blocks if isinstance(b, Table) and b.console is not None]
        if not tables:
            console.print(f"[bold]{section.title}[/]", highlight=False)
        for block in section.blocks:
            if isinstance(block, Table) and block.console is not None:
                console.print(rich_table(section.title, block.console))
            elif isinstance(block, Lines):
                for line in block.on_console():
                    console.print(f"  {line}", highlight=False)
            elif isinstance(block, Text) and block.console:
                console.print(f"  {block.text}", highlight=False)


__all__ = ["print_report", "to_html", "to_json", "to_markdown"]
