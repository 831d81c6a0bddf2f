"""``load``: the one way a file, an array or another library's object becomes a :class:`Shape`.

Letters used for array shapes: V vertices, F faces.

What :func:`load` accepts
-------------------------
- a path: ``.obj .ply .off .stl`` for meshes, ``.ply .pcd .xyz .pts`` for point clouds (a ``.ply``
  without faces is a point cloud), read by :func:`meshlearn.io.formats.read_file`;
- a ``trimesh.Trimesh`` / ``trimesh.PointCloud`` / ``trimesh.Scene``, an open3d ``TriangleMesh`` /
  ``PointCloud``, a pyvista ``PolyData``, or a :class:`Shape`;
- arrays: a ``(verts, faces)`` tuple, or ``verts`` alone for a point cloud.

Conventions
-----------
- The vertex order of a file is kept exactly (no merging, no reordering) unless ``clean=True``;
  datasets rely on it for per-vertex labels. Cleaning stores, in ``shape.meta["vertex_map"]``,
  the original index of every kept vertex, so labels follow with ``labels[shape.meta["vertex_map"]]``
  (and ``shape.meta["face_map"]`` for faces).
- Polygons (quads and larger) are split into triangles as a fan from their first corner (exact for
  convex polygons); their number is kept in ``shape.meta["non_triangle_faces"]``.
- ``shape.meta`` keys set here: ``non_triangle_faces`` (int), ``vertex_map`` and ``face_map``
  (with ``clean``), ``normalize``, ``offset`` (3 floats), ``scale`` (with ``normalize``; see
  :mod:`meshlearn.io.normalize`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidMeshError, where
from ..shape import Shape
from ..validate import nonfinite_vertex_mask, out_of_range_face_mask, out_of_range_message
from .arrays import coerce_faces, coerce_verts
from .formats import read_file
from .normalize import check_normalize_kind, normalize as normalize_shape
from .objects import from_object
from .polygons import Polygons, fan_triangulate
from .repair import repair

__all__ = ["load"]

log = logging.getLogger(__name__)


def _polygons(source: Any) -> tuple[Polygons, str, str]:
    """(polygons, source, name) of anything but a Shape."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        return read_file(path), str(path), path.stem
    if isinstance(source, tuple):
        if len(source) != 2:
            raise InvalidMeshError(
                f"expected a (verts, faces) tuple (got a tuple of {len(source)} items); "
                "pass verts alone as an array for a point cloud"
            )
        verts = coerce_verts(source[0], "arrays")
        if source[1] is None:
            return Polygons(verts), "arrays", "arrays"
        return Polygons(verts, *coerce_faces(source[1], "arrays")), "arrays", "arrays"
    got = from_object(source)
    if got is not None:
        poly = got.polygons
        return poly._replace(verts=coerce_verts(poly.verts, got.source)), got.source, got.name
    if isinstance(source, (np.ndarray, list)):
        return Polygons(coerce_verts(source, "arrays")), "arrays", "arrays"
    raise InvalidMeshError(
        f"cannot load an object of type {type(source).__name__}; pass a path, a (verts, faces) tuple, "
        "verts alone, a Shape, or a trimesh / open3d / pyvista mesh or point cloud"
    )


