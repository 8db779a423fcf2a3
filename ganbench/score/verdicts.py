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
#: Seeds each seeded side needs for a claim about the *recipe*; with fewer the line is a claim about the trained
#: generators themselves (photos only), shown as such everywhere.
MIN_SEEDS = 3
#: A photo whose truth is less colourful than this (Hasler-Süsstrunk) has no colour to restore: gray matches it.
COLOURLESS = 1.0
#: The best score a metric can reach, for runs that did not record it (metrics.json ``metrics[name].ceiling``).
KNOWN_CEILINGS = {"psnr": 100.0}
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
    ceiling: float | None = None


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


def _test(a: pd.DataFrame, b: pd.DataFrame | pd.Series, photos_only: bool) -> dict[str, Any]:
    photos = a.index.intersection(b.index)
    b_scores = b.loc[photos].to_numpy().T
    return paired_test(a.loc[photos].to_numpy().T, b_scores, photos_only=photos_only).to_dict()


def fixed(per_seed: pd.DataFrame) -> pd.Series:
    """A fixed reference (gray) recorded once per seed: its one value per photo, taken as is when every seed
    recorded the same (an average of equal numbers can differ from them in the last bit, and an exact tie
    must stay exact), else the mean over seeds."""
    same = per_seed.nunique(axis=1) <= 1
    return per_seed.iloc[:, 0] if bool(same.all()) else per_seed.mean(axis=1)


def claim_of(*seed_counts: int) -> str:
    """'recipe' when every seeded side has MIN_SEEDS seeds, else 'generator' (a claim about these trained
    generators, over photos only)."""
    return "recipe" if all(n >= MIN_SEEDS for n in seed_counts) else "generator"


def colourless_photos(rows: dict[str, dict[int, pd.DataFrame]], metrics: list[MetricInfo]) -> list[str]:
    """Photos that cannot show colourization: truth colourfulness below COLOURLESS (``truth_colorfulness``)
    or gray at a metric's ceiling (gray equals the truth there). Sorted photo names."""
    found: set[str] = set()
    for seeds in rows.values():
        for frame in seeds.values():
            photo = frame["image"].map(photo_of)
            if "truth_colorfulness" in frame.columns:
                found |= set(photo[frame["truth_colorfulness"].astype(float) < COLOURLESS])
            for m in metrics:
                top = m.ceiling if m.ceiling is not None else KNOWN_CEILINGS.get(m.name)
                col = f"gray_{m.name}"
                if top is not None and col in frame.columns and not m.reference_free:
                    at = frame[col].astype(float) >= top if m.higher_is_better else frame[col].astype(float) <= top
                    found |= set(photo[at])
    return sorted(found)


def compare_rows(rows: dict[str, dict[int, pd.DataFrame]], metrics: list[MetricInfo]) -> list[dict[str, Any]]:
    """Each row against gray and each pair of rows, per metric with a reference; Holm over all of them.

    ``rows`` maps a row's label to its counted seeds' per-image frames (columns ``image``, ``model_<metric>``,
    ``gray_<metric>``). A test the data cannot support is a line with ``p`` None and ``untested`` saying why.
    Each line's ``claim`` is 'recipe' (every seeded side has MIN_SEEDS seeds) or 'generator' (photos only).
    Photos with colourless truth are left out of every line (``excluded_photos``).
    """
    out: list[dict[str, Any]] = []
    labels = list(rows)
    excluded = colourless_photos(rows, metrics)
    for m in metrics:
        if m.reference_free:
            continue
        info = {"metric": m.name, "unit": m.unit, "higher_is_better": m.higher_is_better,
                "excluded_photos": excluded}
        scores: dict[str, pd.DataFrame | str] = {}
        for label in labels:
            try:
                scores[label] = photo_matrix(rows[label], f"model_{m.name}").drop(excluded, errors="ignore")
            except ValueError as exc:
                scores[label] = str(exc)
        for label in labels:
            claim = claim_of(len(rows[label]))
            entry = {"model": label, "versus": "gray", "claim": claim, **info}
            try:
                gray = fixed(photo_matrix(rows[label], f"gray_{m.name}")).drop(excluded, errors="ignore")
                if isinstance(scores[label], str):
                    raise ValueError(scores[label])
                entry.update(_test(scores[label], gray, claim == "generator"), seeds=list(rows[label]))
            except ValueError as exc:
                entry.update(untested=str(exc), p=None)
            out.append(entry)
        for i, a in enumerate(labels):
            for b in labels[i + 1:]:
                claim = claim_of(len(rows[a]), len(rows[b]))
                entry = {"model": a, "versus": b, "claim": claim, **info}
                problem = next((f"{x}: {scores[x]}" for x in (a, b) if isinstance(scores[x], str)), "")
                if problem:
                    entry.update(untested=problem, p=None)
                else:
                    entry.update(_test(scores[a], scores[b], claim == "generator"), seeds=list(rows[a]),
                                 seeds_versus=list(rows[b]))
                out.append(entry)
    return decide(out)


