"""The ``ganbench`` command: a thin click layer over plain functions of the package's parts. ``cli`` (the click
group) and ``main`` (the console script) are public; the commands live in ``benchmark.py`` (run, report, status) and
``tools.py`` (plugins, budgets, evaluate, bench, colorize, data info)."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ganbench.core.errors import EXIT_CODES, GanbenchError
from ganbench.core.version import __version__


class GanbenchGroup(click.Group):
    """Turns user mistakes (GanbenchError) into one line and a documented exit code, never a traceback."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["ganbench.argv"] = list(args)  # the exact command, for provenance
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        from ganbench.train.signals import StopRequested

        try:
            return super().invoke(ctx)
        except GanbenchError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except StopRequested as exc:
            click.echo(f"interrupted: {exc}. Rerun the same command (or --resume) to continue.", err=True)
            ctx.exit(130)
        except KeyboardInterrupt:
            click.echo("interrupted.", err=True)
            ctx.exit(130)
        except BrokenPipeError:  # `ganbench report | head`: the reader has all it wanted
            _discard_stdout()
            ctx.exit(0)


def _discard_stdout() -> None:
    """Point stdout at /dev/null so nothing flushed at exit meets the closed pipe again (see the Python docs'
    "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def plugin_registry():
    from ganbench.core.registry import load_registry

    return load_registry()


@click.group(cls=GanbenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganbench")
def cli() -> None:
    """Benchmark GAN recipes for automatic image colourization."""


cli.help = ("Benchmark GAN recipes for automatic image colourization.\n\n\b\nExit codes:\n"
            + "\n".join(f"  {k:>3}  {v}" for k, v in EXIT_CODES.items()))


def main() -> None:
    cli(prog_name="ganbench")


from ganbench.cli import benchmark, export, tools  # noqa: E402,F401  (registers the commands)

__all__ = ["cli", "main"]
