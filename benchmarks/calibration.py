"""Calibration of every verdict the report prints, through the report's own code: synthetic per-photo scores of
known truth are written as the per-image frames the report reads, then judged by ``compare_rows`` (the
significance lines), ``line`` (their words), the table's "vs gray" marks and the curve sentences. No training:

    python benchmarks/calibration.py                 # the full table (docs/metrics.md quotes it)
    python benchmarks/calibration.py --reps 200      # quicker, wider Monte Carlo intervals
    python benchmarks/calibration.py --only curve    # the cells whose name matches "curve" (a regular expression)

A synthetic score is gray + effect + photo x recipe interaction + seed offset + photo x seed noise, with the
photo's difficulty in gray itself (sd 3 dB), interaction sd 1, seed offset sd 0.3 (drawn for one seed too: one
trained generator is one draw of its recipe), photo x seed sd 0.5. Noise kinds: ``normal``; ``skewed`` (seed
offsets and photo x seed noise from a centred lognormal, skewness about 6, same sds); ``failed`` (normal, and each
seed fails with probability 0.15, scoring 1.5 dB lower on every photo; offsets re-centred so the recipe's mean is
unchanged). Colourless photos: their truth has no colour, so gray scores the PSNR ceiling (100 dB) there and the
model what a colourization of a black-and-white photo scores (35 ± 3 dB).

Each cell gives the rate of reports that print the verdict (with a 95% Wilson interval over the simulated
reports): under no true difference that is a false rate (allowed: 5%), under a true difference the power.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from ganbench.report.comparison import Comparison, _vs_gray_marks
from ganbench.report.curve_sentences import best_sentence, gray_sentence, leader_sentence
from ganbench.report.curves import BUDGET, Curve, PointStats
from ganbench.score.set_level import compare_seed_values
from ganbench.score.verdicts import MetricInfo, compare_rows, line

PSNR = MetricInfo("psnr", True, "dB")
CEILING = 100.0


@dataclass(frozen=True)
class Noise:
    difficulty: float = 3.0
    interaction: float = 1.0
    seed: float = 0.3
    resid: float = 0.5
    kind: str = "normal"  # normal | skewed | failed
    fail_p: float = 0.15
    fail_drop: float = 1.5


def _skewed(rng: np.random.Generator, shape: Any, sd: float) -> np.ndarray:
    raw = rng.lognormal(0.0, 1.0, shape)
    return (raw - math.exp(0.5)) * sd / math.sqrt((math.e - 1) * math.e)


def _offsets(rng: np.random.Generator, seeds: int, noise: Noise) -> np.ndarray:
    if noise.kind == "skewed":
        return _skewed(rng, (seeds, 1), noise.seed)
    off = rng.normal(0.0, noise.seed, (seeds, 1))
    if noise.kind == "failed":
        off = off - noise.fail_drop * ((rng.random((seeds, 1)) < noise.fail_p) - noise.fail_p)
    return off


def simulate(rng: np.random.Generator, effects: Sequence[float], photos: int, seeds: int | Sequence[int],
             noise: Noise = Noise(), recipes: Sequence[str] | None = None, colourless: int = 0,
             gray: np.ndarray | None = None, noises: Sequence[Noise] | None = None,
             ) -> tuple[dict[str, dict[int, pd.DataFrame]], np.ndarray]:
    """Per-image frames as the report reads them (``image``, ``model_psnr``, ``gray_psnr``), one dict of seeds
    per model ``m0``, ``m1``, ...; models sharing a recipe name share its photo profile. The first
    ``colourless`` photos have colourless truth; ``noises`` gives each model its own seed noise (else ``noise``).
    Returns the frames and gray's scores (reusable along a curve)."""
    if gray is None:
        gray = rng.normal(20.0, noise.difficulty, photos)
        gray[:colourless] = CEILING
    recipes = list(recipes) if recipes is not None else [f"r{i}" for i in range(len(effects))]
    profiles = {r: rng.normal(0.0, noise.interaction, photos) for r in dict.fromkeys(recipes)}
    counts = [seeds] * len(effects) if isinstance(seeds, int) else list(seeds)
    names = [f"img{i:04d}.png" for i in range(photos)]
    rows: dict[str, dict[int, pd.DataFrame]] = {}
    for i, (recipe, effect, n) in enumerate(zip(recipes, effects, counts, strict=True)):
        own = noises[i] if noises is not None else noise
        resid = _skewed(rng, (n, photos), own.resid) if own.kind == "skewed" else \
            rng.normal(0.0, own.resid, (n, photos))
        scores = gray + effect + profiles[recipe] + _offsets(rng, n, own) + resid
        scores[:, :colourless] = 35.0 + rng.normal(0.0, 3.0, (n, colourless))  # colour where there is none
        rows[f"m{i}"] = {s: pd.DataFrame({"image": names, "model_psnr": scores[s], "gray_psnr": gray})
                         for s in range(n)}
    return rows, gray


