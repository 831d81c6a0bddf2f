"""Write a shape with its per-vertex (and per-face) arrays for other tools, or as a web page.

Letters: V vertices, F faces, C channels.

* ``.vtp`` (ParaView, VTK): every array kept as it is (float64, any number of channels), vertex
  arrays as point data and face arrays as cell data.
* ``.ply`` (MeshLab, CloudCompare, Blender): positions (float32), RGB vertex colours, and one float
  vertex property per channel: array ``hks`` with 16 channels becomes properties ``hks_0`` ...
  ``hks_15``; a single-channel array keeps its name. Face arrays become face properties.
* ``.html``: one self-contained interactive page (vtk.js inside; no network, no install needed to
  open it in a browser). Needs the ``html`` extra (``pip install "meshlearn[html]"``).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError, MeshlearnError, MissingDependencyError, WriteError
from ..optional import require
from .errors import FeatureError
from .render import as_shape, per_element, to_polydata

__all__ = ["EXPORT_FORMATS", "export_mesh", "export_html", "scalar_colors", "ply_property_names"]

log = logging.getLogger(__name__)

EXPORT_FORMATS = (".vtp", ".ply", ".html")


def scalar_colors(values: Any, *, cmap: str = "viridis", clim: tuple[float, float] | None = None) -> np.ndarray:
    """(N, 3) uint8 colours of (N,) values through a matplotlib colormap (1st-99th percentile range
    unless ``clim`` is given); NaN is grey."""
    matplotlib = require("matplotlib", "colouring values (meshlearn.viz)")

    from .scalars import robust_range

    v = np.asarray(values, dtype=np.float64)
    lo, hi = clim if clim is not None else robust_range(v)
    t = np.clip((v - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    rgb = matplotlib.colormaps[cmap](np.nan_to_num(t))[:, :3]
    rgb[~np.isfinite(v)] = 0.6
    return np.round(rgb * 255).astype(np.uint8)


def ply_property_names(name: str, channels: int) -> list[str]:
    """PLY property names for an array: ``[name]`` for one channel, ``name_0 ...`` otherwise
    (characters other than letters, digits and ``_`` become ``_``)."""
    base = re.sub(r"[^0-9A-Za-z_]", "_", name) or "array"
    if base[0].isdigit():
        base = "a_" + base
    return [base] if channels == 1 else [f"{base}_{c}" for c in range(channels)]


def _as_2d(arr: np.ndarray) -> np.ndarray:
    return arr.reshape(arr.shape[0], -1)


def _checked_arrays(shape: Any, arrays: Mapping[str, Any] | None) -> dict[str, tuple[np.ndarray, str]]:
    out: dict[str, tuple[np.ndarray, str]] = {}
    for name, values in (arrays or {}).items():
        arr, loc = per_element(shape, values, what=f"array {name!r}")
        if arr.dtype.kind not in "biuf":
            raise FeatureError(f"array {name!r} must be numeric (got dtype {arr.dtype})")
        out[str(name)] = (arr, loc)
    return out


def export_mesh(
    shape: Any,
    path: str | os.PathLike,
    *,
    arrays: Mapping[str, Any] | None = None,
    colors: Any = None,
) -> Path:
    """Write ``shape`` with named per-vertex / per-face arrays as ``.vtp`` or ``.ply``.

    Parameters
    ----------
    shape : Shape or path or (verts, faces)
        A mesh or a point cloud.
    path : path ending in .vtp or .ply
    arrays : mapping of str to (V, ...) or (F, ...) numbers, optional
        Per-vertex or per-face arrays (decided by length), e.g. ``{"hks": (V, 16), "labels": (V,)}``.
    colors : (V, 3) uint8, optional
        Vertex colours. default: the first vertex array's first channel through "viridis"
        (plain grey when there is none). Stored as ``RGB`` in .vtp, as red/green/blue in .ply.

    Returns
    -------
    Path
        The written file (written to a temporary name beside it, then renamed).
    """
    shape = as_shape(shape)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".vtp", ".ply"):
        raise ConfigError(f"{path}: export_mesh writes .vtp or .ply (got {suffix or 'no extension'}); for a web page use export_html")
    if not path.parent.exists():
        raise ConfigError(f"{path}: the folder {path.parent} does not exist; create it first")
    checked = _checked_arrays(shape, arrays)
    if colors is None:
        first = next((a for a, loc in checked.values() if loc == "vertex" and a.dtype.kind in "biuf"), None)
        colors = scalar_colors(_as_2d(first)[:, 0]) if first is not None else np.full((shape.n_verts, 3), 200, np.uint8)
    colors = np.asarray(colors)
    if colors.shape != (shape.n_verts, 3):
        raise FeatureError(f"colors must be (V, 3) = ({shape.n_verts}, 3) uint8 (got {colors.shape})")
    colors = colors.astype(np.uint8)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        if suffix == ".vtp":
            _write_vtp(shape, tmp, checked, colors)
        else:
            _write_ply(shape, tmp, checked, colors)
        os.replace(tmp, path)
    except OSError as e:
        raise WriteError(f"{path}: cannot write ({e}); check the folder's permissions and free space") from e
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _write_vtp(shape: Any, path: Path, arrays: dict[str, tuple[np.ndarray, str]], colors: np.ndarray) -> None:
    poly = to_polydata(shape)
    for name, (arr, loc) in arrays.items():
        target = poly.point_data if loc == "vertex" else poly.cell_data
        target[name] = _as_2d(arr) if arr.ndim > 2 else arr
    poly.point_data["RGB"] = colors
    poly.save(str(path), binary=True)


def _write_ply(shape: Any, path: Path, arrays: dict[str, tuple[np.ndarray, str]], colors: np.ndarray) -> None:
    import trimesh

    faces = shape.faces if shape.is_mesh else np.zeros((0, 3), dtype=np.int64)
    rgba = np.hstack([colors, np.full((shape.n_verts, 1), 255, np.uint8)])
    mesh = trimesh.Trimesh(shape.verts, faces, process=False, validate=False, vertex_colors=rgba)
    taken = {"x", "y", "z", "red", "green", "blue", "alpha", "vertex_indices"}
    for name, (arr, loc) in arrays.items():
        flat = _as_2d(arr)
        store = mesh.vertex_attributes if loc == "vertex" else mesh.face_attributes
        for c, prop in enumerate(ply_property_names(name, flat.shape[1])):
            if prop in taken:
                prop = f"{prop}_"
            taken.add(prop)
            column = flat[:, c]
            store[prop] = column.astype(np.int32) if column.dtype.kind in "biu" else column.astype(np.float32)
    path.write_bytes(mesh.export(file_type="ply", include_attributes=True))


def export_html(plotter: Any, path: str | os.PathLike) -> Path:
    """Write a plotter's scene as one self-contained, offline interactive HTML page.

    Parameters
    ----------
    plotter : pyvista.Plotter
        Built off screen (e.g. ``plot_scalars(..., )`` with ``pyvista.OFF_SCREEN = True``).
    path : path ending in .html

    Returns
    -------
    Path
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"{path}: an interactive page is written as .html; give a file name ending in .html")
    if not path.parent.exists():
        raise ConfigError(f"{path}: the folder {path.parent} does not exist; create it first")
    for module in ("trame_vtk", "trame_pyvista"):
        require(module, f"{path}: writing an HTML page")
    component = getattr(plotter, "trame", None)
    if component is None:
        raise MeshlearnError(
            f"{path}: the installed pyvista has no trame component for HTML pages; upgrade pyvista and "
            'trame-pyvista: pip install -U "meshlearn[html]"'
        )
    tmp = path.with_name(f".{path.stem}.partial.html")
    try:
        component.export_html(str(tmp))
        os.replace(tmp, path)
    except ImportError as e:
        raise MissingDependencyError(
            f'{path}: writing an HTML page needs {e.name or "the trame packages"}, which is not installed ({e}); '
            'install it with: pip install "meshlearn[html]"'
        ) from e
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
