"""Shared plumbing of meshlearn.viz: shapes to pyvista meshes, plotters, display checks, screenshots.

Letters: V vertices, F faces, C channels.

Every public ``plot_*`` function builds a :class:`pyvista.Plotter` through :func:`make_plotter`,
adds its shapes through :func:`add_shape`, and hands the plotter to :func:`finish`, which either
returns it (call ``.show()`` for a window) or, when ``screenshot`` is given, renders off screen,
writes the PNG and returns its path.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import ConfigError, InvalidMeshError, where
from ..optional import require
from ..shape import Shape
from .errors import DisplayError, FeatureError

if TYPE_CHECKING:  # pragma: no cover
    import pyvista

__all__ = [
    "as_shape",
    "to_polydata",
    "has_display",
    "require_display",
    "make_plotter",
    "add_shape",
    "surface_style",
    "scalar_bar_args",
    "finish",
    "per_element",
    "frame_camera",
    "VIEWS",
    "DEFAULT_SIZE",
]

#: Window / PNG size in pixels (width, height) used when none is given.
DEFAULT_SIZE: tuple[int, int] = (800, 600)

_SURFACE_COLOR = "#d9d9d9"
_BACKGROUND = "white"


def as_shape(shape: Any) -> Shape:
    """A :class:`~meshlearn.Shape` with at least one vertex, from a Shape, a path, or a
    ``(verts, faces)`` tuple (raises :class:`~meshlearn.errors.InvalidMeshError` otherwise)."""
    if not isinstance(shape, Shape):
        from ..io import load

        return load(shape)
    if shape.n_verts == 0:
        raise InvalidMeshError(f"{where(shape.source)}the shape has no vertices; there is nothing to draw")
    return shape


def to_polydata(shape: Any) -> "pyvista.PolyData":
    """The shape as a :class:`pyvista.PolyData`: triangles for a mesh, vertex cells for a point cloud.

    Parameters
    ----------
    shape : Shape or path or (verts, faces)
        verts (V, 3) float64; faces (F, 3) int64 or None.

    Returns
    -------
    pyvista.PolyData
        With V points, and F triangles (mesh) or V vertex cells (point cloud).
    """
    pv = require("pyvista", "drawing a shape (meshlearn.viz)")

    shape = as_shape(shape)
    if shape.faces is None:
        return pv.PolyData(np.asarray(shape.verts, dtype=np.float64))
    faces = np.hstack([np.full((shape.n_faces, 1), 3, dtype=np.int64), shape.faces]).ravel()
    return pv.PolyData(np.asarray(shape.verts, dtype=np.float64), faces)


def has_display() -> bool:
    """True when an interactive window can open: always on macOS and Windows; on Linux and other
    Unix systems only when ``DISPLAY`` or ``WAYLAND_DISPLAY`` is set."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def require_display() -> None:
    """Raise :class:`DisplayError` (with the way out) when no window can be opened."""
    if not has_display():
        raise DisplayError(
            "no display: neither DISPLAY nor WAYLAND_DISPLAY is set, so no window can open; "
            "render to a file instead (screenshot='out.png', or `meshlearn view ... --screenshot out.png`), "
            "or export an interactive page or mesh (`--export out.html`, `.vtp`, `.ply`)"
        )


def _check_size(size: Sequence[int] | None) -> tuple[int, int]:
    if size is None:
        return DEFAULT_SIZE
    try:
        w, h = (int(s) for s in size)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"size must be two integers (width, height) in pixels (got {size!r})") from e
    if w < 16 or h < 16 or w > 8192 or h > 8192:
        raise ConfigError(f"size must be between 16 and 8192 pixels on each side (got {w} x {h})")
    return w, h


