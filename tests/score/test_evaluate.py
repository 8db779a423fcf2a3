"""What is scored (``ganbench/score/evaluate.py``): the colourized test photos against a hand computation, in
batches or not, in the precision asked for, and the gray baseline really gray with the photo's lightness.
Written from the survivors of a mutation run of the module (docs/mutation.md)."""

import pytest
import torch
from torch import nn

from ganbench.data.color import lab_to_net, lab_to_uint8, net_to_lab, uint8_to_lab
from ganbench.score.evaluate import colorize_uint8, gray_uint8


class _FromLightness(nn.Module):
    """ab from L by a fixed random 3x3 convolution: a = 2 sin(4c), b = -a, so that part of it falls outside
    [-1, 1] on either side where the colour is not saturated (the colourizer clips there, and either bound
    changes pixels). Records whether gradients were enabled and its mode at each call."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.calls = []

    def forward(self, L):
        self.calls.append((torch.is_grad_enabled(), self.training, L.shape[0]))
        a = 2 * torch.sin(4 * self.conv(L)[:, :1])
        return torch.cat([a, -a], 1)


def _photos(photos, n=5, size=24):
    names = ["astronaut", "coffee", "chelsea", "flower", "astronaut"][:n]
    return torch.stack([torch.from_numpy(photos[name][40 * i:40 * i + size, :size].copy())
                        for i, name in enumerate(names)])


def _by_hand(gen, images):
    L, _ = lab_to_net(uint8_to_lab(images))
    with torch.no_grad():
        ab = gen(L)
    want = lab_to_uint8(net_to_lab(L, ab.clamp(-1, 1)))
    for low, high in ((-2, 1), (-1, 2)):  # either bound of the clip moves pixels by more than a level here
        assert _levels(want, lab_to_uint8(net_to_lab(L, ab.clamp(low, high)))) > 1
    return want


def _levels(a, b):
    """The largest difference between two uint8 images, in levels. Comparisons allow one: the convolution
    library may pick another kernel for another batch size, and a last-bit difference can round a value to
    the next level."""
    return int((a.int() - b.int()).abs().max())


@pytest.mark.parametrize("batch_size", [1, 2, 64])
def test_colorize_equals_the_hand_computation_in_any_batch_size(photos, batch_size):
    """L kept, the generator's ab clipped to [-1, 1], back to uint8 RGB: every photo, in order, whatever
    the batch size; gradients off and the generator in eval mode while it colours, its mode put back."""
    gen = _FromLightness().train()
    images = _photos(photos)
    want = _by_hand(gen, images)
    gen.calls.clear()
    got = colorize_uint8(gen, images, torch.device("cpu"), batch_size=batch_size)
    assert got.dtype == torch.uint8 and got.shape == want.shape and _levels(got, want) <= 1
    assert [rows for _, _, rows in gen.calls] == [min(batch_size, 5 - i) for i in range(0, 5, batch_size)]
    assert not any(grad or training for grad, training, _ in gen.calls)
    assert gen.training


def test_colorize_no_photos_gives_no_photos():
    empty = torch.zeros(0, 8, 8, 3, dtype=torch.uint8)
    assert colorize_uint8(_FromLightness(), empty, torch.device("cpu")).shape == (0, 8, 8, 3)


def test_colorize_runs_in_the_precision_asked_for(photos):
    """No autocast dtype: fp32, the hand computation's (fp32) result. bf16: the generator runs in bf16,
    which moves some pixels (so the precision really changed), on average by far less than a level."""
    gen, images = _FromLightness(), _photos(photos)
    want = _by_hand(gen, images)
    fp32 = colorize_uint8(gen, images, torch.device("cpu"))
    assert _levels(fp32, want) <= 1
    bf16 = colorize_uint8(gen, images, torch.device("cpu"), autocast_dtype=torch.bfloat16)
    moved = (bf16.int() - fp32.int()).abs().float()
    assert (moved > 1).any()  # more than the one level a kernel choice could explain
    assert moved.mean() < 0.5  # the same picture, in another precision


def test_the_gray_baseline_is_gray_with_the_photos_lightness(photos):
    """a = b = 0: every pixel's R, G and B within one level of each other, and the lightness the photo's
    (to the rounding of uint8)."""
    images = _photos(photos)
    gray = gray_uint8(images)
    assert gray.shape == images.shape and gray.dtype == torch.uint8
    spread = gray.int().amax(-1) - gray.int().amin(-1)
    assert spread.max() <= 1
    L_in, L_out = uint8_to_lab(images)[:, 0], uint8_to_lab(gray)[:, 0]
    assert (L_in - L_out).abs().max() < 0.5  # L in 0..100; one uint8 level moves it by about 0.4
    assert images.int().amax(-1).sub(images.int().amin(-1)).float().mean() > 20  # the photos had colour
