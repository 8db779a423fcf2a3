"""The significance lines word for word, and the rules of ``decide`` at their boundaries: the report's readers
act on these sentences, so a flipped plural, a mislabelled side or a rule off by one photo is a bug here.
(The statistics behind them are in test_stats*.py; the report-level checks in tests/report/test_report.py.)"""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from ganbench.score.stats import ALPHA
from ganbench.score.verdicts import MIN_PHOTOS, MetricInfo, compare_rows, decide, line, photo_matrix


def _test(**kw):
    t = dict(model="m", versus="gray", metric="psnr", unit="dB", higher_is_better=True, mean_diff=0.5,
             ci_low=0.1, ci_high=0.9, se=0.2, p=0.02, p_holm=0.04, n_photos=8, seeds_a=3, seeds_b=None,
             seed_variation=True, n_above=6, n_below=2, n_tied=0, untested="", claim="recipe")
    t.update(kw)
    return t


def _decided(**kw):
    [t] = decide([_test(**kw)])
    return t


def test_a_line_against_gray_word_for_word():
    t = _decided(p=0.0004)
    assert line(t) == ("m − gray (psnr, dB): +0.5 [95% CI +0.1, +0.9], p = 0.0004, Holm p = 0.0004: significant, "
                       "m is better. 3 seeds, 8 test photos; photo counts (no test): m better on 6, worse on 2, "
                       "tied on 0.")


def test_one_seed_and_one_photo_are_singular_and_say_what_the_test_leaves_out():
    t = _decided(seeds_a=1, seed_variation=False, n_photos=1, n_above=1, n_below=0, p=0.5, claim="generator")
    assert "about these trained generators, not their recipes: a recipe-level verdict needs 3 seeds" in line(t)
    assert "1 seed, 1 test photo; photo counts (no test): m better on 1" in line(t)
    t = _decided(seeds_a=2, n_photos=2, n_above=2, n_below=0, p=0.5)
    assert "2 seeds, 2 test photos; photo counts (no test): m better on 2" in line(t)


@pytest.mark.parametrize(("versus", "seeds_a", "seeds_b", "text"), [
    ("wgan", 1, 2, "m 1 seed, wgan 2 seeds, 8 test photos"),  # a name after "gray" in the alphabet
    ("dcgan", 2, 1, "m 2 seeds, dcgan 1 seed, 8 test photos"),  # and one before it
    ("l1", 0, 0, "m 0 seeds, l1 0 seeds"),
])
def test_model_against_model_names_both_seed_counts(versus, seeds_a, seeds_b, text):
    assert text in line(_decided(versus=versus, seeds_a=seeds_a, seeds_b=seeds_b))


@pytest.mark.parametrize(("p", "text"), [(0.0009, "0.0009"), (0.001, "0.001"), (0.5, "0.500"), (1.0, "1.000"),
                                         (0.0, "0")])
def test_p_values_are_written_with_three_decimals_or_two_significant_digits_below_a_thousandth(p, text):
    assert f"p = {text}, " in line(_decided(p=p, p_holm=1.0))


def test_exactly_min_photos_can_be_significant_and_one_fewer_cannot():
    assert MIN_PHOTOS == 5
    at, below = _decided(n_photos=5, p_holm=1e-6), _decided(n_photos=4, p_holm=1e-6)
    assert at["significant"] and not below["significant"]
    assert "not significant (fewer than 5 test photos)" in line(below)
    five = _decided(n_photos=5, p=0.2)
    assert "Holm p = 0.200: not significant. 3 seeds" in line(five)  # the photo rule is not the reason here


def test_significance_needs_a_holm_p_strictly_below_alpha():
    [t] = decide([{**_test(), "p": ALPHA}])  # one test: Holm p = p
    assert t["p_holm"] == ALPHA and not t["significant"]
    [t] = decide([{**_test(), "p": np.nextafter(ALPHA, 0)}])
    assert t["significant"]


@pytest.mark.parametrize(("higher", "diff", "better"), [(True, 0.5, "m"), (True, -0.5, "gray"),
                                                         (False, 0.5, "gray"), (False, -0.5, "m")])
def test_the_better_side_follows_the_sign_and_the_metrics_direction(higher, diff, better):
    t = decide([{**_test(higher_is_better=higher, mean_diff=diff), "p": 1e-6}])[0]
    assert t["better"] == better and f"significant, {better} is better" in line(t)


@pytest.mark.parametrize(("better_on", "worse_on", "note"), [(2, 6, True), (4, 4, False), (6, 2, False)])
@pytest.mark.parametrize("versus", ["aaa", "zzz"])  # names before and after the model's in the alphabet
def test_the_few_photos_note_counts_photos_for_the_side_the_mean_favours(better_on, worse_on, note, versus):
    # the versus side better on average: the note is about it, counting photos from its side
    t = decide([{**_test(versus=versus, mean_diff=-0.5, n_above=worse_on, n_below=better_on), "p": 1e-6}])[0]
    assert t["better"] == versus
    text = line(t)
    assert ("Note: the mean favours " + versus in text) == note
    if note:
        assert f"({better_on} vs {worse_on})" in text


def test_metric_info_defaults_and_is_frozen():
    info = MetricInfo("x")
    assert info.higher_is_better is True and info.reference_free is False and info.unit == ""
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "y"


def _frames(model_scores, gray_scores, metric="psnr"):
    keys = [f"p{i}#center" for i in range(len(model_scores))]
    return {0: pd.DataFrame({"image": keys, f"model_{metric}": model_scores, f"gray_{metric}": gray_scores})}


def test_a_reference_free_metric_listed_first_does_not_hide_the_others():
    rows = {"m": _frames(np.arange(8.0) + 1, np.arange(8.0))}
    tests = compare_rows(rows, [MetricInfo("colorfulness", reference_free=True), MetricInfo("psnr")])
    assert [(t["metric"], t["versus"]) for t in tests] == [("psnr", "gray")]
    assert tests[0]["mean_diff"] == pytest.approx(1.0)


def test_a_non_finite_score_is_named_by_its_first_photo():
    frame = _frames([1.0, np.inf, np.nan], [0.0, 0.0, 0.0])[0]
    with pytest.raises(ValueError, match=r"seed 0 has a non-finite model_psnr \(inf\) on p1#center"):
        photo_matrix({0: frame}, "model_psnr")


def test_not_significant_with_enough_photos_gives_no_photo_reason():
    for n in (5, 8, 126):
        text = line(_decided(n_photos=n, p=0.2))
        assert f"Holm p = 0.200: not significant. 3 seeds, {n} test photos" in text


def test_gray_is_recognised_by_value_not_by_identity():
    versus = "".join(["gr", "ay"])  # e.g. read back from report.json: equal to "gray", not the same object
    assert "3 seeds, 8 test photos" in line(_decided(versus=versus))
