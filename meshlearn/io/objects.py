"""Meshes and point clouds of other libraries (trimesh, open3d, pyvista) as :class:`Polygons`.

The object's own vertex order is kept; each library is imported only when one of its objects
is passed (so it is installed).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..errors import InvalidMeshError
from ..optional import require
from .polygons import Polygons

__all__ = ["ForeignShape", "from_object"]


class ForeignShape(NamedTuple):
    """An object's polygons, with what to call it: ``source`` (e.g. ``"trimesh.Trimesh"``) and ``name``."""

    polygons: Polygons
    source: str
    name: str


def _from_pyvista(obj: Any) -> Polygons:
    pv = require("pyvista", "loading pyvista objects")
    if not isinstance(obj, pv.PolyData):
        raise InvalidMeshError(
            f"expected a pyvista PolyData surface (got {type(obj).__name__}); call .extract_surface() first"
        )
    verts = np.asarray(obj.points, dtype=np.float64).reshape(-1, 3)
    if obj.n_strips:
        obj = obj.triangulate()
    if obj.GetNumberOfPolys() == 0:
        return Polygons(verts)
    cells = obj.GetPolys()
    offsets = pv.convert_array(cells.GetOffsetsArray()).astype(np.int64)
    corners = pv.convert_array(cells.GetConnectivityArray()).astype(np.int64)
    return Polygons(verts, corners, np.diff(offsets))


def from_object(obj: Any) -> ForeignShape | None:
    """The polygons of a trimesh / open3d / pyvista object, or None for any other object."""
    mod = type(obj).__module__ or ""
    cls = type(obj).__name__
    if mod.startswith("trimesh"):
        import trimesh

        name = str(getattr(obj, "metadata", {}).get("file_name", "shape")).rsplit(".", 1)[0] or "shape"
        if isinstance(obj, trimesh.Scene):
            obj = obj.to_mesh() if hasattr(obj, "to_mesh") else obj.dump(concatenate=True)
        if isinstance(obj, trimesh.Trimesh):
            return ForeignShape(Polygons.triangles(np.asarray(obj.vertices), obj.faces), "trimesh.Trimesh", name)
        if isinstance(obj, trimesh.PointCloud):
            return ForeignShape(Polygons(np.asarray(obj.vertices)), "trimesh.PointCloud", name)
    if mod.startswith("open3d"):
        if hasattr(obj, "to_legacy"):
            obj = obj.to_legacy()
            cls = type(obj).__name__
        if cls == "TriangleMesh":
            return ForeignShape(Polygons.triangles(np.asarray(obj.vertices), np.asarray(obj.triangles)),
                                "open3d.TriangleMesh", "shape")
        if cls == "PointCloud":
            return ForeignShape(Polygons(np.asarray(obj.points)), "open3d.PointCloud", "shape")
    if mod.startswith("pyvista") or mod.startswith("vtk"):
        return ForeignShape(_from_pyvista(obj), f"pyvista.{cls}", "shape")
    return None
