"""Picture helpers: sample grids with column titles, and plots written as PNG files."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ganbench.store.results import atomic_write_bytes


def grid(columns: dict[str, np.ndarray], min_cell: int = 128, pad: int = 4) -> Image.Image:
    """``columns``: title -> uint8 (N, H, W, 3). One row per image, one column per title."""
    titles = list(columns)
    n, h, w, _ = next(iter(columns.values())).shape
    scale = max(1, -(-min_cell // max(h, w)))
    ch, cw = h * scale, w * scale
    header = 18
    canvas = Image.new("RGB", (len(titles) * (cw + pad) + pad, header + n * (ch + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for c, title in enumerate(titles):
        x = pad + c * (cw + pad)
        draw.text((x + 2, 3), title[: max(4, cw // 7)], fill=(0, 0, 0))
        for r in range(n):
            cell = Image.fromarray(np.ascontiguousarray(columns[title][r]))
            if scale > 1:
                cell = cell.resize((cw, ch), Image.Resampling.NEAREST)
            canvas.paste(cell, (x, header + pad + r * (ch + pad)))
    return canvas


def save_png(image: Image.Image, path: Path) -> None:
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    atomic_write_bytes(Path(path), buf.getvalue())


def save_plot(fig: Any, path: Path, dpi: int = 90, top: float = 1.0) -> None:
    """A matplotlib figure laid out, written atomically as a PNG, and closed (its memory freed). ``top``: the
    fraction of the height the axes may use (below a suptitle, which tight_layout does not make room for)."""
    import matplotlib.pyplot as plt

    fig.tight_layout(rect=(0.0, 0.0, 1.0, top))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
