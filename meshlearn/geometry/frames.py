"""Normals, tangent frames and per-vertex tangent gradient operators.

Letters: V vertices, F faces, E directed edges (neighbour pairs), K neighbours per point.

Conventions
-----------
- ``frames[v]`` is a (3, 3) matrix whose *rows* are ``x``, ``y``, ``n``: an orthonormal,
  right-handed basis (``x cross y = n``) with ``n`` the outward unit normal at vertex ``v``.
- Tangent vectors at ``v`` are written as two numbers ``(a, b)`` meaning ``a * x + b * y``;
  angles are radians, counter-clockwise about ``n`` from ``x``.
- ``grad_x @ f`` and ``grad_y @ f`` are the two components of the tangent gradient of the
  per-vertex scalar ``f`` in each vertex's own frame.

Everything here is vectorised over vertices: there is no Python loop over vertices.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from ..errors import InvalidMeshError, where
from ..shape import Shape
from .checks import check_frames, check_knn, check_shape
from .topology import knn_pairs, neighbor_pairs

__all__ = [
    "checked_inputs",
    "frames_from_normals",
    "gradient_operators",
    "knn_pairs",
    "neighbor_pairs",
    "normals",
    "reference_neighbors",
    "tangent_frames",
]

log = logging.getLogger(__name__)


def _mesh_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = verts[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 * area
    n = np.zeros_like(verts)
    for i in range(3):
        np.add.at(n, faces[:, i], fn)
    return n


def _point_normals(verts: np.ndarray, knn: int) -> np.ndarray:
    """Normals of a point cloud: fitted planes, oriented along a spanning tree, then outward per
    connected component (a planar cloud has no outside: its tree orientation is kept)."""
    V = verts.shape[0]
    k = int(max(3, min(knn, V - 1)))
    n = _fitted_plane_normals(verts, k)
    n = _orient_along_tree(verts, n, k)
    centred = verts - verts.mean(0)
    sv = np.linalg.svd(centred.T @ centred, compute_uv=False)
    if sv[2] <= 1e-18 * sv[0]:
        return n
    return _outward_per_component(verts, n, k)


def _fitted_plane_normals(verts: np.ndarray, k: int, chunk: int = 1 << 15) -> np.ndarray:
    """(V, 3) unit normals, unoriented: for each point, the direction of least variance of its
    ``k`` nearest points, itself included (the normal of the least-squares plane through them:
    the eigenvector of the smallest eigenvalue of their 3 x 3 covariance)."""
    from scipy.spatial import cKDTree

    V = verts.shape[0]
    k = int(min(k, V))
    _, idx = cKDTree(verts).query(verts, k=k)
    idx = np.asarray(idx, dtype=np.int64).reshape(V, k)
    n = np.empty((V, 3))
    for lo in range(0, V, chunk):  # (chunk, k, 3) at a time: bounded memory on large clouds
        nb = verts[idx[lo : lo + chunk]]
        nb = nb - nb.mean(axis=1, keepdims=True)
        cov = np.einsum("pki,pkj->pij", nb, nb)
        n[lo : lo + chunk] = np.linalg.eigh(cov)[1][:, :, 0]
    return n


def _outward_per_component(verts: np.ndarray, n: np.ndarray, knn: int) -> np.ndarray:
    """Consistently oriented normals (V, 3) flipped per connected component of the kNN graph so
    that, on average over the component, they point away from its centroid (the consistent
    orientation of each component is defined up to its own sign)."""
    from scipy.sparse.csgraph import connected_components

    V = verts.shape[0]
    src, dst = knn_pairs(verts, knn)
    _, label = connected_components(sp.csr_matrix((np.ones(len(src)), (src, dst)), shape=(V, V)), directed=False)
    count = np.bincount(label)
    centroid = np.stack([np.bincount(label, verts[:, i]) for i in range(3)], axis=1) / count[:, None]
    outward = np.bincount(label, np.einsum("ij,ij->i", n, verts - centroid[label]))
    return np.where((outward < 0)[label][:, None], -n, n)


def _orient_along_tree(verts: np.ndarray, n: np.ndarray, knn: int) -> np.ndarray:
    """Flip unoriented normals (V, 3) to agree along a minimum spanning tree of the kNN graph,
    weighted by ``1 - |n_i . n_j|`` (Hoppe et al. 1992), one tree per connected component."""
    from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree

    V = verts.shape[0]
    src, dst = knn_pairs(verts, knn)
    w = 1.0 - np.abs(np.einsum("ij,ij->i", n[src], n[dst])) + 1e-9
    graph = sp.csr_matrix((w, (src, dst)), shape=(V, V))
    tree = minimum_spanning_tree(graph.maximum(graph.T))
    tree = tree.maximum(tree.T)
    _, label = connected_components(tree, directed=False)
    pred = np.arange(V)
    for root in np.unique(label, return_index=True)[1]:
        _, pr = breadth_first_order(tree, int(root), directed=False)
        has = pr >= 0
        pred[has] = pr[has]
    # parity of the number of sign flips on the tree path to the root (pointer jumping)
    flip = np.einsum("ij,ij->i", n, n[pred]) < 0
    for _ in range(int(np.ceil(np.log2(max(V, 2)))) + 1):
        flip = flip ^ flip[pred]
        pred = pred[pred]
    return np.where(flip[:, None], -n, n)


def normals(shape: Shape, knn: int = 16) -> np.ndarray:
    """Unit vertex normals, pointing outward.

    Parameters
    ----------
    shape : Shape
        A mesh (faces counter-clockwise seen from outside) or a point cloud.
    knn : int
        Neighbourhood size for point-cloud normals (and for mesh vertices in no face). default: 16

    Returns
    -------
    (V, 3) float64
        On meshes, the area-weighted mean of the incident face normals (so outward when the faces
        are counter-clockwise seen from outside). On point clouds, the plane fitted to the ``knn``
        nearest points (the point itself included), oriented consistently along a minimum
        spanning tree of the neighbour graph (Hoppe et al. 1992) and then flipped per connected
        component of the neighbour graph so that, on average, they point away from that
        component's centroid.
    """
    check_shape(shape)
    knn = check_knn(knn)
    verts = shape.verts
    if shape.is_mesh and shape.n_faces:
        n = _mesh_normals(verts, shape.faces)
        length = np.linalg.norm(n, axis=1)
        bad = length <= 1e-300
        if bad.any():
            if shape.n_verts - int(bad.sum()) >= 3 and shape.n_verts > 3:
                n[bad] = _point_normals(verts, knn)[bad]
            else:
                n[bad] = (0.0, 0.0, 1.0)
            length = np.linalg.norm(n, axis=1)
        return n / length[:, None]
    if shape.n_verts < 3:
        raise InvalidMeshError(
            f"{where(shape.source)}a point cloud needs at least 3 points for normals (got {shape.n_verts})"
        )
    n = _point_normals(verts, knn)
    length = np.linalg.norm(n, axis=1)
    n[length <= 1e-300] = (0.0, 0.0, 1.0)
    return n / np.linalg.norm(n, axis=1, keepdims=True)


def frames_from_normals(n: np.ndarray) -> np.ndarray:
    """Right-handed orthonormal frames (V, 3, 3), rows ``[x, y, n]``, from unit normals (V, 3).

    ``x`` is the coordinate axis least aligned with ``n``, projected onto the tangent plane and
    normalised; ``y = n cross x``.
    """
    n = np.asarray(n, dtype=np.float64)
    axis = np.eye(3)[np.argmin(np.abs(n), axis=1)]
    x = axis - np.einsum("ij,ij->i", axis, n)[:, None] * n
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.cross(n, x)
    return np.stack([x, y, n], axis=1)


def frame_coordinates(vectors: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """(N, 2) components of ambient vectors (N, 3) along the x and y rows of frames (N, 3, 3)
    (the normal part is dropped)."""
    return np.einsum("nij,nj->ni", frames[:, :2], vectors)


def frame_angle(vectors: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """(N,) direction of ambient vectors (N, 3) in frames (N, 3, 3): radians, counter-clockwise
    about the normal from x, in ``(-pi, pi]``."""
    xy = frame_coordinates(vectors, frames)
    return np.arctan2(xy[:, 1], xy[:, 0])


def reference_neighbors(shape: Shape, n: np.ndarray, knn: int = 16) -> np.ndarray:
    """(V,) int64: the neighbour whose direction fixes the x axis of each vertex's frame, -1 where none.

    On a mesh: the lowest-index vertex of the one-ring; on a point cloud: the nearest of the
    ``knn`` nearest points (ties within a relative 1e-9 go to the lowest index). Both depend only
    on the vertex order and the distances, so a rigid motion of the shape keeps every choice. A
    neighbour whose offset is within about 3 degrees of the normal ``n`` (V, 3) is passed over for
    the next one of the same rule; when all are, the one farthest from the normal is used.
    """
    V = shape.n_verts
    verts = shape.verts
    if not shape.is_mesh:
        src, dst = neighbor_pairs(shape, knn=knn)
        return _reference_from_pairs(verts, n, src, dst, V, nearest=True)
    best = np.full(V, -1, dtype=np.int64)
    f = shape.faces
    if len(f) == 0:
        return best
    # fast path: the lowest-index neighbour, checked; the full rule only where it is unusable
    lowest = np.full(V, V, dtype=np.int64)
    for i in range(3):
        np.minimum.at(lowest, f[:, i], np.minimum(f[:, (i + 1) % 3], f[:, (i + 2) % 3]))
    has = np.flatnonzero(lowest < V)
    off = verts[lowest[has]] - verts[has]
    length = np.sqrt(np.einsum("ij,ij->i", off, off))
    along = np.abs(np.einsum("ij,ij->i", off, n[has]))
    ok = along * along < (1.0 - 0.05**2) * length * length  # tangential share above 0.05
    best[has[ok]] = lowest[has[ok]]
    redo = np.zeros(V, dtype=bool)
    redo[has[~ok]] = True
    if redo.any():
        src = np.concatenate([f[:, 0], f[:, 1], f[:, 2], f[:, 1], f[:, 2], f[:, 0]])
        dst = np.concatenate([f[:, 1], f[:, 2], f[:, 0], f[:, 0], f[:, 1], f[:, 2]])
        keep = redo[src]
        sub = _reference_from_pairs(verts, n, src[keep], dst[keep], V, nearest=False)
        best[redo] = sub[redo]
    return best


def _reference_from_pairs(verts: np.ndarray, n: np.ndarray, src: np.ndarray, dst: np.ndarray, V: int, nearest: bool) -> np.ndarray:
    """:func:`reference_neighbors` from candidate pairs (src, dst): the lowest-index usable
    neighbour, or with ``nearest`` the nearest (ties to the lowest index); else the one
    farthest from the normal; -1 where a vertex has no candidate."""
    best = np.full(V, -1, dtype=np.int64)
    if len(src) == 0:
        return best
    off = verts[dst] - verts[src]
    length = np.sqrt(np.einsum("ij,ij->i", off, off))
    along = np.abs(np.einsum("ij,ij->i", off, n[src]))
    ratio = np.sqrt(np.maximum(length * length - along * along, 0.0)) / np.maximum(length, 1e-300)
    usable = ratio > 0.05
    if not nearest:
        rank = dst
    else:
        # nearest first; distances within a relative 1e-9 of the nearest count as ties
        near = np.full(V, np.inf)
        np.minimum.at(near, src, np.where(usable, length, np.inf))
        tie = usable & (length <= near[src] * (1.0 + 1e-9))
        rank = np.where(tie, dst, V)
    # the lowest rank among the usable neighbours: one sort of combined integer keys
    keys = np.sort(src * (V + 1) + np.where(usable, rank, V))
    first = np.r_[True, keys[1:] // (V + 1) != keys[:-1] // (V + 1)]
    v, r = keys[first] // (V + 1), keys[first] % (V + 1)
    best[v[r < V]] = r[r < V]
    # vertices whose neighbours all lie (nearly) along the normal: the one farthest from it
    lacking = np.zeros(V, dtype=bool)
    lacking[v[r == V]] = True
    sel = np.flatnonzero(lacking[src] & (ratio > 1e-12))
    if len(sel):
        o = sel[np.lexsort((dst[sel], -ratio[sel], src[sel]))]
        head = np.r_[True, src[o][1:] != src[o][:-1]]
        best[src[o][head]] = dst[o][head]
    return best


def tangent_frames(shape: Shape, knn: int = 16) -> np.ndarray:
    """Orthonormal right-handed tangent frames at every vertex, fixed by the shape itself.

    Parameters
    ----------
    shape : Shape
        A mesh or a point cloud.
    knn : int
        Neighbourhood size for point-cloud normals and reference neighbours. default: 16

    Returns
    -------
    frames : (V, 3, 3) float64
        ``frames[v]`` has rows ``x, y, n``: ``n`` the outward unit normal (see :func:`normals`),
        ``x`` the direction to the vertex's reference neighbour (:func:`reference_neighbors`:
        the lowest-index one-ring vertex on a mesh, the nearest point on a point cloud)
        projected onto the tangent plane and normalised, ``y = n cross x``; so
        ``det(frames[v]) = +1``. Any tangent frame is a valid gauge: the choice only fixes
        where angle 0 lies. This one is intrinsic to the shape's vertices and connectivity: a
        rigid motion moves every frame along with the shape (``frames @ R.T``), so angles
        measured in the frames (gauge data, patches, gradients) do not change, up to rounding.
        A vertex with no usable neighbour (one in no face, say) falls back to the coordinate
        axis least aligned with ``n`` (:func:`frames_from_normals`).
    """
    n = normals(shape, knn=knn)
    frames = frames_from_normals(n)
    ref = reference_neighbors(shape, n, knn=knn)
    has = ref >= 0
    if has.any():
        nv = n[has]
        off = shape.verts[ref[has]] - shape.verts[has]
        x = off - np.einsum("ij,ij->i", off, nv)[:, None] * nv
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        frames[has] = np.stack([x, np.cross(nv, x), nv], axis=1)
    return frames


def checked_inputs(shape: Shape, frames: np.ndarray | None, knn: int) -> tuple[np.ndarray, int]:
    """The checks every per-vertex operator starts with: a usable shape, ``knn >= 2``, and frames
    (V, 3, 3) (:func:`tangent_frames` when ``None``). Returns ``(frames, knn)``."""
    check_shape(shape)
    knn = check_knn(knn)
    return check_frames(shape, tangent_frames(shape, knn=knn) if frames is None else frames), knn


def gradient_operators(shape: Shape, frames: np.ndarray | None = None, knn: int = 16) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Sparse operators giving the tangent gradient of a per-vertex scalar in each vertex's frame.

    At vertex ``p`` with neighbours ``q`` (the one-ring on a mesh, the ``knn`` nearest points on
    a point cloud), the offsets ``v_q - v_p`` are projected onto p's frame, giving 2-vectors
    ``e_q``; the gradient ``g`` is the least-squares solution of ``e_q . g = f_q - f_p``. The
    2 x 2 normal equations of all vertices are formed and solved at once (no loop over
    vertices); where the neighbours are (nearly) collinear a relative Tikhonov term of 1e-6 keeps
    the answer finite (it then is the minimum-norm-like fit along the neighbours' line).

    Parameters
    ----------
    shape : Shape
        A mesh or a point cloud.
    frames : (V, 3, 3) float64, optional
        Tangent frames (rows x, y, n); default: :func:`tangent_frames`.
    knn : int
        Neighbours per point on point clouds. default: 16

    Returns
    -------
    grad_x, grad_y : (V, V) scipy.sparse.csr_matrix, float64
        ``(grad_x @ f)[p]`` and ``(grad_y @ f)[p]`` are the x and y components of the gradient
        of ``f`` (V,) at ``p``. Exact for linear functions on a flat mesh; rows sum to zero.
        A vertex with no neighbours gets an all-zero row.
    """
    frames, knn = checked_inputs(shape, frames, knn)
    V = shape.n_verts
    src, dst = neighbor_pairs(shape, knn=knn)
    a, b = frame_coordinates(shape.verts[dst] - shape.verts[src], frames[src]).T  # offsets in p's frame
    # Per-vertex normal equations A = sum e e^T (2 x 2, symmetric).
    Aaa = np.bincount(src, a * a, minlength=V)
    Aab = np.bincount(src, a * b, minlength=V)
    Abb = np.bincount(src, b * b, minlength=V)
    # Tikhonov term only where the neighbours are (nearly) collinear, so that flat, well-spread
    # neighbourhoods stay exact.
    tr = Aaa + Abb
    det = Aaa * Abb - Aab * Aab
    reg = np.where(det <= 1e-8 * tr * tr, 1e-6 * tr + 1e-300, 0.0)
    Aaa, Abb = Aaa + reg, Abb + reg
    det = Aaa * Abb - Aab * Aab
    inv_det = np.where(det > 0, 1.0 / np.where(det > 0, det, 1.0), 0.0)
    # Coefficients c_e = A^{-1} e for each neighbour; the centre gets minus their sum.
    s = src
    cx = (Abb[s] * a - Aab[s] * b) * inv_det[s]
    cy = (Aaa[s] * b - Aab[s] * a) * inv_det[s]
    rows = np.concatenate([src, src])
    cols = np.concatenate([dst, src])

    def assemble(c: np.ndarray) -> sp.csr_matrix:
        vals = np.concatenate([c, -c])
        return sp.csr_matrix((vals, (rows, cols)), shape=(V, V))

    return assemble(cx), assemble(cy)
