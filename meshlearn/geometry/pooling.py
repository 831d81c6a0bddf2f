"""Coarser levels of a shape for parallel-transport pooling (GEM-CNN's multi-scale model).

Letters: V_k vertices of level k (level 0 is the shape), E_k directed edges of level k, S levels
below the shape.

Each level is made from the one above it:

1. *Sampling.* About ``ratio * V_{k-1}`` vertices are kept by farthest-point sampling with
   Euclidean distances, starting from vertex 0 (distances within a relative 1e-9 of the largest
   count as tied and go to the lowest index, so a rigid motion keeps every choice). A connected
   component of the level's graph that no sample reached gets its lowest-index vertex as one more.
   The kept vertices keep their frames.
2. *Clusters.* Every vertex joins the nearest kept vertex along the level's edges (Dijkstra with
   Euclidean edge lengths, all sources at once; each length is raised by a relative 1e-7 times a
   hash of the edge's vertex indices, so equally long paths are told apart by the indices, not
   by rounding).
3. *Transport into the cluster's gauge.* A tangent vector at vertex p is carried to its kept
   vertex c along the shortest path that Dijkstra found, composing the edges' transport angles:
   ``pool_transport[p]`` rotates a vector in p's frame into c's frame.
4. *Pooling weights.* ``weight[p] = area_p / (area of p's cluster)``: barycentric vertex areas on
   meshes (equal weights on point clouds), summed into the coarse vertex's area for the next level.
5. *The coarse graph.* Kept vertices c, d are joined when an edge of the level joins their
   clusters. ``angle`` is the direction of d projected onto c's frame; the transport from d to c is
   the circular mean, over the edges (p, q) between the clusters, of the composed transport
   ``q -> d``-inverse, ``q -> p``, ``p -> c``: ``pool_transport[p] + transport[(p, q)] -
   pool_transport[q]`` (exactly antisymmetric: the reverse edge gets the negated mean).

Everything is measured in the frames and from distances, so the levels of a rigidly moved shape
have the same indices and angles up to rounding.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import ConfigError
from ..shape import Shape
from .angles import wrap_angle
from .frames import frame_angle
from .types import GaugeData, GaugePoolData

__all__ = ["gauge_pooling", "farthest_point_sampling", "vertex_areas"]


def vertex_areas(shape: Shape) -> np.ndarray:
    """(V,) barycentric vertex areas (a third of each incident face's area); ones on point clouds."""
    if not (shape.is_mesh and shape.n_faces):
        return np.ones(shape.n_verts)
    tri = shape.verts[shape.faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    return np.bincount(shape.faces.ravel(), np.repeat(area / 3.0, 3), minlength=shape.n_verts)


def farthest_point_sampling(points: np.ndarray, n: int) -> np.ndarray:
    """(n,) int64 indices of ``points`` (N, 3): greedy farthest-point sampling from index 0,
    near-ties (squared distances within a relative 1e-9 of the largest) going to the lowest index."""
    N = points.shape[0]
    n = int(min(max(n, 1), N))
    chosen = np.empty(n, dtype=np.int64)
    chosen[0] = 0
    X, Y, Z = (np.ascontiguousarray(points[:, i]) for i in range(3))
    d = np.full(N, np.inf)
    t = np.empty(N)
    u = np.empty(N)
    j = 0
    for i in range(n):
        if i:
            j = int(d.argmax())
            top = d[j]
            if top <= 0:  # only duplicates of chosen points are left: the lowest-index unchosen
                rest = np.ones(N, dtype=bool)
                rest[chosen[:i]] = False
                j = int(np.flatnonzero(rest)[0])
            elif (d >= top * (1.0 - 1e-9)).sum() > 1:
                j = int(np.flatnonzero(d >= top * (1.0 - 1e-9))[0])
            chosen[i] = j
        np.subtract(X, X[j], out=t)
        np.multiply(t, t, out=u)
        np.subtract(Y, Y[j], out=t)
        u += t * t
        np.subtract(Z, Z[j], out=t)
        u += t * t
        np.minimum(d, u, out=d)
        d[j] = -1.0  # never again
    return chosen


def _edge_lookup(src: np.ndarray, dst: np.ndarray, n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    keys = src * n + dst
    order = np.argsort(keys, kind="stable")
    pos = np.searchsorted(keys[order], a * n + b)
    return order[np.minimum(pos, len(keys) - 1)]


def _coarsen(pos, frames, src, dst, trans, area, ratio):
    """One level down. Returns (kept, cluster, pool_transport, weight, coarse src, dst, angle, transport, area)."""
    from scipy.sparse.csgraph import connected_components, dijkstra

    n = pos.shape[0]
    kept = farthest_point_sampling(pos, int(np.ceil(ratio * n)))
    length = np.linalg.norm(pos[dst] - pos[src], axis=1)
    # Paths of equal length (common on regular meshes) would go to whichever source rounding
    # favours; lengthening every edge by a relative 1e-7 times a hash of its two vertex indices
    # (symmetric in them) breaks such ties by the indices alone, far above rounding.
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    h = ((lo * 2654435761 + hi * 40503) % 1000003) / 1000003.0
    length = length * (1.0 + 1e-7 * h)
    graph = sp.csr_matrix((np.maximum(length, 1e-300), (src, dst)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    missing = np.setdiff1d(np.arange(label.max() + 1), label[kept])
    if len(missing):  # components without a sample: their lowest-index vertex
        first = np.full(label.max() + 1, n)
        np.minimum.at(first, label, np.arange(n))
        kept = np.concatenate([kept, first[missing]])
    _, pred, source = dijkstra(graph, directed=False, indices=kept, min_only=True, return_predecessors=True)
    local = np.full(n, -1, dtype=np.int64)
    local[kept] = np.arange(len(kept))
    cluster = local[source]
    # transport along the predecessor tree, composed by pointer jumping
    root = pred < 0
    par = np.where(root, np.arange(n), pred)
    acc = np.zeros(n)
    inner = np.flatnonzero(~root)
    if len(inner):
        acc[inner] = trans[_edge_lookup(src, dst, n, par[inner], inner)]
    for _ in range(int(np.ceil(np.log2(max(n, 2)))) + 1):
        acc = acc + acc[par]
        par = par[par]
    pool_transport = wrap_angle(acc)
    coarse_area = np.bincount(cluster, area, minlength=len(kept))
    weight = area / coarse_area[cluster]
    # coarse graph
    m = len(kept)
    cs, cd = cluster[src], cluster[dst]
    between = cs != cd
    val = pool_transport[src] + trans - pool_transport[dst]
    keys = cs[between] * m + cd[between]
    uniq, inv = np.unique(keys, return_inverse=True)
    c = np.bincount(inv, np.cos(val[between]), minlength=len(uniq))
    s = np.bincount(inv, np.sin(val[between]), minlength=len(uniq))
    csrc, cdst = uniq // m, uniq % m
    # the reverse edge has the negated values; average the two so the result is exactly antisymmetric
    rev = _edge_lookup(csrc, cdst, m, cdst, csrc)
    ctrans = np.arctan2(s - s[rev], c + c[rev])  # the reverse edge's arguments: exactly (-y, x)
    kp, kf = pos[kept], frames[kept]
    cangle = wrap_angle(frame_angle(kp[cdst] - kp[csrc], kf[csrc]))
    return kept, cluster, pool_transport, weight, csrc, cdst, cangle, ctrans, coarse_area


def gauge_pooling(shape: Shape, frames: np.ndarray, gauge: GaugeData, levels: int = 2, ratio: float = 0.25) -> GaugePoolData:
    """The coarser levels of ``shape`` with their gauge data and the pooling between levels.

    Parameters
    ----------
    shape : Shape
        A mesh or a point cloud.
    frames : (V, 3, 3) float64
        The tangent frames of ``gauge`` (rows x, y, n; :func:`~meshlearn.geometry.tangent_frames`).
    gauge : GaugeData
        The shape's gauge data (:func:`~meshlearn.geometry.gauge_data`), numpy arrays.
    levels : int
        S, the number of coarser levels. default: 2 (the paper's three scales)
    ratio : float
        Each level keeps about this fraction of the vertices of the one above. default: 0.25

    Returns
    -------
    GaugePoolData
        See the module docstring for the definitions and :class:`GaugePoolData` for the layout.
    """
    levels = int(levels)
    if levels < 1:
        raise ConfigError(f"pool_levels must be at least 1 (got {levels})")
    if not 0.0 < float(ratio) < 1.0:
        raise ConfigError(f"pool_ratio must be between 0 and 1 (got {ratio!r})")
    pos = np.asarray(shape.verts, dtype=np.float64)
    frames = np.asarray(frames, dtype=np.float64)
    src, dst = (np.asarray(a, dtype=np.int64) for a in gauge.edge_index)
    trans = np.asarray(gauge.transport, dtype=np.float64)
    area = vertex_areas(shape)
    n_verts, n_edges = [pos.shape[0]], []
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("index", "cluster", "pool_transport", "weight", "edge_index", "angle", "transport")}
    for _ in range(levels):
        kept, cluster, pt, w, src, dst, angle, trans, area = _coarsen(pos, frames, src, dst, trans, area, ratio)
        pos, frames = pos[kept], frames[kept]
        n_verts.append(len(kept))
        n_edges.append(len(src))
        for name, value in (("index", kept), ("cluster", cluster), ("pool_transport", pt), ("weight", w),
                            ("edge_index", np.stack([src, dst])), ("angle", angle), ("transport", trans)):
            parts[name].append(value)
    return GaugePoolData(
        n_verts=np.asarray(n_verts, dtype=np.int64),
        n_edges=np.asarray(n_edges, dtype=np.int64),
        index=np.concatenate(parts["index"]),
        cluster=np.concatenate(parts["cluster"]),
        pool_transport=np.concatenate(parts["pool_transport"]),
        weight=np.concatenate(parts["weight"]),
        edge_index=np.concatenate(parts["edge_index"], axis=1),
        angle=np.concatenate(parts["angle"]),
        transport=np.concatenate(parts["transport"]),
    )
