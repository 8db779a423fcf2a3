"""``docs/cli.md``: the ``--help`` of every ``ganbench`` command, rendered from the commands themselves.

``python -m ganbench.cli.docs`` rewrites the file; ``python -m ganbench.cli.docs --check`` (and
``tests/cli/test_cli_docs.py``, so CI) fails when it is stale, e.g. after an option was added to
``ganbench/core/options.py`` without regenerating it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click
from click.testing import CliRunner

#: Where the reference lives, from the repository root.
DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
#: The width the help is wrapped at (fixed, so the file does not depend on the terminal that wrote it).
WIDTH = 100
REGENERATE = "python -m ganbench.cli.docs"


def commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path, the group's own first, sub-commands in name order."""
    yield path
    ctx = click.Context(group, info_name="ganbench")
    for name in group.list_commands(ctx):
        sub = group.get_command(ctx, name)
        if isinstance(sub, click.Group):
            yield from commands(sub, (*path, name))
        elif sub is not None:
            yield (*path, name)


def help_text(path: tuple[str, ...]) -> str:
    from ganbench.cli import cli

    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="ganbench", terminal_width=WIDTH,
                                max_content_width=WIDTH)
    if result.exit_code != 0:
        raise RuntimeError(f"ganbench {' '.join(path)} --help failed: {result.output}")
    return result.output.rstrip() + "\n"


def render() -> str:
    """The whole of docs/cli.md."""
    from ganbench.cli import cli

    parts = ["# Command-line reference", "",
             f"<!-- Generated from the commands' own help by `{REGENERATE}`; do not edit by hand "
             "(tests/cli/test_cli_docs.py fails when this file is stale). -->", "",
             "Every `ganbench` command's `--help`. The options of `ganbench run` are declared once, in "
             "`ganbench/core/options.py`; each is also a key of a config file's `[run]` table, except "
             "`--cache-dir` and `--rerun` (and `--set`, `--config`, `--resume`, `--quiet`, `--dry-run`, which "
             "belong to the command).", ""]
    for path in commands(cli):
        title = " ".join(["ganbench", *path])
        parts += [f"## {title}", "", "```text", help_text(path).rstrip(), "```", ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC} is stale: run `{REGENERATE}`", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
