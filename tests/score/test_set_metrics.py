"""Set-level metrics: the built-ins (ab-swd, delta-cf) against hand computations and scipy/scikit-image, and
how the core calls a set-level metric (reset, update on batches, compute; model, gray, the truth's halves)."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import wasserstein_distance

from ganbench.api import SetMetric
from ganbench.score.evaluate import (
    gray_uint8,
    score,
    score_set,
    score_sets,
    set_reference_scores,
    split_halves,
)
from ganbench_plugins.metrics import (
    AB_BIN,
    AB_BINS,
    AB_EDGE,
    SWD_DIRECTIONS,
    ABSlicedWasserstein,
    DeltaColorfulness,
    ab_histogram,
    bin_centres,
    sliced_w1,
    w1_1d,
)


def _photos(n=6, size=32, seed=0):
    import skimage.data

    rng = np.random.default_rng(seed)
    srcs = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea()]
    out = []
    for i in range(n):
        img = srcs[i % 3]
        y, x = rng.integers(0, 200, 2)
        out.append(img[y : y + size, x : x + size])
    return torch.from_numpy(np.stack(out)).contiguous()


def test_w1_on_a_line_equals_scipy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=40)
    p, q = rng.random(40), rng.random(40)
    p, q = p / p.sum(), q / q.sum()
    assert w1_1d(x, p, q) == pytest.approx(wasserstein_distance(x, x, p, q), abs=1e-12)


def test_sliced_w1_of_two_single_colours_by_hand():
    # all mass in one bin against all mass 5 bins (10 ab units) further along a: on direction θ the projections
    # are 10·|cos θ| apart; the mean over θ_k = kπ/K of |cos θ_k| is cot(π / 2K) / K for even K
    p, q = np.zeros((AB_BINS, AB_BINS)), np.zeros((AB_BINS, AB_BINS))
    p[64, 64], q[69, 64] = 1.0, 1.0
    expected = 10.0 * (1.0 / math.tan(math.pi / (2 * SWD_DIRECTIONS))) / SWD_DIRECTIONS
    assert sliced_w1(p, q, bin_centres()) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(10 * 2 / math.pi, rel=1e-3)  # the continuous mean of |cos|
    assert sliced_w1(p, p, bin_centres()) == 0.0
    assert sliced_w1(p, q, bin_centres()) == pytest.approx(sliced_w1(q, p, bin_centres()))


def test_ab_histogram_matches_skimage_lab_and_numpy_histogram():
    from skimage.color import rgb2lab

    imgs = _photos()
    lab = rgb2lab(imgs.numpy())
    edges = np.arange(-AB_EDGE, AB_EDGE + AB_BIN, AB_BIN)
    ref, _, _ = np.histogram2d(np.clip(lab[..., 1].ravel(), -128, 127.999), np.clip(lab[..., 2].ravel(), -128, 127.999),
                               bins=[edges, edges])
    ours = ab_histogram(imgs)
    assert ours.sum() == imgs.shape[0] * 32 * 32
    # float32 Lab puts at most a few pixels that sit on a bin edge in the neighbouring bin
    assert np.abs(ours - ref).sum() <= 0.002 * ours.sum()


def test_ab_swd_end_to_end_equals_the_reference_and_does_not_depend_on_batches():
    from skimage.color import rgb2lab

    pred, truth = gray_uint8(_photos()), _photos()
    metric = ABSlicedWasserstein()
    whole = score_set(metric, pred, truth)
    metric.batch_size = 1
    assert score_set(metric, pred, truth) == pytest.approx(whole, rel=1e-12)
    # reference: skimage's Lab, numpy's histogram, scipy's 1-D W1 per direction
    edges = np.arange(-AB_EDGE, AB_EDGE + AB_BIN, AB_BIN)

    def hist(x):
        lab = rgb2lab(x.numpy())
        return np.histogram2d(lab[..., 1].ravel(), lab[..., 2].ravel(), bins=[edges, edges])[0].ravel()

    hp, hq, c = hist(pred), hist(truth), bin_centres()
    ref = np.mean([wasserstein_distance(c @ [math.cos(t), math.sin(t)], c @ [math.cos(t), math.sin(t)], hp, hq)
                   for t in np.pi * np.arange(SWD_DIRECTIONS) / SWD_DIRECTIONS])
    assert whole == pytest.approx(ref, rel=0.01)
    assert whole > 1.0 and score_set(metric, truth, truth) == 0.0


def test_delta_cf_by_hand():
    red = torch.zeros(2, 16, 16, 3, dtype=torch.uint8)
    red[..., 0] = 255
    mid = torch.full((2, 16, 16, 3), 128, dtype=torch.uint8)
    # solid colours: σ = 0, so M = 0.3·sqrt(μ_rg² + μ_yb²); red: rg = 255, yb = 127.5; gray: 0
    cf_red = 0.3 * math.sqrt(255.0**2 + 127.5**2)
    m = DeltaColorfulness()
    assert score_set(m, red, mid) == pytest.approx(cf_red, rel=1e-12)
    assert score_set(m, mid, red) == pytest.approx(-cf_red, rel=1e-12)
    # a set's colourfulness is the mean over its images: one red and one gray image against two gray
    assert score_set(m, torch.cat([red[:1], mid[:1]]), mid) == pytest.approx(cf_red / 2, rel=1e-12)
    assert m.tested is False and m.level == "set"


def test_split_halves_alternate_photos_and_keep_crops_together():
    keys = ["a.png#center", "a.png#q0", "b.png#center", "b.png#q0", "c#1.png#center", "c#1.png#q0",
            "d.png#center", "d.png#q0", "e.png#center", "e.png#q0"]
    a, b = split_halves(keys)
    assert a == [0, 1, 4, 5] and b == [2, 3, 6, 7]  # e is left out: an odd photo


class Recorder(SetMetric):
    name, higher_is_better, split_half, batch_size = "recorder", False, True, 4

    def __init__(self):
        self.calls = []

    def reset(self):
        self.calls.append(("reset",))
        self.n = 0

    def update(self, pred, target):
        assert pred.dtype == torch.uint8 and pred.shape == target.shape and pred.shape[1:] == (32, 32, 3)
        self.calls.append(("update", pred.shape[0], float(pred.double().mean()), float(target.double().mean())))
        self.n += pred.shape[0]

    def compute(self):
        self.calls.append(("compute",))
        return float(self.n)


def test_the_core_calls_reset_update_in_batches_compute_for_each_set():
    photos = _photos(n=10)
    keys = [f"p{i}.png#center" for i in range(10)]
    m = Recorder()
    assert score_sets({"recorder": m}, photos, photos) == {"recorder": 10.0}
    assert [c[0] for c in m.calls] == ["reset", "update", "update", "update", "compute"]
    assert [c[1] for c in m.calls if c[0] == "update"] == [4, 4, 2]
    m.calls.clear()
    refs = set_reference_scores({"recorder": m}, photos, keys)
    assert refs["gray"] == {"recorder": 10.0} and refs["truth"] == {"recorder": 5.0}
    assert refs["n_images"] == 10 and refs["n_split_half"] == 5
    updates = [c for c in m.calls if c[0] == "update"]
    gray_mean = float(gray_uint8(photos[:4]).double().mean())
    assert updates[0][2] == pytest.approx(gray_mean)  # the gray baseline as pred, the photos as target
    assert updates[3][2] == pytest.approx(float(photos[[0, 2, 4, 6]].double().mean()))  # even photos vs odd
    assert updates[3][3] == pytest.approx(float(photos[[1, 3, 5, 7]].double().mean()))
    # per-image scoring leaves a set-level metric alone
    assert score({"recorder": m}, photos, photos) == {}
