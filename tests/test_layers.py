"""The package's layers: every import inside ganbench (a function's deferred import included) points down or
sideways, never up (docs/architecture.md). Read from the source with ast, nothing imported."""

from __future__ import annotations

import ast
from pathlib import Path

import ganbench

#: Bottom first; a module may import its own layer and those below it. A top-level module is a room of its own.
LAYERS = [
    {"core", "_moved"},
    {"data", "store", "errors", "hookspecs"},
    {"score"},
    {"train"},
    {"track"},
    {"grid", "report", "testing"},
    {"api", "tools"},
    {"export"},
    {"inference"},
    {"__init__"},
    {"cli"},
    {"__main__"},
]
RANK = {room: i for i, rooms in enumerate(LAYERS) for room in rooms}
PACKAGE = Path(ganbench.__file__).parent


def _room(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "ganbench":
        return None
    return "__init__" if len(parts) == 1 else parts[1]


def imports_running_up() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        room = _room(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                target = _imported_room(name)
                if target is not None and target != room and RANK[target] > RANK[room]:
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {room} imports {name}")
    return found


def test_every_room_has_a_layer():
    rooms = {_room(p) for p in PACKAGE.rglob("*.py")}
    assert rooms <= set(RANK), sorted(rooms - set(RANK))


def test_no_import_runs_back_up_a_layer():
    assert imports_running_up() == []
