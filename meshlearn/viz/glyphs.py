"""Draw vector fields and tangent frames as arrows on a shape.

Letters: V vertices, F faces, N drawn arrows.

Frames follow meshlearn's convention: ``frames[i]`` is a (3, 3) array whose rows are the unit
vectors x, y, n of vertex i (right-handed, n the outward normal). Arrows are drawn at an evenly
spread subset of the vertices (one per cell of a regular grid) so that they do not overlap.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError
from ..optional import require
from .errors import FeatureError
from .render import add_shape, as_shape, finish, frame_camera, make_plotter

__all__ = ["spread_subset", "plot_vectors", "plot_frames"]

_FRAME_COLORS = ("#d62728", "#2ca02c", "#1f77b4")  # x red, y green, n blue


def spread_subset(verts: Any, n: int) -> np.ndarray:
    """About ``n`` vertex indices spread evenly over the shape (one per occupied grid cell).

    Parameters
    ----------
    verts : (V, 3) float
    n : int
        Wanted number of indices (at most V are returned).

    Returns
    -------
    (N,) int64, ascending. Deterministic: the vertex nearest each occupied cell's centre.
    """
    if int(n) < 1:
        raise ConfigError(f"the number of indices to spread must be positive (got {n!r})")
    verts = np.asarray(verts, dtype=np.float64)
    V = verts.shape[0]
    if n >= V:
        return np.arange(V)
    lo, hi = verts.min(0), verts.max(0)
    extent = np.maximum(hi - lo, 1e-12)
    # A surface fills a 2D subset of its box: choose the cell size so that about n cells are occupied.
    cell = float(np.sqrt(np.sort(extent)[1:].prod() / max(n, 1))) if np.count_nonzero(extent > 1e-9) >= 2 else float(extent.max() / n)
    chosen = np.arange(V)
    for _ in range(12):
        keys = np.floor((verts - lo) / cell).astype(np.int64)
        centre = lo + (keys + 0.5) * cell
        d = np.linalg.norm(verts - centre, axis=1)
        order = np.lexsort((d, keys[:, 2], keys[:, 1], keys[:, 0]))
        k = keys[order]
        first = np.ones(V, dtype=bool)
        first[1:] = np.any(k[1:] != k[:-1], axis=1)
        chosen = np.sort(order[first])
        ratio = chosen.size / n
        if 0.8 <= ratio <= 1.25:
            break
        cell *= ratio**0.5
    return chosen


def _check_max_arrows(max_arrows: int) -> int:
    if int(max_arrows) < 1:
        raise ConfigError(f"max_arrows must be a positive integer (got {max_arrows!r})")
    return int(max_arrows)


def _arrow_sites(shape: Any, max_arrows: int, length: float | None) -> tuple[np.ndarray, float]:
    """The vertices that carry arrows (at most about ``max_arrows``, spread evenly) and the arrow
    length: ``length``, or by default :func:`_arrow_length` for that many arrows."""
    idx = spread_subset(shape.verts, _check_max_arrows(max_arrows))
    return idx, length if length is not None else _arrow_length(shape, idx.size)


def _arrow_length(shape: Any, n_arrows: int) -> float:
    """About 60% of the spacing between drawn arrows."""
    if shape.is_mesh:
        area = shape.area()
    else:
        ext = np.sort(np.ptp(shape.verts, axis=0))
        area = float(ext[1] * ext[2]) or 1.0
    return 0.6 * float(np.sqrt(area / max(n_arrows, 1)))


def _arrows(points: np.ndarray, directions: np.ndarray, length: float) -> Any:
    pv = require("pyvista", "drawing arrows (meshlearn.viz)")

    cloud = pv.PolyData(points)
    cloud["dir"] = directions
    norms = np.linalg.norm(directions, axis=1)
    cloud["len"] = norms / max(float(norms.max()), 1e-300)
    geom = pv.Arrow(tip_length=0.3, tip_radius=0.1, shaft_radius=0.035)
    return cloud.glyph(orient="dir", scale="len", factor=length, geom=geom)


def plot_vectors(
    shape: Any,
    vectors: Any,
    *,
    max_arrows: int = 400,
    length: float | None = None,
    color: str = "#d62728",
    surface_scalars: Any = None,
    cmap: str | None = None,
    view: str | None = None,
    zoom: float = 1.0,
    size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
) -> Any:
    """Draw a per-vertex vector field as arrows on the (grey or coloured) surface.

    Parameters
    ----------
    shape : Shape or path or (verts, faces)
    vectors : (V, 3) float
        One vector per vertex, in world coordinates. Arrow length is proportional to the vector's
        norm, the longest drawn ``length`` long.
    max_arrows : int
        Draw at most about this many arrows, spread evenly. default: 400
    length : float, optional
        Length of the longest arrow in world units. default: 60% of the spacing between arrows
    color : str
        Arrow colour. default: red
    surface_scalars : (V,) float, optional
        Colour the surface by this field (e.g. the function whose gradient is drawn).
    cmap, view, zoom, size, screenshot
        As in :func:`meshlearn.viz.plot_scalars`.

    Returns
    -------
    pyvista.Plotter, or the PNG's Path when ``screenshot`` is given.
    """
    shape = as_shape(shape)
    vec = np.asarray(vectors, dtype=np.float64)
    if vec.shape != (shape.n_verts, 3):
        raise FeatureError(
            f"{shape.source or shape.name}: vectors must be (V, 3) = ({shape.n_verts}, 3) world-space vectors "
            f"(got {vec.shape}); for tangent (V, 2) coefficients multiply by the frames' x and y rows first"
        )
    idx, L = _arrow_sites(shape, max_arrows, length)
    plotter = make_plotter(size=size, screenshot=screenshot)
    if surface_scalars is not None:
        s = np.asarray(surface_scalars, dtype=np.float64)
        if s.shape != (shape.n_verts,):
            raise FeatureError(f"surface_scalars must be (V,) = ({shape.n_verts},) (got {s.shape})")
        add_shape(plotter, shape, scalars=s, cmap=cmap, colorbar=False, name="surface")
    else:
        add_shape(plotter, shape)
    plotter.add_mesh(_arrows(shape.verts[idx], vec[idx], L), color=color, smooth_shading=True)
    frame_camera(plotter, view=view, zoom=zoom)
    return finish(plotter, screenshot)


def plot_frames(
    shape: Any,
    frames: Any,
    *,
    max_arrows: int = 120,
    length: float | None = None,
    axes: str = "xyn",
    view: str | None = None,
    zoom: float = 1.0,
    size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
) -> Any:
    """Draw tangent frames: x in red, y in green, the normal n in blue.

    Parameters
    ----------
    shape : Shape or path or (verts, faces)
    frames : (V, 3, 3) float
        Rows x, y, n of each vertex's right-handed frame (meshlearn's convention).
    max_arrows : int
        Frames drawn at about this many vertices, spread evenly. default: 120
    length : float, optional
        Arrow length in world units. default: 60% of the spacing between drawn frames
    axes : str
        Which of "x", "y", "n" to draw. default: "xyn"
    view, zoom, size, screenshot
        As in :func:`meshlearn.viz.plot_scalars`.

    Returns
    -------
    pyvista.Plotter, or the PNG's Path when ``screenshot`` is given.
    """
    shape = as_shape(shape)
    fr = np.asarray(frames, dtype=np.float64)
    if fr.shape != (shape.n_verts, 3, 3):
        raise FeatureError(
            f"{shape.source or shape.name}: frames must be (V, 3, 3) = ({shape.n_verts}, 3, 3) with rows x, y, n "
            f"(got {fr.shape})"
        )
    if not axes or set(axes) - set("xyn"):
        raise ConfigError(f"axes must be made of the letters x, y, n (got {axes!r})")
    idx, L = _arrow_sites(shape, max_arrows, length)
    plotter = make_plotter(size=size, screenshot=screenshot)
    add_shape(plotter, shape)
    for row, letter in enumerate("xyn"):
        if letter in axes:
            plotter.add_mesh(_arrows(shape.verts[idx], fr[idx, row], L), color=_FRAME_COLORS[row], smooth_shading=True)
    frame_camera(plotter, view=view, zoom=zoom)
    return finish(plotter, screenshot)