def make_plotter(
    *,
    size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
    off_screen: bool | None = None,
    grid: tuple[int, int] = (1, 1),
    col_weights: Sequence[float] | None = None,
) -> "pyvista.Plotter":
    """A white-background plotter of ``size`` pixels, off screen when a screenshot is asked for.

    Parameters
    ----------
    size : (width, height), optional
        Pixels. default: (800, 600)
    screenshot : path, optional
        When given, the plotter renders off screen (no display needed).
    off_screen : bool, optional
        Force off-screen rendering; default: on when ``screenshot`` is given or
        ``pyvista.OFF_SCREEN`` is set, otherwise a window (which needs a display).
    grid : (rows, cols)
        Subplot layout for several shapes side by side. default: (1, 1)
    col_weights : sequence of float, optional
        Relative widths of the columns. default: equal
    """
    pv = require("pyvista", "drawing a shape (meshlearn.viz)")

    w, h = _check_size(size)
    if off_screen is None:
        off_screen = screenshot is not None or bool(pv.OFF_SCREEN)
    if not off_screen:
        require_display()
    extra = {"col_weights": list(col_weights)} if col_weights is not None else {}
    with _quiet_x_probe(off_screen and not has_display()):
        plotter = pv.Plotter(off_screen=off_screen, window_size=(w, h), shape=grid, border=False, **extra)
    plotter.set_background(_BACKGROUND)
    return plotter


@contextmanager
def _quiet_x_probe(active: bool):
    """Without a display, VTK first tries an X window, logs "bad X server connection", then renders
    through EGL / OSMesa as asked. Only warnings are hidden here, and only while the window is made."""
    if not active:
        yield
        return
    vtkLogger = require("vtkmodules.vtkCommonCore", "off-screen rendering (meshlearn.viz)").vtkLogger

    before = vtkLogger.GetCurrentVerbosityCutoff()
    vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_ERROR)
    try:
        yield
    finally:
        vtkLogger.SetStderrVerbosity(before)


def per_element(shape: Shape, values: Any, *, what: str = "values", location: str = "auto") -> tuple[np.ndarray, str]:
    """Check that ``values`` has one row per vertex or per face of ``shape``.

    Parameters
    ----------
    shape : Shape
    values : (V, ...) or (F, ...) array
    what : str
        Name used in error messages.
    location : {"auto", "vertex", "face"}
        Where the values live; "auto" decides by length (vertices win when V == F).

    Returns
    -------
    values : ndarray
    location : {"vertex", "face"}
    """
    arr = np.asarray(values)
    if location not in ("auto", "vertex", "face"):
        raise ConfigError(f"location must be 'auto', 'vertex' or 'face' (got {location!r})")
    n = arr.shape[0] if arr.ndim else -1
    V, F = shape.n_verts, shape.n_faces
    if location == "auto":
        location = "vertex" if n == V else ("face" if (n == F and F > 0) else "")
    expected = V if location == "vertex" else F
    if not location or n != expected:
        faces = f" or {F} faces" if shape.is_mesh else ""
        raise FeatureError(
            f"{shape.source or shape.name}: {what} has {n if n >= 0 else 'no'} rows but the shape has "
            f"{V} vertices{faces}; give one value per vertex"
            f"{' or per face' if shape.is_mesh else ''} (was it computed for another shape?)"
        )
    return arr, location


def add_shape(
    plotter: Any,
    shape: Shape,
    *,
    scalars: np.ndarray | None = None,
    location: str = "vertex",
    rgb: bool = False,
    cmap: str | None = None,
    clim: Sequence[float] | None = None,
    name: str = "values",
    colorbar: bool = False,
    colorbar_title: str | None = None,
    color: str = _SURFACE_COLOR,
    opacity: float = 1.0,
    point_size: float | None = None,
) -> Any:
    """Add ``shape`` to the current subplot: a smooth-shaded surface, or spheres for a point cloud.

    ``scalars`` (V,) / (F,) values (or (V, 3) / (F, 3) uint8 colours with ``rgb=True``) colour it;
    otherwise it is drawn in a plain light grey. Returns the pyvista actor.
    """
    poly = to_polydata(shape)
    kwargs: dict[str, Any] = {"opacity": opacity}
    if scalars is not None:
        target = poly.point_data if location == "vertex" else poly.cell_data
        target[name] = np.asarray(scalars)
        kwargs.update(scalars=name, preference="point" if location == "vertex" else "cell", rgb=rgb)
        if not rgb:
            kwargs.update(cmap=cmap or "viridis", clim=None if clim is None else list(clim))
            kwargs["show_scalar_bar"] = colorbar
            if colorbar:
                kwargs["scalar_bar_args"] = scalar_bar_args(colorbar_title if colorbar_title is not None else name)
        else:
            kwargs["show_scalar_bar"] = False
    else:
        kwargs.update(color=color, show_scalar_bar=False)
    kwargs.update(surface_style(shape, plotter, point_size=point_size))
    return plotter.add_mesh(poly, **kwargs)


