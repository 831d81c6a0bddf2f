"""Draw a scalar field (typically a geodesic distance) with its isolines on a mesh.

Letters: V vertices.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError
from ..optional import require
from .errors import FeatureError
from .render import add_shape, as_shape, finish, frame_camera, make_plotter, to_polydata
from .scalars import robust_range

__all__ = ["isoline_levels", "isolines", "plot_isolines"]


def isoline_levels(values: Any, n: int) -> np.ndarray:
    """``n`` evenly spaced levels strictly inside the range of ``values`` (the ends excluded)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if n < 1:
        raise ConfigError(f"the number of isolines must be positive (got {n})")
    if v.size == 0 or v.max() <= v.min():
        return np.zeros(0)
    return np.linspace(v.min(), v.max(), n + 2)[1:-1]


def isolines(shape: Any, values: Any, levels: Any) -> Any:
    """The isolines of a per-vertex field as a pyvista line mesh (marching triangles).

    Parameters
    ----------
    shape : Shape (a mesh)
    values : (V,) float
    levels : (N,) float

    Returns
    -------
    pyvista.PolyData of line segments, with point array "level".
    """
    shape = as_shape(shape)
    poly = to_polydata(shape)
    poly.point_data["level"] = _vertex_values(shape, values)
    return poly.contour(isosurfaces=np.asarray(levels, dtype=np.float64), scalars="level")


def _vertex_values(shape: Any, values: Any) -> np.ndarray:
    """``values`` as (V,) float64, or a FeatureError naming the shape."""
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (shape.n_verts,):
        raise FeatureError(
            f"{shape.source or shape.name}: values must be one scalar per vertex, ({shape.n_verts},) (got {v.shape})"
        )
    return v


def plot_isolines(
    shape: Any,
    values: Any,
    *,
    n_lines: int = 16,
    levels: Any = None,
    cmap: str = "Spectral",
    clim: Sequence[float] | None = None,
    colorbar: bool = True,
    title: str = "distance",
    line_color: str = "black",
    line_width: float = 2.0,
    source: int | Sequence[int] | None = None,
    view: str | None = None,
    zoom: float = 1.0,
    size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
) -> Any:
    """Colour a mesh by a per-vertex field and draw its isolines (e.g. geodesic distance).

    Parameters
    ----------
    shape : Shape or path or (verts, faces)
        A triangle mesh (isolines need faces).
    values : (V,) float
    n_lines : int
        Number of evenly spaced isolines when ``levels`` is not given. default: 16
    levels : (N,) float, optional
        Explicit isoline values.
    cmap : str
        default: "Spectral" (red at the source through yellow to blue far away; light enough
        everywhere for dark isolines to show)
    clim, colorbar, title
        As in :func:`meshlearn.viz.plot_scalars`.
    line_color : str
        default: black
    line_width : float
        Pixels. default: 2.0
    source : int or list of int, optional
        Vertices to mark with a sphere (the sources of a distance).
    view, zoom, size, screenshot
        As in :func:`meshlearn.viz.plot_scalars`.

    Returns
    -------
    pyvista.Plotter, or the PNG's Path when ``screenshot`` is given.
    """
    shape = as_shape(shape)
    if not shape.is_mesh:
        raise FeatureError(
            f"{shape.source or shape.name}: isolines need a triangle mesh but this is a point cloud; "
            "use plot_scalars to colour the points by the field"
        )
    v = _vertex_values(shape, values)
    lv = isoline_levels(v, n_lines) if levels is None else np.asarray(levels, dtype=np.float64)
    plotter = make_plotter(size=size, screenshot=screenshot)
    add_shape(plotter, shape, scalars=v, cmap=cmap, clim=clim or robust_range(v, pct=0.0), name=title,
              colorbar=colorbar, colorbar_title=title)
    if lv.size:
        lines = isolines(shape, v, lv)
        if lines.n_points:
            plotter.add_mesh(lines, color=line_color, line_width=line_width, show_scalar_bar=False)
    if source is not None:
        pv = require("pyvista", "drawing isolines (meshlearn.viz)")

        src = np.atleast_1d(np.asarray(source, dtype=np.int64))
        bad = src[(src < 0) | (src >= shape.n_verts)]
        if bad.size:
            raise FeatureError(
                f"{shape.source or shape.name}: source vertex {int(bad[0])} is out of range; the shape has "
                f"{shape.n_verts} vertices (0 to {shape.n_verts - 1})"
            )
        r = 0.015 * shape.diameter()
        for i in src:
            plotter.add_mesh(pv.Sphere(radius=r, center=shape.verts[i]), color="#1f77b4", smooth_shading=True)
    frame_camera(plotter, view=view, zoom=zoom)
    return finish(plotter, screenshot)
