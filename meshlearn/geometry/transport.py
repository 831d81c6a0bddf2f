"""Parallel transport, neighbour angles, log maps and geodesic patches: what gauge and patch nets need.

Letters: V vertices, F faces, E directed edges, P patch entries.

Conventions (the same as :mod:`meshlearn.geometry.frames` and ``DESIGN.md``)
------------------------------------------------------------------------------
- Frames are (V, 3, 3), rows ``[x, y, n]``, right-handed, ``n`` the outward normal.
- Angles are radians, counter-clockwise about the normal, measured from the frame's ``x`` axis,
  wrapped to ``(-pi, pi]``.
- For a directed edge ``e = (p, q)`` (``p = edge_index[0, e]``): ``angle[e]`` is the direction of
  ``q`` seen from ``p`` in p's frame; ``transport[e]`` is the Levi-Civita transport from q to p:
  a tangent vector at ``q`` with angle ``psi`` in q's frame, carried along the edge to ``p``, has
  angle ``psi + transport[e]`` in p's frame. Hence ``transport[(q, p)] = -transport[(p, q)]``.

Mesh connection
---------------
On a mesh the directions of the outgoing edges of a vertex are taken intrinsically: going
counter-clockwise around ``p``, the direction of each edge is the sum of the corner angles passed
so far, scaled by ``2 pi / (angle sum at p)`` at interior vertices (so the one-ring closes exactly
into one turn; boundary vertices are not scaled unless their angle sum exceeds ``2 pi``). These
angle-scaled polar coordinates (the vertex connection of Knöppel et al. and geometry-central) are
rotated per vertex by the angle that best matches (least squares on the circle) the directions of
the edges projected onto the frame, so ``angle[e]`` agrees with the projected direction of
``q - p`` up to the angle scaling, and exactly on flat regions. The transport along ``(p, q)`` is
``angle[(p, q)] - angle[(q, p)] + pi``: the edge direction from ``q`` to ``p`` arrives at ``p``
pointing away from ``q``. Composed around a face (i, j, k) (counter-clockwise) the transports
give the face's holonomy ``(sum of its three scaled corner angles) - pi``; on a closed mesh the
holonomies sum to ``2 pi * (Euler characteristic)``, and on a flat patch they are zero.

Point-cloud connection
----------------------
On point clouds the edges are the symmetric k-nearest-neighbour graph, ``angle[e]`` is the
direction of ``q - p`` projected onto p's frame, and the transport rotates q's tangent plane onto
p's by the smallest rotation taking ``n_q`` to ``n_p`` (the discrete Levi-Civita connection used
for point clouds by GEM-CNN-style models).
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import ConfigError, InvalidMeshError, where
from ..shape import Shape
from .frames import _check_frames, _check_knn, _check_shape, knn_pairs, tangent_frames
from .operators import GaugeData

__all__ = ["gauge_data", "wrap_angle", "corner_angles", "halfedge_polar_angles"]

log = logging.getLogger(__name__)

TWO_PI = 2.0 * np.pi


def wrap_angle(a: np.ndarray) -> np.ndarray:
    """Angles wrapped to ``(-pi, pi]`` (array of any shape, radians)."""
    a = np.asarray(a, dtype=np.float64)
    w = np.mod(a + np.pi, TWO_PI) - np.pi
    return np.where(w == -np.pi, np.pi, w)


def corner_angles(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F, 3) interior angle of each face at each of its corners, radians."""
    tri = verts[faces]
    out = np.empty(faces.shape, dtype=np.float64)
    for i in range(3):
        u = tri[:, (i + 1) % 3] - tri[:, i]
        v = tri[:, (i + 2) % 3] - tri[:, i]
        out[:, i] = np.arctan2(np.linalg.norm(np.cross(u, v), axis=1), np.einsum("ij,ij->i", u, v))
    return out


