"""The report is one document rendered four ways: what a section holds reaches Markdown, HTML, JSON and the
terminal from the one place it is written."""

from __future__ import annotations

import pandas as pd
import pytest

from ganbench.report.document import Figure, Gallery, Lines, Report, Section, Table, Text
from ganbench.report.render import print_report, to_html, to_json, to_markdown


@pytest.fixture
def document(tmp_path):
    from PIL import Image

    Image.new("RGB", (4, 4), (200, 10, 10)).save(tmp_path / "fig-0.png")
    Image.new("RGB", (4, 4), (10, 200, 10)).save(tmp_path / "run-samples.png")
    frame = pd.DataFrame({"model": ["dcgan", "gray"], "psnr dB ↑": ["20.1 ± 0.3 *", "19.0"]})
    section = Section("A comparison <of two>", "comparison", [
        Table(frame, caption="What the table shows.", console=frame[["model"]]),
        Text("An explanation only the files carry."),
        Lines(["dcgan − gray (psnr): +1.1 dB"], heading="Verdicts:"),
        Lines(["dcgan: seeds 0; recipe abc"], heading="Rows:", console_lines=["superseded: wgan seed 1"]),
        Figure("fig-0.png", "A figure", "alt text of the figure"),
        Figure("not-drawn.png", "Missing", "a figure that was not drawn"),
        Gallery("Per-run sample grids", [("run-a", tmp_path / "run-samples.png")]),
    ], data={"comparison": "k1", "rows": [1, 2]})
    return Report("ganbench report", [section, Section("Notes", "notes", [Lines(["a note"])], ["a note"])])


def test_markdown_shows_every_block(document):
    md = to_markdown(document)
    for text in ("# ganbench report", "## A comparison <of two>", "What the table shows.", "| dcgan | 20.1 ± 0.3 * |",
                 "An explanation only the files carry.", "Verdicts:", "- dcgan − gray (psnr): +1.1 dB",
                 "- dcgan: seeds 0; recipe abc", "![alt text of the figure](fig-0.png)", "- run-a: ", "## Notes",
                 "- a note"):
        assert text in md, text


def test_html_shows_every_block_escaped_with_images_embedded(document, tmp_path):
    page = to_html(document, tmp_path)
    for text in ("<h2>A comparison &lt;of two&gt;</h2>", "<p>What the table shows.</p>", "20.1 ± 0.3 *",
                 "<li>dcgan − gray (psnr): +1.1 dB</li>", "<h3>A figure</h3>", 'alt="alt text of the figure"',
                 "<figcaption>run-a</figcaption>", "<li>a note</li>"):
        assert text in page, text
    assert page.count("data:image/png;base64,") == 2  # the figure and the gallery picture
    assert "Missing" not in page  # a figure that was not drawn is left out


def test_json_holds_each_sections_data(document):
    assert to_json(document) == {"comparisons": [{"comparison": "k1", "rows": [1, 2]}], "curves": [],
                                 "notes": ["a note"]}


def test_the_terminal_shows_the_console_table_and_lines(document, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    print_report(document)
    out = capsys.readouterr().out
    assert "dcgan" in out and "20.1" not in out  # the terminal's narrower table
    assert "dcgan − gray (psnr): +1.1 dB" in out and "superseded: wgan seed 1" in out
    assert "recipe abc" not in out and "explanation" not in out  # files only
    assert "note: a note" in out
