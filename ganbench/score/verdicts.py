"""The report's significance lines: every row against the gray baseline and against every other row, on
each metric that has a reference, with p-values Holm-corrected over the comparison's whole family.

Inputs are plain per-image score tables (one ``per_image.csv`` frame per counted seed of a row), so the same
code serves the report and the calibration in tests (``ganbench.score.calibration``). Rules: docs/metrics.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ganbench.score.stats import ALPHA, LEVEL, holm, paired_test

#: Fewer independent test photos than this never make a difference significant.
MIN_PHOTOS = 5
#: The crop suffix the core adds to a photo's key (ganbench.data.pipeline.eval_crops): ``<key>#center``, ``<key>#q0``..
_CROP = re.compile(r"#(center|q\d+)$")


@dataclass(frozen=True)
class MetricInfo:
    """What metrics.json records about a metric (``metrics[name]``)."""

    name: str
    higher_is_better: bool = True
    unit: str = ""
    reference_free: bool = False
    #: "image" (per-photo verdicts here) or "set" (one score per seed: ganbench.score.set_level)
    level: str = "image"
    #: whether a set-level metric's differences are tested (False: a signed gap, shown only)
    tested: bool = True


def photo_of(image_key: str) -> str:
    """The photo a test crop comes from: the key without the crop suffix the core added (a ``#`` inside a
    file name is kept)."""
    return _CROP.sub("", image_key)


def photo_matrix(frames: dict[int, pd.DataFrame], column: str) -> pd.DataFrame:
    """Per photo (rows, crops of one photo averaged: they are not independent) and seed (columns).

    A seed without the column, or with a non-finite score, is a ``ValueError`` naming it: nothing is dropped
    silently. Photos missing from some seed are left out (the caller reports the photo count).
    """
    cols = {}
    for seed, frame in sorted(frames.items()):
        if column not in frame.columns:
            raise ValueError(f"seed {seed} has no {column} scores")
        values = frame.set_index("image")[column].astype(float)
        bad = values[~np.isfinite(values.to_numpy())]
        if len(bad):
            raise ValueError(f"seed {seed} has a non-finite {column} ({bad.iloc[0]}) on {bad.index[0]}")
        cols[seed] = values.groupby(values.index.map(photo_of)).mean()
    return pd.DataFrame(cols).dropna()


def _test(a: pd.DataFrame, b: pd.DataFrame | pd.Series) -> dict[str, Any]:
    photos = a.index.intersection(b.index)
    b_scores = b.loc[photos].to_numpy().T
    return paired_test(a.loc[photos].to_numpy().T, b_scores).to_dict()


def compare_rows(rows: dict[str, dict[int, pd.DataFrame]], metrics: list[MetricInfo]) -> list[dict[str, Any]]:
    """Each row against gray and each pair of rows, per metric with a reference; Holm over all of them.

    ``rows`` maps a row's label to its counted seeds' per-image frames (columns ``image``, ``model_<metric>``,
    ``gray_<metric>``). A test the data cannot support is a line with ``p`` None and ``untested`` saying why.
    """
    out: list[dict[str, Any]] = []
    labels = list(rows)
    for m in metrics:
        if m.reference_free:
            continue
        info = {"metric": m.name, "unit": m.unit, "higher_is_better": m.higher_is_better}
        scores: dict[str, pd.DataFrame | str] = {}
        for label in labels:
            try:
                scores[label] = photo_matrix(rows[label], f"model_{m.name}")
            except ValueError as exc:
                scores[label] = str(exc)
        for label in labels:
            entry = {"model": label, "versus": "gray", **info}
            try:
                gray = photo_matrix(rows[label], f"gray_{m.name}").mean(axis=1)
                if isinstance(scores[label], str):
                    raise ValueError(scores[label])
                entry.update(_test(scores[label], gray), seeds=list(rows[label]))
            except ValueError as exc:
                entry.update(untested=str(exc), p=None)
            out.append(entry)
        for i, a in enumerate(labels):
            for b in labels[i + 1:]:
                entry = {"model": a, "versus": b, **info}
                problem = next((f"{x}: {scores[x]}" for x in (a, b) if isinstance(scores[x], str)), "")
                if problem:
                    entry.update(untested=problem, p=None)
                else:
                    entry.update(_test(scores[a], scores[b]), seeds=list(rows[a]), seeds_versus=list(rows[b]))
                out.append(entry)
    return decide(out)


def decide(tests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Holm-adjust the family's p-values; significant = adjusted p < 0.05 and at least MIN_PHOTOS photos."""
    tested = [t for t in tests if t.get("p") is not None]
    for t, adjusted in zip(tested, holm([t["p"] for t in tested]), strict=True):
        t["p_holm"] = adjusted
    for t in tests:
        t.setdefault("p_holm", None)
        t.setdefault("untested", "")
        enough = t.get("n_photos", 0) >= MIN_PHOTOS
        t["significant"] = bool(t["p_holm"] is not None and t["p_holm"] < ALPHA and enough)
        t["better"] = _better(t) if t["significant"] else None
    return tests