# --- what the report prints, read back ------------------------------------------------------------------
_RECIPE_SIG = re.compile(r": significant, (\S+) is better")


def table_verdicts(rows: dict[str, dict[int, pd.DataFrame]]) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """(the significance tests, their lines, the table's vs-gray marks) as the report makes them."""
    tests = compare_rows(rows, [PSNR])
    comp = Comparison("calibration", [])
    comp.table = pd.DataFrame({"model": list(rows)})
    comp.significance = tests
    return tests, [line(t) for t in tests], _vs_gray_marks(comp, PSNR.name)


def claims(lines: list[str], versus_gray: bool) -> list[str]:
    """The recipe-level "significant, X is better" verdicts among the lines against gray (or between rows)."""
    out = []
    for text in lines:
        if (" − gray " in text) == versus_gray and (m := _RECIPE_SIG.search(text)):
            out.append(m.group(1))
    return out


def mark_claims(marks: list[str]) -> list[str]:
    """Recipe-level table marks: 'above gray' / 'below gray' (a generator-level mark is worded otherwise)."""
    return [m for m in marks if m.startswith(("above gray", "below gray"))]


def sign_p_below(lines: list[str]) -> bool:
    return any(float(p) < 0.05 for text in lines for p in re.findall(r"sign test p = ([0-9.e-]+)", text))


def curve_of(points: list[list[dict[str, Any]]], stats: list[dict[str, PointStats]]) -> Curve:
    n = len(points)
    curve = Curve(BUDGET, "calibration", "calibration", [SimpleNamespace(significance=p) for p in points],
                  [f"{1200 * 2 ** i:,} images" for i in range(n)], [1200.0 * 2 ** i for i in range(n)],
                  {PSNR.name: {"higher_is_better": True, "unit": "dB", "reference_free": False}})
    models = list(stats[0])
    curve.lines = {m: [s[m] for s in stats] for m in models}
    return curve


def point_stats(rows: dict[str, dict[int, pd.DataFrame]]) -> dict[str, PointStats]:
    return {m: PointStats(m, {s: {"psnr": float(f["model_psnr"].mean())} for s, f in seeds.items()}, 0, 0, 0, 0)
            for m, seeds in rows.items()}


def curve_verdicts(rng: np.random.Generator, effects: Sequence[float], photos: int, seeds: int, n_points: int,
                   noise: Noise) -> dict[str, bool]:
    """One simulated curve (independent trainings at each point, the same test photos): which sentences
    it prints."""
    gray = None
    points, stats = [], []
    for _ in range(n_points):
        rows, gray = simulate(rng, effects, photos, seeds, noise, gray=gray)
        points.append(compare_rows(rows, [PSNR]))
        stats.append(point_stats(rows))
    curve = curve_of(points, stats)
    texts = [gray_sentence(curve, m, "psnr") for m in curve.lines]
    best = [s for i in range(n_points) if (s := best_sentence(curve, i, "psnr"))]
    return {"first beats gray": any(" first beats gray significantly" in t for t in texts),
            "worse than gray at a point": any("significantly worse than gray at" in t for t in texts),
            "significant lead at a point": any(re.search(r"is significant[:,]", t) for t in best),
            "changes hands": leader_sentence(curve, "psnr") is not None}


# --- cells ---------------------------------------------------------------------------------------------
@dataclass
class Cell:
    section: str
    name: str
    truth: str  # "null" (a false rate) or "power"
    run: Callable[[np.random.Generator], bool]
    cost: float = 1.0  # relative time per report, to size reps
    results: dict[str, Any] = field(default_factory=dict)