def decide(tests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Holm-adjust the family's p-values; a line below 0.05 with at least MIN_PHOTOS photos is *significant*
    when it is a recipe-level claim, *generator_significant* when it is a generator-level one (fewer than
    MIN_SEEDS seeds: a claim about these trained generators only). ``better`` names the better side of either."""
    tested = [t for t in tests if t.get("p") is not None]
    for t, adjusted in zip(tested, holm([t["p"] for t in tested]), strict=True):
        t["p_holm"] = adjusted
    for t in tests:
        t.setdefault("p_holm", None)
        t.setdefault("untested", "")
        t.setdefault("claim", "recipe" if t.get("seed_variation", True) else "generator")
        enough = t.get("n_photos", 0) >= MIN_PHOTOS
        below = bool(t["p_holm"] is not None and t["p_holm"] < ALPHA and enough)
        t["significant"] = below and t["claim"] == "recipe"
        t["generator_significant"] = below and t["claim"] == "generator"
        t["better"] = _better(t) if below else None
    return tests


def _better(t: dict[str, Any]) -> str:
    up = t["mean_diff"] > 0
    return t["model"] if up == t["higher_is_better"] else t["versus"]


def _num(x: float) -> str:
    return f"{x:+.3g}"


def _p(p: float) -> str:
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def _n(k: int, what: str = "seed") -> str:
    return f"{k} {what}{'s' if k != 1 else ''}"


def _seeds(t: dict[str, Any]) -> str:
    if t["versus"] == "gray":
        return _n(t["seeds_a"])
    return f"{t['model']} {_n(t['seeds_a'])}, {t['versus']} {_n(t['seeds_b'])}"


def generator_note(t: dict[str, Any]) -> str:
    """Why a line speaks for its trained generators only, and what a recipe-level verdict needs."""
    return (f"photos only, about these trained generators, not their recipes: a recipe-level verdict needs "
            f"{MIN_SEEDS} seeds of each model (--seeds {MIN_SEEDS})")


def line(t: dict[str, Any]) -> str:
    """One sentence per test: difference, interval, p and Holm p, verdict (recipe-level, or generator-level
    with fewer than MIN_SEEDS seeds), its seeds and photos, the photo counts (no test: photos are not the
    unit of a recipe claim), photos left out, and a note when the counts contradict the verdict."""
    head = f"{t['model']} − {t['versus']} ({t['metric']}{', ' + t['unit'] if t['unit'] else ''})"
    generator = t.get("claim") == "generator"
    if "mean_diff" not in t:
        return f"{head}: not tested: {t['untested']}."
    n = t["n_photos"]
    if t["p"] is None:
        text = f"{head}: {_num(t['mean_diff'])}, not tested: {t['untested']}."
    else:
        if t["significant"]:
            verdict = f"significant, {t['better']} is better"
        elif t.get("generator_significant"):
            verdict = f"generator-level difference, {t['better']} is better on these photos"
        elif n < MIN_PHOTOS:
            verdict = f"not significant (fewer than {MIN_PHOTOS} test photos)"
        else:
            verdict = "not significant"
        if generator:
            verdict += f" ({generator_note(t)})"
        text = (f"{head}: {_num(t['mean_diff'])} [{LEVEL:.0%} CI {_num(t['ci_low'])}, {_num(t['ci_high'])}], "
                f"p = {_p(t['p'])}, Holm p = {_p(t['p_holm'])}: {verdict}.")
    wins, losses = (t["n_above"], t["n_below"]) if t["higher_is_better"] else (t["n_below"], t["n_above"])
    text += (f" {_seeds(t)}, {_n(n, 'test photo')}; photo counts (no test): {t['model']} better on {wins}, "
             f"worse on {losses}, tied on {t['n_tied']}.")
    left = t.get("excluded_photos") or []
    if left:
        text += (f" {_n(len(left), 'photo')} with colourless truth left out ({', '.join(left[:3])}"
                 f"{', ...' if len(left) > 3 else ''}): gray matches them, they cannot show colourization.")
    if t["better"]:
        ahead, behind = (wins, losses) if t["better"] == t["model"] else (losses, wins)
        if ahead < behind:
            text += (f" Note: the mean favours {t['better']}, but it is better on fewer photos than it is worse "
                     f"({ahead} vs {behind}): a few photos decide this mean.")
    return text


__all__ = ["MIN_PHOTOS", "MIN_SEEDS", "COLOURLESS", "MetricInfo", "photo_of", "photo_matrix", "compare_rows",
           "decide", "line", "claim_of", "colourless_photos", "generator_note"]
