"""ganbench colorize: full resolution, the input's L kept, bad files reported, foreign checkpoints refused."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from skimage.color import rgb2lab

from ganbench.cli import cli
from ganbench.core.request import RunRequest
from ganbench.grid.in_process import run_comparison


@pytest.fixture(scope="module")
def trained(tmp_path_factory, registry):
    results = tmp_path_factory.mktemp("res")
    [outcome] = run_comparison(RunRequest(models=["dcgan"], budget="smoke", results=results, device="cpu"),
                               registry)
    return outcome.run_dir


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, photos):
    root = tmp_path_factory.mktemp("in")
    Image.fromarray(photos["astronaut"][:301, :207]).save(root / "odd.png")  # odd sizes
    Image.fromarray(photos["coffee"]).convert("L").save(root / "gray.jpg", quality=95)
    rot = Image.fromarray(photos["chelsea"][:200, :300])
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90° counter-clockwise on display
    rot.save(root / "rotated.jpg", exif=exif, quality=95)
    (root / "sub").mkdir()
    (root / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    Image.fromarray(photos["flower"][:99, :131]).save(root / "sub" / "flower.jpg", quality=95)
    return root


def _psnr(a, b, peak):
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(peak**2 / mse) if mse else float("inf")


def test_colorize_full_resolution_keeps_L(trained, inputs, tmp_path):
    out = CliRunner().invoke(cli, ["colorize", "--run", str(trained), str(inputs / "odd.png"),
                                   str(inputs / "rotated.jpg"), "-o", str(tmp_path), "-q"])
    assert out.exit_code == 0, out.output
    src = np.asarray(Image.open(inputs / "odd.png").convert("RGB"))
    res = np.asarray(Image.open(tmp_path / "odd.png"))
    assert res.shape == src.shape == (301, 207, 3)
    assert _psnr(rgb2lab(res)[..., 0], rgb2lab(src)[..., 0], 100.0) >= 40.0
    rotated = np.asarray(Image.open(tmp_path / "rotated.jpg"))
    assert rotated.shape[:2] == (300, 200)  # EXIF orientation applied


def test_colorize_folder_with_a_corrupt_file(trained, inputs, tmp_path):
    out = CliRunner().invoke(cli, ["colorize", "--run", str(trained), str(inputs), "-o", str(tmp_path),
                                   "--format", ".png", "--compare", "-q"])
    assert out.exit_code == 3  # documented: some inputs failed, the good ones are written
    assert "broken.jpg" in out.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["flower.png", "gray.png", "odd.png", "rotated.png"]
    side = np.asarray(Image.open(tmp_path / "flower.png"))
    assert side.shape == (99, 131 * 2 + 8, 3)  # input | output
    gray_out = np.asarray(Image.open(tmp_path / "gray.png"))
    assert gray_out.shape[2] == 3


def test_foreign_or_unsafe_checkpoints_are_refused(trained, tmp_path):
    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = trained / "evil.pt"
    torch.save({"w": Boom()}, evil)
    out = CliRunner().invoke(cli, ["colorize", "--checkpoint", str(evil), str(trained / "samples.png"),
                                   "-o", str(tmp_path)])
    assert out.exit_code == 5 and "refusing to load" in out.output and "pwned" not in out.output
    foreign = trained / "foreign.pt"
    torch.save({"conv.weight": torch.zeros(3, 3)}, foreign)
    out = CliRunner().invoke(cli, ["colorize", "--checkpoint", str(foreign), str(trained / "samples.png"),
                                   "-o", str(tmp_path)])
    assert out.exit_code == 5 and "does not match" in out.output
    evil.unlink()
    foreign.unlink()
    out = CliRunner().invoke(cli, ["colorize", "--run", str(tmp_path), "x.png", "-o", str(tmp_path)])
    assert out.exit_code == 5 and "not a ganbench run folder" in out.output


def test_batched_colorize_equals_one_at_a_time(registry, photos):
    """On a generator that colours (random weights, output layer scaled up: strong colours that depend on
    the image, unlike a briefly trained one, which is nearly gray), photos sharing a batch each get their own
    colours."""
    from ganbench.tools.colorize import colorize_batch

    torch.manual_seed(0)
    generator = registry.create("generator", "unet", depth=5, base_channels=8, zero_init_output=False).eval()
    with torch.no_grad():
        generator.ups[-1][1].weight.mul_(100)
    imgs = [photos["astronaut"][:120, :160], photos["coffee"][:120, :160], photos["chelsea"][:97, :203]]
    together = colorize_batch(generator, imgs, 32, torch.device("cpu"))  # the first two share a batch
    alone = [colorize_batch(generator, [im], 32, torch.device("cpu"))[0] for im in imgs]
    for a, b, im in zip(together, alone, imgs, strict=True):
        assert a.shape == im.shape and np.abs(a.astype(int) - b.astype(int)).max() <= 1
    ab = [rgb2lab(out)[..., 1:] for out in alone[:2]]
    assert min(float(np.abs(x).mean()) for x in ab) > 5  # really coloured (gray: 0)
    assert float(np.abs(ab[0] - ab[1]).mean()) > 5  # and differently: a mix-up would show
