"""A synthetic folder of many small colour photos, for runs over datasets larger than memory.

    python benchmarks/make_photo_folder.py OUT_DIR [--count 200000] [--min-side 32] [--max-side 48]

Writes OUT_DIR/NNN/NNNNNNN.jpg (1,000 per folder): smooth random colour fields (a 3×3 grid of random colours,
bicubic-upscaled, plus a little noise), each a size between min and max side, JPEG quality 90. ``--variants``
distinct photos are encoded (photo v from seed v) and file i holds variant i mod variants: writing 200,000
files then costs little more than creating them. Tiny on purpose: the number of photos is what is being
tested, not their content (200,000 photos: ~300 MB).
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image


def photo(i: int, min_side: int, max_side: int) -> Image.Image:
    rng = np.random.default_rng(i)
    h, w = (int(v) for v in rng.integers(min_side, max_side + 1, size=2))
    grid = rng.integers(0, 256, size=(3, 3, 3), dtype=np.uint8)
    img = np.asarray(Image.fromarray(grid).resize((w, h), Image.Resampling.BICUBIC), dtype=np.int16)
    img = img + rng.integers(-6, 7, size=img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--min-side", type=int, default=32)
    ap.add_argument("--max-side", type=int, default=48)
    ap.add_argument("--variants", type=int, default=2000, help="distinct photos encoded")
    ap.add_argument("--start", type=int, default=0, help="first photo number (to add to a folder)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    encoded = []
    for v in range(min(args.variants, args.count)):
        buf = io.BytesIO()
        photo(v, args.min_side, args.max_side).save(buf, format="JPEG", quality=90)
        encoded.append(buf.getvalue())
    for i in range(args.start, args.start + args.count):
        folder = args.out / f"{i // 1000:03d}"
        if i % 1000 == 0 or i == args.start:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:07d}.jpg").write_bytes(encoded[i % len(encoded)])
    print(f"{args.count} photos in {args.out} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
