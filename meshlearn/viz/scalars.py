"""Draw one scalar field (per vertex or per face) on a shape with a colormap and a colour bar.

Letters: V vertices, F faces.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from .errors import FeatureError
from .render import add_shape, as_shape, finish, frame_camera, make_plotter, per_element

__all__ = ["plot_scalars", "robust_range", "scalar_style"]


def robust_range(values: np.ndarray, *, symmetric: bool = False, pct: float = 1.0) -> tuple[float, float]:
    """A colour range that ignores the most extreme ``pct`` percent at each end.

    With ``symmetric=True`` the range is centred on zero (for signed fields such as eigenfunctions
    or mean curvature, drawn with a diverging colormap).
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [pct, 100.0 - pct])
    if symmetric:
        m = max(abs(lo), abs(hi)) or 1.0
        return -float(m), float(m)
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0) * 1e-6
    return float(lo), float(hi)


def scalar_style(
    values: Any, *, cmap: str | None = None, clim: Sequence[float] | None = None
) -> tuple[str, Sequence[float]]:
    """The colormap and colour range to draw ``values`` (any shape, NaNs ignored) with.

    A field taking both signs gets the diverging "RdBu_r" and a range centred on zero (unless a
    ``cmap`` is given, which keeps the plain range), any other "viridis"; the range is
    :func:`robust_range`'s. A given ``cmap`` or ``clim`` is kept as it is.
    """
    v = np.asarray(values, dtype=np.float64)
    signed = bool(np.nanmin(v) < 0 < np.nanmax(v)) if np.isfinite(v).any() else False
    if clim is None:
        clim = robust_range(v, symmetric=signed and cmap is None)
    return cmap or ("RdBu_r" if signed else "viridis"), clim


def plot_scalars(
    shape: Any,
    values: Any,
    *,
    cmap: str | None = None,
    clim: Sequence[float] | None = None,
    colorbar: bool = True,
    title: str = "",
    location: str = "auto",
    view: str | None = None,
    zoom: float = 1.0,
    size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
    point_size: float | None = None,
) -> Any:
    """Colour a mesh or point cloud by one scalar per vertex or per face.

    Parameters
    ----------
    shape : Shape or path or (verts, faces)
    values : (V,) or (F,) float
        The field; NaNs are drawn in the colormap's NaN colour.
    cmap : str, optional
        A matplotlib colormap name. default: "viridis", or "RdBu_r" for a field with both signs.
    clim : (low, high), optional
        Colour range. default: the 1st to 99th percentile (centred on zero for a signed field).
    colorbar : bool
        Show a vertical colour bar titled ``title``. default: True
    title : str
        The colour bar's title (the field's name).
    location : {"auto", "vertex", "face"}
        Where the values live; "auto" decides by length.
    view : {"front", "back", "side", "iso", "top", "xy", "xz", "yz"}, optional
        Camera direction (see ``meshlearn.viz.render.VIEWS``). default: "front" (y up)
    zoom : float
        Camera zoom after framing the shape. default: 1.0
    size : (width, height), optional
        Pixels. default: (800, 600)
    screenshot : path, optional
        Write a PNG there (off screen, no display needed) instead of returning a plotter.
    point_size : float, optional
        Pixel size of points for a point cloud. default: chosen from V and the window size.

    Returns
    -------
    pyvista.Plotter, or the PNG's Path when ``screenshot`` is given.

    Examples
    --------
    >>> from meshlearn.testing import icosphere
    >>> s = icosphere(2)
    >>> png = plot_scalars(s, s.verts[:, 2], title="z", screenshot="z.png")  # doctest: +SKIP
    """
    shape = as_shape(shape)
    arr, location = per_element(shape, values, what="values", location=location)
    if arr.ndim != 1:
        raise FeatureError(
            f"values must be one scalar per {location} (shape ({arr.shape[0]},)); got {arr.shape}: "
            "pick one channel, e.g. values[:, 0]"
        )
    arr = arr.astype(np.float64)
    cmap, clim = scalar_style(arr, cmap=cmap, clim=clim)
    plotter = make_plotter(size=size, screenshot=screenshot)
    add_shape(
        plotter, shape, scalars=arr, location=location, cmap=cmap, clim=clim, name=title or "value",
        colorbar=colorbar, colorbar_title=title, point_size=point_size,
    )
    frame_camera(plotter, view=view, zoom=zoom)
    return finish(plotter, screenshot)