def _lookup(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Index of each key in ``sorted_keys``, -1 where absent."""
    pos = np.searchsorted(sorted_keys, keys)
    pos = np.minimum(pos, max(len(sorted_keys) - 1, 0))
    found = (len(sorted_keys) > 0) & (sorted_keys[pos] == keys) if len(sorted_keys) else np.zeros(len(keys), bool)
    return np.where(found, pos, -1)


def halfedge_polar_angles(shape: Shape) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Angle-scaled polar coordinates of every outgoing halfedge at its tail vertex.

    Walks counter-clockwise around every vertex at once (pointer jumping over the corners, no
    loop over vertices) and accumulates corner angles.

    Returns
    -------
    src, dst : (E,) int64
        Every directed edge, sorted by ``src`` then ``dst``.
    phi : (E,) float64
        Direction of ``dst`` around ``src``, radians in ``[0, 2 pi)``, counter-clockwise from the
        vertex's first halfedge (see the module docstring for the scaling).
    scale : (V,) float64
        The angle scaling used at each vertex (``2 pi / angle sum`` at interior vertices).

    Raises
    ------
    InvalidMeshError
        When a directed edge occurs in two faces (a non-manifold edge or inconsistently oriented
        faces).
    """
    verts, faces = shape.verts, shape.faces
    V = shape.n_verts
    F = faces.shape[0]
    theta = corner_angles(verts, faces).ravel()  # corner c = 3 f + i
    p = faces.ravel()
    j = faces[:, [1, 2, 0]].ravel()
    k = faces[:, [2, 0, 1]].ravel()
    start_key = p * V + j  # the halfedge p -> j where the corner begins (counter-clockwise)
    end_key = p * V + k  # the halfedge p -> k where it ends
    order = np.argsort(start_key, kind="stable")
    sk = start_key[order]
    dup = sk[1:] == sk[:-1]
    if dup.any():
        e = sk[1:][dup][0]
        raise InvalidMeshError(
            f"{where(shape.source)}the directed edge ({int(e // V)}, {int(e % V)}) belongs to more than one face "
            f"({int(dup.sum())} such edges): the mesh has non-manifold edges or inconsistently oriented faces; "
            "load with clean=True to repair it, or treat it as a point cloud (faces=None)"
        )
    n_corner = 3 * F
    nxt = _lookup(sk, end_key)
    nxt = np.where(nxt >= 0, order[np.maximum(nxt, 0)], -1)
    prev = np.full(n_corner, -1, dtype=np.int64)
    has = nxt >= 0
    prev[nxt[has]] = np.nonzero(has)[0]
    valence = np.bincount(p, minlength=V)
    n_iter = int(np.ceil(np.log2(max(int(valence.max()) if V else 1, 2)))) + 1
    ids = np.arange(n_corner)

    def rank(prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        P = np.where(prev >= 0, prev, ids)
        acc = np.where(prev >= 0, theta[np.maximum(prev, 0)], 0.0)
        for _ in range(n_iter):
            acc = acc + acc[P]
            P = P[P]
        return P, acc

    P, acc = rank(prev)
    cyc = prev[P] >= 0  # corners whose backward walk never ended: closed fans
    if cyc.any():
        # Break each cycle at its smallest corner id (min over the cycle by doubling).
        m = np.where(cyc, ids, n_corner)
        step = np.where(cyc, nxt, ids)
        for _ in range(n_iter):
            m = np.minimum(m, m[step])
            step = step[step]
        roots = ids[cyc & (m == ids)]
        tails = prev[roots]
        nxt[tails] = -1
        prev[roots] = -1
        P, acc = rank(prev)
    closed_root = np.zeros(n_corner, dtype=bool)
    if cyc.any():
        closed_root[roots] = True
    # Several fans at one vertex (boundary or non-manifold vertex): lay them side by side.
    tail = nxt < 0
    total = np.zeros(n_corner)
    total[P[tail]] = acc[tail] + theta[tail]
    root_ids = ids[prev < 0]
    ro = root_ids[np.lexsort((root_ids, p[root_ids]))]
    tot = total[ro]
    csum = np.cumsum(tot) - tot
    first = np.r_[True, p[ro][1:] != p[ro][:-1]]
    seg_start = np.maximum.accumulate(np.where(first, np.arange(len(ro)), 0))
    offset = np.zeros(n_corner)
    offset[ro] = csum - csum[seg_start]
    acc = acc + offset[P]
    angle_sum = np.bincount(p, theta, minlength=V)
    n_fans = np.bincount(p[ro], minlength=V)
    closed = np.zeros(V, dtype=bool)
    closed[p[closed_root]] = True
    closed &= n_fans == 1
    safe = np.where(angle_sum > 0, angle_sum, 1.0)
    scale = np.where(closed | (angle_sum > TWO_PI), TWO_PI / safe, 1.0)
    phi_start = acc * scale[p]
    phi_end = (acc + theta) * scale[p]
    keys = np.concatenate([start_key, end_key])
    vals = np.concatenate([phi_start, phi_end])
    ukeys, first_idx = np.unique(keys, return_index=True)
    phi = np.mod(vals[first_idx], TWO_PI)
    return ukeys // V, ukeys % V, phi, scale


def _mesh_gauge(shape: Shape, frames: np.ndarray) -> GaugeData:
    V = shape.n_verts
    src, dst, phi, _ = halfedge_polar_angles(shape)
    d = shape.verts[dst] - shape.verts[src]
    beta = np.arctan2(np.einsum("ij,ij->i", d, frames[src, 1]), np.einsum("ij,ij->i", d, frames[src, 0]))
    # Per-vertex rotation aligning the intrinsic polar angles with the frame (circular mean).
    c = np.bincount(src, np.cos(beta - phi), minlength=V)
    s = np.bincount(src, np.sin(beta - phi), minlength=V)
    alpha = np.arctan2(s, c)
    angle = wrap_angle(phi + alpha[src])
    rev = _lookup(src * V + dst, dst * V + src)
    if (rev < 0).any():  # pragma: no cover - every face edge is produced in both directions
        raise InvalidMeshError(f"{where(shape.source)}internal error: a mesh edge lacks its reverse")
    transport = wrap_angle(angle - angle[rev] + np.pi)
    return GaugeData(np.stack([src, dst]), angle, transport)


def _cloud_gauge(shape: Shape, frames: np.ndarray, knn: int) -> GaugeData:
    V = shape.n_verts
    s, d = knn_pairs(shape.verts, knn)
    keys = np.unique(np.concatenate([s * V + d, d * V + s]))
    src, dst = keys // V, keys % V
    ok = src != dst
    src, dst = src[ok], dst[ok]
    off = shape.verts[dst] - shape.verts[src]
    fp, fq = frames[src], frames[dst]
    angle = np.arctan2(np.einsum("ij,ij->i", off, fp[:, 1]), np.einsum("ij,ij->i", off, fp[:, 0]))
    # Smallest rotation taking n_q onto n_p, applied to x_q (Rodrigues, axis n_q x n_p).
    a, b, u = fq[:, 2], fp[:, 2], fq[:, 0]
    axis = np.cross(a, b)
    cos = np.einsum("ij,ij->i", a, b)
    ru = (
        u * cos[:, None]
        + np.cross(axis, u)
        + axis * (np.einsum("ij,ij->i", axis, u) / np.maximum(1.0 + cos, 1e-12))[:, None]
    )
    transport = np.arctan2(np.einsum("ij,ij->i", ru, fp[:, 1]), np.einsum("ij,ij->i", ru, fp[:, 0]))
    return GaugeData(np.stack([src, dst]), wrap_angle(angle), wrap_angle(transport))


def gauge_data(shape: Shape, frames: np.ndarray | None = None, knn: int = 16) -> GaugeData:
    """Neighbour angles and Levi-Civita transport angles of every directed edge.

    Parameters
    ----------
    shape : Shape
        A manifold, consistently oriented mesh (boundaries, several components and non-manifold
        vertices are fine), or a point cloud.
    frames : (V, 3, 3) float64, optional
        Tangent frames, rows ``[x, y, n]``; default: :func:`~meshlearn.geometry.tangent_frames`.
    knn : int
        Neighbours per point on point clouds (the graph is then symmetrised). default: 16

    Returns
    -------
    GaugeData
        ``edge_index`` (2, E) int64 sorted by source then target: every directed mesh edge, or
        the symmetric kNN graph; ``angle`` (E,) float64, the direction of the target in the
        source's frame; ``transport`` (E,) float64, the angle that takes a tangent vector in the
        target's frame to its parallel transport in the source's frame. Both in ``(-pi, pi]``.
        See the module docstring for the exact definitions.

    Raises
    ------
    InvalidMeshError
        A mesh with non-manifold edges or inconsistently oriented faces (load with
        ``clean=True``, or use it as a point cloud).
    """
    _check_shape(shape)
    knn = _check_knn(knn)
    if frames is None:
        frames = tangent_frames(shape, knn=knn)
    frames = _check_frames(shape, frames)
    if shape.is_mesh and shape.n_faces:
        return _mesh_gauge(shape, frames)
    if shape.is_mesh:
        raise InvalidMeshError(f"{where(shape.source)}the mesh has no faces; load it as a point cloud (faces=None)")
    if shape.n_verts < 3:
        raise InvalidMeshError(f"{where(shape.source)}a point cloud needs at least 3 points (got {shape.n_verts})")
    return _cloud_gauge(shape, frames, knn)
