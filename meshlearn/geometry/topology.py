"""Which vertices belong together: neighbour pairs, connected components, the part of a mesh its
faces use.

Letters: V vertices, F faces, E directed pairs, K neighbours per point.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..shape import Shape

__all__ = ["knn_pairs", "local_index", "neighbor_pairs", "sorted_unique", "surface_part", "vertex_components"]


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an int64 array (a sort, faster than np.unique's hashing here)."""
    keys = np.sort(keys)
    if len(keys) == 0:
        return keys
    return keys[np.r_[True, keys[1:] != keys[:-1]]]


def knn_pairs(verts: np.ndarray, knn: int) -> tuple[np.ndarray, np.ndarray]:
    """Directed k-nearest-neighbour pairs of a point set (each point to its ``knn`` nearest others).

    Returns ``(src, dst)``, each (V * K',) int64 with ``K' = min(knn, V - 1)``, sorted by ``src``.
    """
    from scipy.spatial import cKDTree

    V = verts.shape[0]
    k = int(min(knn, V - 1))
    if k < 1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    _, idx = cKDTree(verts).query(verts, k=k + 1)
    idx = np.asarray(idx, dtype=np.int64).reshape(V, k + 1)
    # Drop each point itself (usually column 0; with duplicates it may sit elsewhere).
    own = idx == np.arange(V)[:, None]
    drop = np.where(own.any(1), own.argmax(1), k)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(V), drop] = False
    dst = idx[keep].reshape(V, k).ravel()
    src = np.repeat(np.arange(V, dtype=np.int64), k)
    return src, dst


def neighbor_pairs(shape: Shape, knn: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Directed neighbour pairs: every mesh edge in both directions, or kNN pairs on a point cloud.

    Returns ``(src, dst)`` (E,) int64, sorted by ``src`` then ``dst``, without duplicates or
    self-pairs. On a mesh these are the one-rings.
    """
    V = shape.n_verts
    if shape.is_mesh:
        f = shape.faces
        src = np.concatenate([f[:, 0], f[:, 1], f[:, 2], f[:, 1], f[:, 2], f[:, 0]])
        dst = np.concatenate([f[:, 1], f[:, 2], f[:, 0], f[:, 0], f[:, 1], f[:, 2]])
    else:
        src, dst = knn_pairs(shape.verts, knn)
    keys = sorted_unique(src * V + dst)
    src, dst = keys // V, keys % V
    ok = src != dst
    return src[ok], dst[ok]


def surface_part(shape: Shape) -> tuple[np.ndarray, Shape]:
    """The vertices the faces use, ``keep`` (K,) int64 ascending, and the mesh restricted to them.

    The solvers' meshes have no unreferenced vertices (potpourri3d drops trailing ones and refuses
    the others), so they run on this part and answers are scattered back through ``keep``. A
    point cloud, or a mesh whose faces use every vertex, is returned as it is.
    """
    V = shape.n_verts
    if not shape.is_mesh:
        return np.arange(V, dtype=np.int64), shape
    used = np.zeros(V, dtype=bool)
    used[shape.faces.ravel()] = True
    if used.all():
        return np.arange(V, dtype=np.int64), shape
    keep = np.flatnonzero(used)
    local = local_index(keep, V)
    return keep, Shape(shape.verts[keep], local[shape.faces], source=shape.source, name=shape.name)


def local_index(keep: np.ndarray, n_verts: int) -> np.ndarray:
    """(V,) int64 position of each vertex in ``keep``, -1 for the vertices left out."""
    local = np.full(n_verts, -1, dtype=np.int64)
    local[keep] = np.arange(len(keep))
    return local


def vertex_components(shape: Shape, knn: int) -> np.ndarray:
    """(V,) int64 connected-component label of each vertex (faces, or the symmetric kNN graph)."""
    from scipy.sparse.csgraph import connected_components

    V = shape.n_verts
    if shape.is_mesh:
        f = shape.faces
        src = np.concatenate([f[:, 0], f[:, 1], f[:, 2]])
        dst = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    else:
        src, dst = knn_pairs(shape.verts, knn)
    g = sp.csr_matrix((np.ones(len(src)), (src, dst)), shape=(V, V))
    _, label = connected_components(g, directed=False)
    return label.astype(np.int64)
