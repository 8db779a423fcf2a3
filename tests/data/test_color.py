import numpy as np
import pytest
import torch
from skimage.color import lab2rgb, rgb2lab

from ganbench.data.color import lab_to_net, lab_to_rgb, lab_to_uint8, net_to_lab, rgb_to_lab, uint8_to_lab


@pytest.mark.parametrize("name", ["astronaut", "coffee", "flower"])
def test_rgb_to_lab_matches_skimage_on_photos(photos, name):
    img = photos[name]
    ours = uint8_to_lab(torch.from_numpy(img)[None])[0].permute(1, 2, 0).double().numpy()
    ref = rgb2lab(img)
    assert np.abs(ours - ref).max() < 0.01


def test_rgb_to_lab_matches_skimage_on_random_and_extreme_colours():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    img[0, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0],
                  [1, 1, 1], [10, 10, 11]]
    ours = uint8_to_lab(torch.from_numpy(img)[None])[0].permute(1, 2, 0).double().numpy()
    assert np.abs(ours - rgb2lab(img)).max() < 0.01


def test_lab_to_rgb_matches_skimage_including_out_of_gamut():
    rng = np.random.default_rng(1)
    lab = rng.uniform([0, -110, -110], [100, 110, 110], size=(24, 24, 3))
    ours = lab_to_rgb(torch.from_numpy(lab).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    with pytest.warns(UserWarning):  # skimage warns about the clipped negative Z values; so do we clip
        ref = lab2rgb(lab)
    assert np.abs(ours - ref).max() < 1e-6


@pytest.mark.parametrize("name", ["astronaut", "chelsea"])
def test_round_trip_within_one_level(photos, name):
    img = torch.from_numpy(photos[name])[None]
    back = lab_to_uint8(uint8_to_lab(img))
    assert (back.int() - img.int()).abs().max() <= 1


def test_network_scaling_round_trip_and_range(photos):
    lab = uint8_to_lab(torch.from_numpy(photos["coffee"])[None])
    L, ab = lab_to_net(lab)
    assert L.min() >= -1 and L.max() <= 1
    assert ab.abs().max() <= 1.0
    assert torch.allclose(net_to_lab(L, ab), lab, atol=1e-4)


def test_batched_and_float64():
    x = torch.rand(3, 3, 8, 8, dtype=torch.float64)
    lab = rgb_to_lab(x)
    assert lab.dtype == torch.float64 and lab.shape == x.shape
    assert torch.allclose(lab_to_rgb(lab), x, atol=1e-9)



def test_lab_to_uint8_rounds_to_the_nearest_level():
    """uint8 -> Lab -> uint8 is exact for every level of every channel (the float error is far below half a
    level, so rounding recovers it; truncation loses a level about half the time), and colours between two
    levels go to the nearer one."""
    levels = torch.arange(256, dtype=torch.uint8)
    img = torch.stack([levels, levels.roll(85), levels.roll(170)], -1).reshape(1, 16, 16, 3)
    assert torch.equal(lab_to_uint8(uint8_to_lab(img)), img)
    k = torch.arange(10, 240, 7, dtype=torch.float64)
    for frac, expected in ((0.3, k), (0.7, k + 1)):
        rgb = ((k + frac) / 255).view(1, 1, 1, -1).expand(1, 3, 1, -1)  # gray levels k + frac
        out = lab_to_uint8(rgb_to_lab(rgb))[0, 0]
        assert out.tolist() == [[v] * 3 for v in expected.int().tolist()], frac