def surface_style(shape: Shape, plotter: Any, *, point_size: float | None = None) -> dict[str, Any]:
    """``add_mesh`` keywords that draw ``shape``: smooth shading with a little specular light for a
    mesh, screen-space spheres for a point cloud (``point_size`` pixels; default: chosen from V and
    the window size)."""
    if shape.is_mesh:
        return {"smooth_shading": True, "specular": 0.15, "ambient": 0.15}
    size = point_size or _auto_point_size(shape, plotter)
    return {"style": "points", "render_points_as_spheres": True, "point_size": size}


def scalar_bar_args(title: str, *, height: float = 0.76) -> dict[str, Any]:
    """``scalar_bar_args`` of every colour bar: vertical at the right edge, ``height`` of the
    window tall from 12% above its bottom, three significant digits, black text."""
    return {
        "title": title,
        "vertical": True,
        "position_x": 0.86,
        "position_y": 0.12,
        "width": 0.08,
        "height": height,
        "title_font_size": 18,
        "label_font_size": 16,
        "n_labels": 5,
        "fmt": "%.3g",
        "color": "black",
    }


def _auto_point_size(shape: Shape, plotter: Any) -> float:
    """Point size (pixels) so that V points roughly tile the window without hiding each other."""
    w, h = plotter.window_size
    px = np.sqrt(1.2 * w * h / max(shape.n_verts, 1))
    return float(np.clip(px, 3.0, 16.0))


#: Camera directions (from the shape towards the camera) and up vectors of the named views.
#: "front" suits the usual y-up files (OBJ, PLY); "iso" the z-up ones (scans, terrain).
VIEWS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "front": ((0.3, 0.3, 1.0), (0.0, 1.0, 0.0)),
    "back": ((-0.55, 0.35, -1.0), (0.0, 1.0, 0.0)),
    "side": ((1.0, 0.35, -0.3), (0.0, 1.0, 0.0)),
    "iso": ((1.0, 1.0, 1.0), (0.0, 0.0, 1.0)),
    "top": ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
    "xy": ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
    "xz": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
    "yz": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
}


def frame_camera(plotter: Any, *, view: str | None = None, zoom: float = 1.0) -> None:
    """Point the current subplot's camera at its shapes from a named direction, then zoom.

    ``view`` is one of :data:`VIEWS` (default "front": slightly right of and above the +z side,
    y up).
    """
    view = view or "front"
    if view not in VIEWS:
        raise ConfigError(f"view must be one of {', '.join(VIEWS)} (got {view!r})")
    direction, up = VIEWS[view]
    plotter.view_vector(direction, viewup=up)
    plotter.reset_camera()
    plotter.camera.zoom(1.1 * zoom)


def finish(plotter: Any, screenshot: str | os.PathLike | None) -> Any:
    """Return ``plotter``, or write its PNG to ``screenshot``, close it and return the path."""
    if screenshot is None:
        return plotter
    path = Path(screenshot)
    if path.suffix.lower() != ".png":
        raise ConfigError(f"{path}: screenshots are written as PNG; give a file name ending in .png")
    if not path.parent.exists():
        raise ConfigError(f"{path}: the folder {path.parent} does not exist; create it first")
    try:
        plotter.screenshot(str(path))
    finally:
        plotter.close()
    return path