def _vs_gray(effects: Sequence[float], photos: int, seeds: int, noise: Noise = Noise(), what: str = "line",
             colourless: int = 0, want: str = "any") -> Callable[[np.random.Generator], bool]:
    def run(rng: np.random.Generator) -> bool:
        rows, _ = simulate(rng, effects, photos, seeds, noise, colourless=colourless)
        tests, lines, marks = table_verdicts(rows)
        if what == "generator":  # a generator-level claim (fewer than 3 seeds): photos only
            return any(" − gray " in t and "generator-level difference" in t for t in lines)
        if what == "mark":
            found = mark_claims(marks)
        elif what == "sign":
            return sign_p_below([t for t in lines if " − gray " in t])
        else:
            found = claims(lines, versus_gray=True)
        if want == "gray better":
            return any(f == "gray" or f.startswith("below") for f in found)
        if want == "model better":
            return any(f != "gray" and not f.startswith("below") for f in found)
        return bool(found)
    return run


def _pair(effects: Sequence[float], photos: int, seeds: int, noise: Noise = Noise(),
          recipes: Sequence[str] | None = None, what: str = "line",
          noises: Sequence[Noise] | None = None) -> Callable[[np.random.Generator], bool]:
    def run(rng: np.random.Generator) -> bool:
        rows, _ = simulate(rng, effects, photos, seeds, noise, recipes=recipes, noises=noises)
        _, lines, _ = table_verdicts(rows)
        if what == "sign":
            return sign_p_below([t for t in lines if " − gray " not in t])
        return bool(claims(lines, versus_gray=False))
    return run


def _curve(effects: Sequence[float], photos: int, seeds: int, n_points: int, verdict: str,
           noise: Noise = Noise()) -> Callable[[np.random.Generator], bool]:
    return lambda rng: curve_verdicts(rng, effects, photos, seeds, n_points, noise)[verdict]


def _exact_tie(photos: int, seeds: int) -> Callable[[np.random.Generator], bool]:
    """A generator whose scores equal gray's exactly, on every photo and seed."""
    def run(rng: np.random.Generator) -> bool:
        gray = rng.normal(20.0, 3.0, photos)
        names = [f"img{i:04d}.png" for i in range(photos)]
        rows = {"m0": {s: pd.DataFrame({"image": names, "model_psnr": gray.copy(), "gray_psnr": gray})
                       for s in range(seeds)}}
        tests, lines, marks = table_verdicts(rows)
        return bool(claims(lines, True) or mark_claims(marks) or any(t.get("mean_diff", 0.0) != 0.0 for t in tests))
    return run


def _zero_variance(photos: int, seeds: int) -> Callable[[np.random.Generator], bool]:
    """A metric with one value per image set: every photo of a seed scores the same (no photo variance)."""
    def run(rng: np.random.Generator) -> bool:
        names = [f"img{i:04d}.png" for i in range(photos)]
        g = rng.normal(0.5, 0.05)
        rows = {"m0": {s: pd.DataFrame({"image": names, "model_psnr": np.full(photos, g + rng.normal(0, 0.05)),
                                        "gray_psnr": np.full(photos, g)}) for s in range(seeds)}}
        tests, lines, marks = table_verdicts(rows)
        return bool(claims(lines, True) or mark_claims(marks))
    return run


def _set_level(effects: Sequence[float], seeds: int, noises: Sequence[Noise],
               versus_gray: bool = True) -> Callable[[np.random.Generator], bool]:
    """Set-level lines (one score per seed; gray's set score 0) through ``compare_seed_values``: a recipe's seed
    values are its effect plus the seed offsets of its noise kind (sd 0.3, as the per-photo cells)."""
    metric = MetricInfo("swd", True, "", level="set")

    def run(rng: np.random.Generator) -> bool:
        rows = {f"m{i}": {s: {"swd": float(effect + off)} for s, off in enumerate(_offsets(rng, seeds, nz)[:, 0])}
                for i, (effect, nz) in enumerate(zip(effects, noises, strict=True))}
        lines = compare_seed_values(rows, {"swd": 0.0}, [metric])
        return any(t["significant"] for t in lines if (t["versus"] == "gray") == versus_gray)
    return run


