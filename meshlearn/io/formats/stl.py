"""STL (ASCII or binary, one or several solids) through trimesh: a triangle soup in file order."""

from __future__ import annotations

import io
import warnings

import numpy as np

from ...errors import InvalidMeshError
from ..polygons import Polygons

__all__ = ["read_stl"]


def read_stl(data: bytes, source: str) -> Polygons:
    """Three vertices per triangle, in the order the file lists them (weld them with ``clean=True``)."""
    import trimesh

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = trimesh.load(io.BytesIO(data), file_type="stl", process=False, force="mesh")
    except Exception as e:  # noqa: BLE001 - any failure of the reader means a file we cannot read
        raise InvalidMeshError(f"{source}: cannot read this STL file ({e}); check it is not truncated") from e
    faces = np.asarray(getattr(m, "faces", np.zeros((0, 3))), dtype=np.int64).reshape(-1, 3)
    verts = np.asarray(getattr(m, "vertices", np.zeros((0, 3))), dtype=np.float64).reshape(-1, 3)
    return Polygons.triangles(verts, faces)
