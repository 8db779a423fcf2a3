"""Click options made from the declared run options (:mod:`ganbench.core.options`): one ``click.option`` per
declared field, so a new option needs no edit here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from ganbench.core import options as declared_options
from ganbench.core.options import Declared

F = TypeVar("F", bound=Callable[..., Any])


def click_option(d: Declared) -> Callable[[F], F]:
    """The click option of one declared option. Its default is None (not given), so that a config file's
    ``[run]`` and then the declared default can fill it in (``ganbench.core.options.resolve``)."""
    s = d.spec
    decls = [s.flag or d.flag, *([s.short] if s.short else []), d.param_name]
    kwargs: dict[str, Any] = {"default": None, "help": d.help}
    if s.type is bool:
        if "/" not in decls[0]:
            kwargs["is_flag"] = True
    elif s.choices:
        kwargs["type"] = click.Choice(list(s.choices))
    elif s.type is Path:
        kwargs["type"] = click.Path(path_type=Path)
    elif s.type in (int, float) and s.parse is None:
        kwargs["type"] = s.type
    if s.multiple:
        kwargs.update(multiple=True, default=())
    if s.metavar:
        kwargs["metavar"] = s.metavar
    return click.option(*decls, **kwargs)


def options(items: Iterable[Declared]) -> Callable[[F], F]:
    """A decorator adding these options in order (the first listed first in ``--help``)."""
    made = [click_option(d) for d in items]

    def decorate(f: F) -> F:
        for opt in reversed(made):
            f = opt(f)
        return f

    return decorate


def run_options(f: F) -> F:
    """Every declared option of ``ganbench run`` (the ``[run]`` keys and the run's flags)."""
    return options(declared_options.run_options())(f)


def dataset_options(f: F) -> F:
    """``--dataset`` and the dataset plugin's options (run, evaluate, data info)."""
    dataset = [d for d in declared_options.declared(declared_options.RequestOptions) if d.name == "dataset"]
    return options([*dataset, *declared_options.declared(declared_options.DatasetOptions)])(f)
