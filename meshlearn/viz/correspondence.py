"""Show a correspondence by colour transfer: the template coloured by position, the target by the
colour of its matched template vertex.

Letters: V template vertices, W target vertices.

A correspondence is a map ``match`` of shape (W,) int: target vertex j corresponds to template
vertex ``match[j]``. Where the map is right, the target shows the same smooth colour gradient as
the template; errors show as patches of the wrong colour.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from .compare import plot_shapes
from .errors import FeatureError
from .render import as_shape

__all__ = ["position_colors", "transfer_colors", "plot_correspondence"]

_UNMATCHED = 128  # grey for target vertices without a match


def position_colors(verts: Any, *, saturation: float = 1.8) -> np.ndarray:
    """A smooth, vivid colour per point from its position.

    Each coordinate, rescaled to [0, 1] over the bounding box, gives one of red, green, blue
    (``t``); the colour is then pushed away from grey, ``g + saturation * (t - g)`` with ``g`` the
    mean of the three (clipped to [0, 1]), and mapped to [0.12, 0.95] so that shading stays
    readable. Every step is continuous, so nearby points get nearby colours.

    Parameters
    ----------
    verts : (V, 3) float
    saturation : float
        How far colours are pushed from grey (1 = plain normalised xyz). default: 1.8

    Returns
    -------
    (V, 3) uint8
    """
    v = np.asarray(verts, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3:
        raise FeatureError(f"verts must be (V, 3) (got {v.shape})")
    lo, hi = v.min(0), v.max(0)
    t = (v - lo) / np.where(hi > lo, hi - lo, 1.0)
    g = t.mean(1, keepdims=True)
    c = np.clip(g + saturation * (t - g), 0.0, 1.0)
    return np.round(255 * (0.12 + 0.83 * c)).astype(np.uint8)


def transfer_colors(template_colors: Any, match: Any) -> np.ndarray:
    """Colour of each target vertex = colour of its matched template vertex.

    Parameters
    ----------
    template_colors : (V, 3) uint8
    match : (W,) int
        Template vertex index for each target vertex, in [0, V); negative = no match (grey).

    Returns
    -------
    (W, 3) uint8
    """
    colors = np.asarray(template_colors)
    m = np.asarray(match)
    if m.ndim != 1 or not np.issubdtype(m.dtype, np.integer):
        raise FeatureError(f"match must be (W,) integer template-vertex indices (got dtype {m.dtype}, shape {m.shape})")
    if m.size and m.max() >= colors.shape[0]:
        raise FeatureError(
            f"match refers to template vertex {int(m.max())} but the template has {colors.shape[0]} vertices; "
            "was the correspondence computed against another template?"
        )
    out = np.full((m.size, colors.shape[1]), _UNMATCHED, dtype=colors.dtype)
    known = m >= 0
    out[known] = colors[m[known]]
    return out


def plot_correspondence(
    template: Any,
    target: Any,
    match: Any,
    *,
    titles: Sequence[str] = ("template", "target"),
    link_cameras: bool = True,
    view: str | None = None,
    zoom: float = 1.0,
    size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
) -> Any:
    """Template and target side by side, the target coloured through the correspondence.

    Parameters
    ----------
    template : Shape (V vertices)
    target : Shape (W vertices)
    match : (W,) int
        Template vertex of each target vertex; negative = unknown (drawn grey).
    titles : (str, str)
    link_cameras : bool
        default: True
    view, zoom, size, screenshot
        As in :func:`meshlearn.viz.plot_scalars`. default size: (800, 400)

    Returns
    -------
    pyvista.Plotter, or the PNG's Path when ``screenshot`` is given.
    """
    template, target = as_shape(template), as_shape(target)
    m = np.asarray(match)
    if m.shape != (target.n_verts,):
        raise FeatureError(
            f"{target.source or target.name}: match must have one template index per target vertex, "
            f"({target.n_verts},) (got {m.shape})"
        )
    tcol = position_colors(template.verts)
    return plot_shapes(
        [template, target], colors=[tcol, transfer_colors(tcol, m)], titles=list(titles),
        link_cameras=link_cameras, view=view, zoom=zoom, size=size, screenshot=screenshot,
    )
