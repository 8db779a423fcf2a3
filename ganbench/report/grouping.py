"""Which runs form one table row: the report pools only independent seeds of the same thing.

A row is one model run with one set of result-changing options (everything in the run's config except its
seed, checkpoint interval and recipe: EMA, colourfulness floor, precision, metrics, budget, dataset, ...) by
the newest *identity* (the resolved recipe's hash and the plugin versions that built it, run.json
``identity``). Runs of the same model and options made by an older identity are *superseded*: listed, never
averaged in. Each seed counts once: of several runs of one seed the newest complete one is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ganbench.core.config import stable_hash
from ganbench.core.options import outside_run_key
from ganbench.store.records import RunRecord

#: Config entries that do not make a run's results differ (the seed is the row's sample unit; the options
#: declared outside the run key: checkpoint_every, ...); the identity (recipe hash, plugin versions) decides
#: current vs superseded, never a second row.
NOT_OPTIONS = ("seed", "recipe", "model", "identity", *outside_run_key())


class _Run(Protocol):
    path: Any
    record: RunRecord
    status: str


@dataclass
class Row:
    """One table row: the runs of one model, options and identity, with one counted run per seed."""

    label: str
    model: str
    options: dict[str, Any]
    identity: dict[str, Any]
    runs: list[Any] = field(default_factory=list)  # every current run, complete or not
    counted: dict[int, Any] = field(default_factory=dict)  # seed -> the complete run used

    @property
    def seeds(self) -> list[int]:
        return sorted(self.counted)

    def seed_status(self) -> dict[int, str]:
        """Per seed: complete when a counted run exists, else the newest run's status."""
        out: dict[int, str] = {}
        for r in self.runs:  # oldest first: the newest wins
            out[seed_of(r)] = r.status
        out.update({s: "complete" for s in self.counted})
        return out


def seed_of(run: _Run) -> int:
    return run.record.seed


def identity_of(record: RunRecord) -> dict[str, Any]:
    """run.json ``identity`` as ``{"recipe_hash", "plugins"}``: ``plugins`` = what built it, per part
    (``{"generator": "unet: ganbench 0.1.0, my_plugin.nets@…", …}``) or, recorded by an older ganbench,
    per distribution; older runs still lack it: their stored recipe is hashed, plugin versions unknown."""
    ident = record.identity
    recipe_hash = ident.get("recipe_hash") or stable_hash(record.config.get("recipe", {}))
    parts = {k: v for k, v in ident.items() if k not in ("recipe_hash", "plugins")}
    return {"recipe_hash": recipe_hash, "plugins": parts or ident.get("plugins")}


def same_identity(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same recipe, and the same plugin versions where both runs recorded them."""
    if a["recipe_hash"] != b["recipe_hash"]:
        return False
    return a["plugins"] is None or b["plugins"] is None or a["plugins"] == b["plugins"]


def identity_text(ident: dict[str, Any]) -> str:
    plugins = ident.get("plugins")
    versions = ", ".join(f"{k} {v}" for k, v in sorted(plugins.items())) if plugins else "plugin versions not recorded"
    return f"recipe {ident['recipe_hash']}; {versions}"


def options_of(record: RunRecord) -> dict[str, Any]:
    return {k: v for k, v in record.config.items() if k not in NOT_OPTIONS}


def _option_label(options: dict[str, Any], differing: list[str]) -> str:
    return ", ".join(f"{k} {options.get(k)}" for k in differing)


def group_rows(runs: list[_Run]) -> tuple[list[Row], list[str]]:
    """Rows in order of first appearance (``runs`` oldest first) and one note per run left out."""
    variants: dict[tuple[str, str], list[_Run]] = {}
    for r in runs:
        variants.setdefault((r.record.model, stable_hash(options_of(r.record))), []).append(r)
    rows, notes = [], []
    for (model, _), group in variants.items():
        newest = identity_of(max(group, key=lambda r: r.path.name).record)
        current = [r for r in group if same_identity(identity_of(r.record), newest)]
        for r in group:
            if r not in current:
                notes.append(f"superseded: {model} seed {seed_of(r)} ({r.path.name}), made by "
                             f"{identity_text(identity_of(r.record))}; newer runs of {model} use "
                             f"{identity_text(newest)}: rerun it to count it")
        row = Row(model, model, options_of(current[0].record), newest, runs=current)
        for r in sorted(current, key=lambda r: r.path.name):
            if r.status == "complete":
                old = row.counted.get(seed_of(r))
                if old is not None:
                    notes.append(f"duplicate: {model} seed {seed_of(r)} ran twice ({old.path.name}, {r.path.name}); "
                                 "the newest counts once")
                row.counted[seed_of(r)] = r
        rows.append(row)
    _label_variants(rows)
    return rows, notes


def _label_variants(rows: list[Row]) -> None:
    """Rows of one model with different options are named by the options that differ."""
    by_model: dict[str, list[Row]] = {}
    for row in rows:
        by_model.setdefault(row.model, []).append(row)
    for same in by_model.values():
        if len(same) < 2:
            continue
        keys = sorted({k for row in same for k in row.options})
        differing = [k for k in keys if len({stable_hash(row.options.get(k)) for row in same}) > 1]
        for row in same:
            row.label = f"{row.model} ({_option_label(row.options, differing)})"


__all__ = ["Row", "group_rows", "identity_of", "identity_text", "options_of", "seed_of"]