def load(
    source: Any,
    clean: bool = False,
    normalize: str | None = None,
    *,
    check: bool = True,
) -> Shape:
    """Load a mesh or point cloud into a :class:`Shape`, optionally repaired and normalised.

    Parameters
    ----------
    source : str, os.PathLike, Shape, trimesh / open3d / pyvista object, tuple or array
        A file (``.obj .ply .off .stl`` meshes; ``.ply .pcd .xyz .pts`` point clouds), an object of
        those libraries, a ``(verts, faces)`` tuple with verts (V, 3) float and faces (F, 3) int (or
        (F, k) polygons), or verts (V, 3) alone for a point cloud.
    clean : bool, default: False
        Repair what can be repaired safely, recording each repair in ``shape.repairs``: drop vertices
        with NaN/inf coordinates (and their faces), weld vertices with identical coordinates, remove
        degenerate, zero-area and duplicate faces and unused vertices, make the winding consistent
        where the surface is orientable, and turn closed components outwards
        (:func:`meshlearn.io.repair.repair`). Components are all kept.
        ``shape.meta["vertex_map"]`` (V,) int64 gives the original index of each kept vertex, and
        for a mesh ``shape.meta["face_map"]`` (F,) int64 that of each kept face (counted in the
        triangulated face list).
    normalize : {None, "area", "radius"}, default: None
        ``"area"``: centre on the area-weighted centroid and scale to unit total area (point clouds:
        centre on the mean and scale to unit radius, as they have no area). ``"radius"``: centre
        the same way and scale so the farthest vertex is at distance 1. The transform
        ``new = (old - offset) * scale`` is kept in ``shape.meta`` (``"normalize"``, ``"offset"``,
        ``"scale"``); see :func:`meshlearn.io.normalize.normalize`. Applied after ``clean``.
    check : bool, default: True
        Raise on what nothing downstream survives (no vertices, NaN/inf coordinates without
        ``clean``, out-of-range face indices). :func:`meshlearn.validate` loads with ``False`` to
        report such defects instead; with ``clean`` or ``normalize`` the first two are always
        checked.

    Returns
    -------
    Shape
        verts (V, 3) float64; faces (F, 3) int64, or None for a point cloud. For a file,
        ``source`` is the path and ``name`` its stem. Without ``clean`` the vertex order is the
        file's.

    Raises
    ------
    UnsupportedFormatError
        An unknown file type, or a variant of a format that is not supported.
    InvalidMeshError
        An unreadable or corrupted file, no vertices, NaN/inf coordinates (without ``clean``),
        face indices outside ``0..V-1`` (never repaired: the faces would be guesses), or nothing left
        after cleaning. The message names the file, the problem and the fix.
    ConfigError
        An unknown ``normalize`` value.

    Examples
    --------
    >>> import numpy as np
    >>> shape = load((np.eye(3), np.array([[0, 1, 2]])))
    >>> shape.n_verts, shape.n_faces
    (3, 1)
    """
    check_normalize_kind(normalize)

    name, meta, repairs = "shape", {}, ()
    if isinstance(source, Shape):
        verts, faces, src, name = source.verts, source.faces, source.source, source.name
        meta, repairs = dict(source.meta), tuple(source.repairs)
        if faces is not None and (faces.ndim != 2 or faces.shape[1] != 3):
            raise InvalidMeshError(f"{where(src)}expected faces of shape (F, 3) (got {faces.shape})")
        if verts.ndim != 2 or verts.shape[1] != 3:
            raise InvalidMeshError(f"{where(src)}expected vertices of shape (V, 3) (got {verts.shape})")
    else:
        poly, src, name = _polygons(source)
        verts = poly.verts
        if poly.corners is None or len(poly.sizes) == 0:
            faces, non_tri = None, 0
        else:
            faces, non_tri = fan_triangulate(poly.corners, poly.sizes, src)
        if non_tri:
            meta["non_triangle_faces"] = non_tri
            log.info("%s%d polygon faces split into triangles", where(src), non_tri)

    if check or clean or normalize is not None:  # cleaning and normalising need sound indices
        if len(verts) == 0:
            raise InvalidMeshError(f"{where(src)}the shape has no vertices; check the file is a mesh or point cloud")
        if faces is not None and len(faces) and out_of_range_face_mask(faces, len(verts)).any():
            raise InvalidMeshError(
                f"{where(src)}{out_of_range_message(faces, len(verts))}. The faces cannot be repaired safely; "
                "re-export the mesh (an OBJ counts vertices from 1, other formats from 0)"
            )
        if check and not clean and nonfinite_vertex_mask(verts).any():
            n = int(nonfinite_vertex_mask(verts).sum())
            raise InvalidMeshError(
                f"{where(src)}{n} vertices have NaN or infinite coordinates; load with clean=True to drop them "
                "(and the faces that use them)"
            )
    if faces is not None and len(faces) == 0:
        faces = None  # a face list with no faces: the vertices are a point cloud

    if clean:
        n_in_v, n_in_f = len(verts), 0 if faces is None else len(faces)
        verts, faces, new_repairs, vmap, fmap = repair(verts, faces, src)
        # a shape cleaned before keeps pointing at its original file, if its maps still fit
        old_map = meta.get("vertex_map")
        fits = old_map is not None and len(old_map) == n_in_v
        meta["vertex_map"] = np.asarray(old_map)[vmap] if fits else vmap
        old_fmap = meta.pop("face_map", None)
        if fmap is not None:
            fits = old_fmap is not None and len(old_fmap) == n_in_f
            meta["face_map"] = np.asarray(old_fmap)[fmap] if fits else fmap
        repairs = tuple(repairs) + tuple(new_repairs)
        for r in new_repairs:
            log.info("%s%s", where(src), r)

    if normalize is not None:
        finite = len(verts) > 0 and np.isfinite(verts).all()
        if not finite:
            raise InvalidMeshError(f"{where(src)}cannot normalise a shape with no finite vertices; use clean=True")
        verts, norm_meta = normalize_shape(verts, faces, normalize, src)
        meta.update(norm_meta)

    return Shape(verts, faces, source=src, name=name, repairs=tuple(repairs), meta=meta)
