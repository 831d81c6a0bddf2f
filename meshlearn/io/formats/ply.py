"""PLY (ASCII or binary) through trimesh's reader, with meshlearn's own for what trimesh cannot read.

trimesh keeps the vertex order and hands back each face list as stored (in the raw element data
it keeps in ``metadata["_ply_raw"]``), so polygons stay whole and in file order. Two real kinds of
file need more: a binary PLY whose face lists vary in length, which trimesh rejects
(:mod:`.ply_lists` reads it), and a PLY whose surface is a ``tristrips`` element, for which trimesh
returns no faces (:mod:`.tristrips` turns the strips into triangles).
"""

from __future__ import annotations

import io
import warnings

import numpy as np

from ...errors import InvalidMeshError, UnsupportedFormatError
from ..polygons import Polygons
from .ply_lists import read_binary_ply_lists
from .tristrips import strips_to_triangles

__all__ = ["read_ply"]

_INDEX_NAMES = ("vertex_indices", "vertex_index")


def _header(data: bytes) -> bytes:
    end = data.find(b"end_header")
    return data[: end if end >= 0 else 4096]


def _from_lists(verts: np.ndarray, faces: list[np.ndarray] | None, strips: list[np.ndarray] | None) -> Polygons:
    if faces:
        sizes = np.array([len(f) for f in faces], dtype=np.int64)
        corners = np.concatenate([np.asarray(f, dtype=np.int64).ravel() for f in faces])
        return Polygons(verts, corners, sizes)
    if strips:
        return Polygons.triangles(verts, strips_to_triangles(strips))
    return Polygons(verts)


def _raw_lists(raw: dict, element: str) -> list[np.ndarray] | None:
    """The index lists of ``element`` from trimesh's raw PLY data, one array per record."""
    data = raw.get(element, {}).get("data") if isinstance(raw.get(element), dict) else None
    lists = None
    if isinstance(data, dict):
        lists = next((data[k] for k in _INDEX_NAMES if k in data), None)
    elif isinstance(data, np.ndarray) and data.dtype.names:
        key = next((k for k in _INDEX_NAMES if k in data.dtype.names), None)
        lists = data[key] if key else None
    if lists is None:
        return None
    if lists.dtype.names:  # binary lists of one length: records of (count, indices)
        lists = lists[lists.dtype.names[1]]
    if lists.dtype == object:
        return [np.asarray(x, dtype=np.int64).ravel() for x in lists]
    arr = np.asarray(lists, dtype=np.int64)
    return list(arr.reshape(len(arr), -1))


def read_ply(data: bytes, source: str) -> Polygons:
    """Vertices in file order and the faces as stored (polygons whole), or the triangles of its strips."""
    from trimesh.exchange.ply import load_ply

    if not data.startswith(b"ply"):
        raise UnsupportedFormatError(f"{source}: not a PLY file (it must start with 'ply')")
    head = _header(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kw = load_ply(io.BytesIO(data), skip_materials=True)
    except Exception as e:  # noqa: BLE001 - any failure of trimesh's reader: try our own, or report
        if b"binary" in head and b"list" in head:
            verts, lists = read_binary_ply_lists(data, source)
            faces = next((lists["face"][k] for k in _INDEX_NAMES if k in lists.get("face", {})), None)
            strips = next((lists["tristrips"][k] for k in _INDEX_NAMES if k in lists.get("tristrips", {})), None)
            return _from_lists(verts, faces, strips)
        raise InvalidMeshError(f"{source}: cannot read this PLY file ({e}); check it is not truncated") from e
    verts = np.asarray(kw.get("vertices", np.zeros((0, 3))), dtype=np.float64).reshape(-1, 3)
    raw = kw.get("metadata", {}).get("_ply_raw", {})
    faces = _raw_lists(raw, "face")
    if faces is None and kw.get("faces") is not None and len(kw["faces"]):
        faces = list(np.asarray(kw["faces"], dtype=np.int64))
    return _from_lists(verts, faces, _raw_lists(raw, "tristrips"))
