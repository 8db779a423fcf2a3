"""The public API is what docs/plugins.md lists: every name it shows imports from the module it names, and a
name that moved still imports from its old place, with a DeprecationWarning naming the new one."""

from __future__ import annotations

import importlib
import re
import warnings
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def _public_table() -> dict[str, list[str]]:
    """{module: [names]} from the table in "The public API and its stability"."""
    section = DOC.read_text().split("## The public API and its stability", 1)[1].split("\n## ", 1)[0]
    out: dict[str, list[str]] = {}
    for module, names in re.findall(r"^\| `(ganbench[\w.]*)`[^|]* \| (.+) \|$", section, flags=re.M):
        out[module] = re.findall(r"`(\w+)`", names)
    return out


def test_the_doc_lists_the_promised_modules_and_api_all():
    table = _public_table()
    assert set(table) == {"ganbench.api", "ganbench.testing", "ganbench.grid"}
    import ganbench.api
    import ganbench.grid

    assert sorted(table["ganbench.api"]) == sorted(ganbench.api.__all__)  # the doc and the module agree
    assert sorted(table["ganbench.grid"]) == sorted(ganbench.grid.__all__)


def test_every_name_the_docs_show_imports():
    text = DOC.read_text()
    shown: set[tuple[str, str]] = {(m, n) for m, names in _public_table().items() for n in names}
    for module, names in re.findall(r"from (ganbench(?:\.\w+)*) import ([\w, ]+)", text):
        shown |= {(module, n.strip()) for n in names.split(",") if n.strip()}
    shown |= set(re.findall(r"`(ganbench\.(?:api|grid|testing))\.(\w+)", text))
    assert len(shown) > 40
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the moved names' table is checked below
        for module, name in sorted(shown):
            assert hasattr(importlib.import_module(module), name), f"docs/plugins.md shows {module}.{name}"


@pytest.mark.parametrize(("old", "name", "new"), [
    ("ganbench.hookspecs", "hookimpl", "ganbench.api"),
    ("ganbench.errors", "DataError", "ganbench.api"),
    ("ganbench.data", "file_item", "ganbench.api"),
    ("ganbench.data", "UnusableImage", "ganbench.api"),
])
def test_a_moved_name_imports_from_its_old_place_with_a_warning(old, name, new):
    with pytest.warns(DeprecationWarning, match=rf"{old}\.{name} has moved: import it from {new}"):
        obj = getattr(importlib.import_module(old), name)
    assert obj is getattr(importlib.import_module(new), name)


def test_last_months_plugin_still_imports():
    with pytest.warns(DeprecationWarning, match="ganbench.api"):
        from ganbench.hookspecs import hookimpl
    from ganbench.api import hookimpl as current

    assert hookimpl is current


def test_an_unknown_name_is_still_an_attribute_error():
    import ganbench.hookspecs

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ganbench.hookspecs.nope  # noqa: B018


def test_types_ship_with_the_package():
    import ganbench

    assert (Path(ganbench.__file__).parent / "py.typed").is_file()
    pyproject = (DOC.parents[1] / "pyproject.toml").read_text()
    assert 'ganbench = ["py.typed"]' in pyproject