def _better(t: dict[str, Any]) -> str:
    up = t["mean_diff"] > 0
    return t["model"] if up == t["higher_is_better"] else t["versus"]


def _num(x: float) -> str:
    return f"{x:+.3g}"


def _p(p: float) -> str:
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def _seeds(t: dict[str, Any]) -> str:
    if t["versus"] == "gray":
        n = t["seeds_a"]
        text = f"{n} seed{'s' if n != 1 else ''}"
        return text if t["seed_variation"] else text + " (seed-to-seed variation not included)"
    return f"{t['model']} {t['seeds_a']} seed{'s' if t['seeds_a'] != 1 else ''}, " \
           f"{t['versus']} {t['seeds_b']} seed{'s' if t['seeds_b'] != 1 else ''}"


def line(t: dict[str, Any]) -> str:
    """One sentence per test: difference, interval, p and Holm p, verdict, its seeds and photos, the photo
    count each way with its sign test, and a note when that count contradicts the verdict."""
    head = f"{t['model']} − {t['versus']} ({t['metric']}{', ' + t['unit'] if t['unit'] else ''})"
    if "mean_diff" not in t:
        return f"{head}: not tested: {t['untested']}."
    n = t["n_photos"]
    if t["p"] is None:
        text = f"{head}: {_num(t['mean_diff'])}, not tested: {t['untested']}."
    else:
        if t["significant"]:
            verdict = f"significant, {t['better']} is better"
        elif n < MIN_PHOTOS:
            verdict = f"not significant (fewer than {MIN_PHOTOS} test photos)"
        else:
            verdict = "not significant"
        text = (f"{head}: {_num(t['mean_diff'])} [{LEVEL:.0%} CI {_num(t['ci_low'])}, {_num(t['ci_high'])}], "
                f"p = {_p(t['p'])}, Holm p = {_p(t['p_holm'])}: {verdict}.")
    wins, losses = (t["n_above"], t["n_below"]) if t["higher_is_better"] else (t["n_below"], t["n_above"])
    text += (f" {_seeds(t)}, {n} test photo{'s' if n != 1 else ''}: {t['model']} better on {wins}, worse on "
             f"{losses}, tied on {t['n_tied']} (sign test p = {_p(t['sign_p'])}).")
    if t["significant"]:
        ahead, behind = (wins, losses) if t["better"] == t["model"] else (losses, wins)
        if ahead < behind:
            text += (f" Note: the mean favours {t['better']}, but it is better on fewer photos than it is worse "
                     f"({ahead} vs {behind}): a few photos decide this mean.")
    return text


__all__ = ["MIN_PHOTOS", "MetricInfo", "photo_of", "photo_matrix", "compare_rows", "decide", "line"]
