"""Checks on rendered images, for tests of pictures: size, colours, background.

A picture is "not blank" when the drawn shape covers a fair part of it and a colour field shows
as many distinct colours; the background is where nothing is drawn.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

__all__ = ["ImageStats", "image_stats", "read_rgb"]


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """A PNG (or any image Pillow reads) as an (H, W, 3) uint8 array."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@dataclass
class ImageStats:
    """width, height : pixels. n_colors : distinct RGB colours among the non-background pixels.
    coverage : fraction of pixels that differ from the background. corners_background : True when
    the four corner pixels are background."""

    width: int
    height: int
    n_colors: int
    coverage: float
    corners_background: bool


def image_stats(image: str | os.PathLike | np.ndarray, *, background: tuple[int, int, int] = (255, 255, 255), tol: int = 8) -> ImageStats:
    """Size, number of distinct foreground colours and coverage of an image.

    Parameters
    ----------
    image : path or (H, W, 3) uint8
    background : RGB of the background. default: white
    tol : per-channel tolerance for "is background". default: 8
    """
    rgb = read_rgb(image) if not isinstance(image, np.ndarray) else image[..., :3]
    bg = np.all(np.abs(rgb.astype(np.int16) - np.asarray(background, dtype=np.int16)) <= tol, axis=-1)
    fg = rgb[~bg]
    n_colors = int(np.unique(fg.reshape(-1, 3), axis=0).shape[0]) if fg.size else 0
    corners = [bg[0, 0], bg[0, -1], bg[-1, 0], bg[-1, -1]]
    return ImageStats(rgb.shape[1], rgb.shape[0], n_colors, float(1.0 - bg.mean()), bool(all(corners)))
