"""Faces as read from a file or an object: polygons of any size, and their split into triangles.

Letters used for array shapes: V vertices, F triangles, P polygons, C corners (the sum of the
polygon sizes).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import InvalidMeshError, where

__all__ = ["Polygons", "fan_triangulate"]


class Polygons(NamedTuple):
    """What a reader returns: vertices in the file's order and the faces as concatenated polygons.

    verts : (V, 3) float64
    corners : (C,) int64 or None
        The corner indices of every polygon, one polygon after the other; None for a point cloud.
    sizes : (P,) int64 or None
        The number of corners of each polygon (3 for a triangle); ``sizes.sum() == len(corners)``.
    """

    verts: np.ndarray
    corners: np.ndarray | None = None
    sizes: np.ndarray | None = None

    @classmethod
    def triangles(cls, verts: np.ndarray, faces: np.ndarray) -> "Polygons":
        """Polygons of a (F, 3) triangle array."""
        faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
        return cls(verts, faces.ravel(), np.full(len(faces), 3, dtype=np.int64))


def fan_triangulate(corners: np.ndarray, sizes: np.ndarray, source: str | None) -> tuple[np.ndarray, int]:
    """Split polygons into triangles as fans from their first corner (exact for convex polygons).

    Parameters
    ----------
    corners : (C,) int
        Concatenated corner indices.
    sizes : (P,) int
        Corners per polygon, each at least 3.
    source : str or None
        The file, for messages.

    Returns
    -------
    faces : (F, 3) int64
        Polygon ``p`` with corners ``c0 .. ck`` gives ``(c0, c(j), c(j+1))`` for ``j = 1 .. k-1``, in
        order; triangles are kept as they are.
    n_polygons : int
        How many of the input faces had more than 3 corners.

    Examples
    --------
    >>> fan_triangulate(np.array([0, 1, 2, 3]), np.array([4]), None)[0].tolist()
    [[0, 1, 2], [0, 2, 3]]
    """
    corners = np.asarray(corners, dtype=np.int64)
    sizes = np.asarray(sizes, dtype=np.int64)
    if len(sizes) == 0:
        return np.zeros((0, 3), dtype=np.int64), 0
    if (sizes < 3).any():
        n = int((sizes < 3).sum())
        raise InvalidMeshError(
            f"{where(source)}{n} faces have fewer than 3 corners; remove those lines (points and edges are "
            "not faces) or re-export the mesh as triangles"
        )
    if int(sizes.sum()) != len(corners):
        raise InvalidMeshError(f"{where(source)}face list is truncated; re-export the file")
    if (sizes == 3).all():
        return corners.reshape(-1, 3), 0
    starts = np.cumsum(sizes) - sizes
    n_tri = sizes - 2
    poly = np.repeat(np.arange(len(sizes)), n_tri)
    j = np.arange(int(n_tri.sum())) - np.repeat(np.cumsum(n_tri) - n_tri, n_tri)
    s = starts[poly]
    tris = np.stack([corners[s], corners[s + j + 1], corners[s + j + 2]], axis=1)
    return tris, int((sizes > 3).sum())