def cells() -> list[Cell]:
    out: list[Cell] = []
    for seeds in (1, 3, 5):
        for photos in (5, 20, 126, 1000):
            out.append(Cell("vs gray, one model", f"{seeds} seed(s), {photos} photos: significant line", "null",
                            _vs_gray([0.0], photos, seeds)))
    for seeds in (1, 3):
        for photos in (20, 1000):
            out.append(Cell("vs gray, one model", f"{seeds} seed(s), {photos} photos: table mark above/below",
                            "null", _vs_gray([0.0], photos, seeds, what="mark")))
            out.append(Cell("vs gray, four identical models", f"{seeds} seed(s), {photos} photos: any mark",
                            "null", _vs_gray([0.0] * 4, photos, seeds, what="mark"), cost=3))
    for photos in (20, 1000):
        out.append(Cell("generator level (1 seed)", f"{photos} photos, the trained generator truly equal to gray: "
                        "generator-level difference", "null", _vs_gray([0.0], photos, 1, Noise(seed=0.0),
                                                                        what="generator")))
    out.append(Cell("vs gray, one model", "1 seed, 126 photos, truly +0.3 dB: called worse than gray", "null",
                    _vs_gray([0.3], 126, 1, want="gray better")))
    for kind in ("skewed", "failed"):
        for seeds in (3, 5):
            for photos in (126, 1000):
                out.append(Cell(f"vs gray, {kind} noise", f"{seeds} seeds, {photos} photos: significant line",
                                "null", _vs_gray([0.0], photos, seeds, Noise(kind=kind))))
    for seeds in (3, 5):
        for photos in (20, 126, 1000):
            out.append(Cell("model vs model", f"two recipes of equal mean, {seeds} seeds, {photos} photos", "null",
                            _pair([0.0, 0.0], photos, seeds)))
    out.append(Cell("model vs model", "one recipe under two names, 3 seeds, 126 photos", "null",
                    _pair([0.0, 0.0], 126, 3, recipes=["r", "r"])))
    for kind in ("skewed", "failed"):
        out.append(Cell("model vs model", f"equal means, {kind} noise, 5 seeds, 1000 photos", "null",
                        _pair([0.0, 0.0], 1000, 5, Noise(kind=kind))))
    for kind in ("skewed", "failed"):
        for seeds in (3, 5, 8):
            out.append(Cell("model vs model", f"equal means, one recipe {kind}, the other normal, {seeds} seeds, "
                            "1000 photos", "null",
                            _pair([0.0, 0.0], 1000, seeds, noises=[Noise(kind=kind), Noise()])))
    out.append(Cell("photo counts", "sign test p < 0.05 beside a null line vs gray, 3 seeds, 126 photos", "null",
                    _vs_gray([0.0], 126, 3, what="sign")))
    out.append(Cell("photo counts", "sign test p < 0.05 beside a null line vs gray, 3 seeds, 1000 photos", "null",
                    _vs_gray([0.0], 1000, 3, what="sign")))
    for n_points in (4, 8):
        for seeds in (3, 5):
            out.append(Cell("curves", f"{n_points} points, {seeds} seeds, 1000 photos: first beats gray", "null",
                            _curve([0.0], 1000, seeds, n_points, "first beats gray"), cost=n_points))
    out.append(Cell("curves", "4 points, 1 seed, 126 photos: first beats gray", "null",
                    _curve([0.0], 126, 1, 4, "first beats gray"), cost=4))
    for n_points in (4, 8):
        out.append(Cell("curves", f"{n_points} points, 3 identical models, 3 seeds, 126 photos: changes hands",
                        "null", _curve([0.0] * 3, 126, 3, n_points, "changes hands"), cost=2 * n_points))
        out.append(Cell("curves", f"{n_points} points, 3 identical models, 3 seeds, 126 photos: significant lead",
                        "null", _curve([0.0] * 3, 126, 3, n_points, "significant lead at a point"),
                        cost=2 * n_points))
    out.append(Cell("edges", "scores equal gray's exactly, 3 seeds, 20 photos: significant or a non-zero diff",
                    "null", _exact_tie(20, 3)))
    out.append(Cell("edges", "one value per image set (no photo variance), 3 seeds, 20 photos: significant",
                    "null", _zero_variance(20, 3)))
    out.append(Cell("colourless photos", "1% colourless of 1000, model truly +1 dB: 'gray is better'", "null",
                    _vs_gray([1.0], 1000, 3, colourless=10, want="gray better")))
    # power
    out.append(Cell("power", "vs gray, truly +1 dB, 3 seeds, 20 photos", "power", _vs_gray([1.0], 20, 3,
                                                                                           want="model better")))
    out.append(Cell("power", "vs gray, truly +1 dB, 3 seeds, 126 photos", "power", _vs_gray([1.0], 126, 3,
                                                                                            want="model better")))
    out.append(Cell("power", "vs gray, truly +1 dB, 5 seeds, 126 photos", "power", _vs_gray([1.0], 126, 5,
                                                                                            want="model better")))
    out.append(Cell("power", "vs gray, truly +1 dB, 3 seeds, 126 photos, one colourless", "power",
                    _vs_gray([1.0], 126, 3, colourless=1, want="model better")))
    for seeds in (3, 5):
        for kind in ("normal", "skewed", "failed"):
            out.append(Cell("power", f"model vs model, truly 1 dB apart, {seeds} seeds, 126 photos, {kind}", "power",
                            _pair([1.0, 0.0], 126, seeds, Noise(kind=kind))))
    for kind in ("normal", "skewed", "failed"):
        for seeds in (3, 5, 10):
            out.append(Cell("set level", f"row vs gray, {kind} seeds, {seeds} seeds", "null",
                            _set_level([0.0], seeds, [Noise(kind=kind)])))
    for kind in ("normal", "skewed", "failed"):
        out.append(Cell("set level", f"row vs row, equal means, one row {kind}, the other normal, 5 seeds", "null",
                        _set_level([0.0, 0.0], 5, [Noise(kind=kind), Noise()], versus_gray=False)))
    for seeds in (3, 5, 10):
        out.append(Cell("power", f"set level, row vs gray, truly 2 seed sds (0.6), {seeds} seeds, normal", "power",
                        _set_level([0.6], seeds, [Noise()])))
    out.append(Cell("power", "set level, row vs row, truly 2 seed sds (0.6) apart, 5 seeds, normal", "power",
                    _set_level([0.6, 0.0], 5, [Noise(), Noise()], versus_gray=False)))
    for kind in ("skewed", "failed"):  # a recipe beside a steady one: row vs row is nearly the one-sample case
        for seeds in (3, 5):
            out.append(Cell("set level", f"row vs row, equal means, one row {kind}, the other steady (seed sd "
                            f"0.03), {seeds} seeds", "null",
                            _set_level([0.0, 0.0], seeds, [Noise(kind=kind), Noise(seed=0.03)], versus_gray=False)))
    return out


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def run_cell(cell: Cell, reps: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    k = sum(bool(cell.run(rng)) for _ in range(reps))
    lo, hi = wilson(k, reps)
    cell.results = {"k": k, "reps": reps, "rate": k / reps, "lo": lo, "hi": hi,
                    "seconds": time.perf_counter() - start}
    return cell.results


def table(done: list[Cell]) -> list[str]:
    lines = ["| verdict kind | scenario | truth | rate | 95% MC CI | reports |", "|---|---|---|---|---|---|"]
    for c in done:
        r = c.results
        flag = " **over 5%**" if c.truth == "null" and r["lo"] > 0.05 else ""
        lines.append(f"| {c.section} | {c.name} | {'no difference' if c.truth == 'null' else 'power'} | "
                     f"{r['rate']:.1%}{flag} | {r['lo']:.1%}–{r['hi']:.1%} | {r['reps']} |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=400, help="simulated reports per cell (curve cells: fewer, by "
                        "their cost)")
    parser.add_argument("--only", default="", help="run the cells whose section or name matches this regular "
                        "expression")
    parser.add_argument("--skip", default="", help="leave out the cells whose section or name matches this regular "
                        "expression (e.g. '1 seed' for the one-seed cells)")
    parser.add_argument("--workers", type=int, default=1, help="processes (cells run in parallel)")
    args = parser.parse_args(argv)
    chosen = [i for i, c in enumerate(cells()) if re.search(args.only, f"{c.section} {c.name}")
              and not (args.skip and re.search(args.skip, f"{c.section} {c.name}"))]
    jobs = [(i, args.reps) for i in chosen]
    if args.workers > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(args.workers) as pool:
            results = pool.map(_run_index, jobs, chunksize=1)
    else:
        results = [_run_index(j) for j in jobs]
    done = []
    for c, r in zip([cells()[i] for i in chosen], results, strict=True):
        c.results = r
        done.append(c)
    print("\n".join(table(done)))
    return 0


def _run_index(job: tuple[int, int]) -> dict[str, Any]:
    """Cell ``index`` (its own Monte Carlo seed) at ``reps`` reports, fewer for costly cells (at least 50)."""
    index, reps = job
    c = cells()[index]
    r = run_cell(c, max(50, int(reps / max(1.0, c.cost / 2))), seed=index)
    print(f"{c.section} | {c.name}: {r['rate']:.1%} ({r['seconds']:.0f} s)", file=sys.stderr, flush=True)
    return r


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
