"""The action of an approximate symmetry on the eigenbasis, and exact projection onto the functions
it fixes.

Letters: V vertices, K eigenpairs, G generators, d_c size of cluster c.

On a shape that is only approximately symmetric (a posed, noisy or remeshed body) no vertex map
commutes with the Laplacian, and the matrix ``C = Phi^T M Phi[T]`` of a detected map is neither
orthogonal nor block diagonal. Its action is estimated instead:

1. eigenvalues are grouped into clusters that the map mixes: consecutive eigenvalues within a
   relative gap ``rtol``, merged further wherever ``C`` couples two eigenfunctions by more than
   ``coupling`` (a left-right pair of limb modes, whose eigenvalues the asymmetric pose split);
2. each diagonal block of ``C`` is replaced by the nearest orthogonal matrix (polar factor), or,
   for an involution, the nearest orthogonal symmetric one (``Q sign(D) Q^T`` from the eigen
   decomposition of its symmetric part), so that it squares to the identity.

The estimate is exactly orthogonal and commutes exactly with the cluster-averaged eigenvalues; it
is only as close to the true symmetry as the shape is to symmetric, and
:class:`ApproximateAction` reports by how much the raw ``C`` missed (``orthogonality_error``,
``off_block_energy``).

Exact invariance at the vertices, under the given map itself, comes from :func:`orbit_projection`:
the M-orthogonal projection onto the functions with ``f[T_g] = s_g f`` for every generator, in
closed form over the connected components of the graph joining each vertex to its images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..errors import ConfigError
from .self_map_refinement import nearest_orthogonal

__all__ = [
    "ApproximateAction",
    "action_clusters",
    "estimate_action",
    "nearest_orthogonal",
    "orbit_labels",
    "orbit_projection",
]


@dataclass
class ApproximateAction:
    """A generator's estimated action on an eigenbasis.

    raw : (K, K) ``Phi^T M Phi[T]`` as measured
    fmap : (K, K) block-diagonal orthogonal estimate (symmetric too for an involution)
    clusters : list of index arrays, the blocks
    orthogonality_error : float ``||raw^T raw - I||_F / sqrt(K)`` (0 for an exact symmetry)
    off_block_energy : float share of ``||raw||_F^2`` outside the blocks
    """

    raw: np.ndarray
    fmap: np.ndarray
    clusters: list[np.ndarray]
    orthogonality_error: float
    off_block_energy: float

    def block(self, c: int) -> np.ndarray:
        """The (d_c, d_c) orthogonal block of cluster ``c``."""
        idx = self.clusters[c]
        return self.fmap[np.ix_(idx, idx)]


def action_clusters(evals: np.ndarray, raw: np.ndarray | None = None, *, rtol: float = 0.02,
                    coupling: float = 0.3) -> list[np.ndarray]:
    """Clusters of eigenvalues a map mixes; contiguous index ranges, ascending.

    Consecutive eigenvalues ``a <= b`` share a cluster when ``b - a <= rtol * |b|``; clusters are
    merged (with everything between them, so that they stay contiguous) wherever
    ``|raw[i, j]| > coupling``.
    """
    evals = np.asarray(evals, dtype=np.float64)
    K = evals.size
    if K == 0:
        return []
    label = np.zeros(K, dtype=np.int64)
    label[1:] = np.cumsum(np.diff(evals) > rtol * np.abs(evals[1:]))
    if raw is not None:
        ii, jj = np.nonzero(np.abs(raw[:K, :K]) > coupling)
        # merge the label range between i and j into one (clusters stay contiguous)
        for i, j in zip(ii, jj):
            lo, hi = sorted((label[i], label[j]))
            if lo != hi:
                label[(label >= lo) & (label <= hi)] = lo
        _, label = np.unique(label, return_inverse=True)
    return [np.flatnonzero(label == c) for c in range(int(label.max()) + 1)]


def estimate_action(evecs: np.ndarray, mass: np.ndarray, vertex_map, evals: np.ndarray, *,
                    involution: bool = True, rtol: float = 0.02, coupling: float = 0.3) -> ApproximateAction:
    """Estimate a (near-)symmetry's action on an eigenbasis (see the module docstring).

    Parameters
    ----------
    evecs : (V, K) M-orthonormal eigenvectors; mass : (V,); evals : (K,) ascending
    vertex_map : (V,) int array or SymmetryMap
    involution : bool
        The map is a reflection (``T∘T = id``): its blocks are made symmetric orthogonal. default: True
    rtol, coupling : see :func:`action_clusters`
    """
    from .symmetry import as_symmetry_map

    evecs = np.asarray(evecs, dtype=np.float64)
    mass = np.asarray(mass, dtype=np.float64)
    T = as_symmetry_map(vertex_map, evecs.shape[0]).vertex_map
    K = evecs.shape[1]
    if np.asarray(evals).shape != (K,):
        raise ConfigError(f"estimate_action needs one eigenvalue per eigenvector ({K}; got {np.shape(evals)})")
    raw = evecs.T @ (mass[:, None] * evecs[T])
    clusters = action_clusters(evals, raw, rtol=rtol, coupling=coupling)
    fmap = np.zeros_like(raw)
    inside = np.zeros(raw.shape, dtype=bool)
    for idx in clusters:
        blk = np.ix_(idx, idx)
        fmap[blk] = nearest_orthogonal(raw[blk], involution)
        inside[blk] = True
    orth = float(np.linalg.norm(raw.T @ raw - np.eye(K)) / np.sqrt(max(K, 1)))
    off = float((raw[~inside] ** 2).sum() / max((raw**2).sum(), 1e-300))
    return ApproximateAction(raw, fmap, clusters, orth, off)


# ---------------------------------------------------------------------------------- at the vertices
def orbit_labels(maps, signs, n_verts: int) -> np.ndarray:
    """Components of the signed double cover of the generators' graph, (2, V) int64.

    Node ``(i, +)`` is joined to ``(T_g(i), s_g)`` and ``(i, -)`` to ``(T_g(i), -s_g)``; a function
    ``f`` satisfies ``f[T_g] = s_g f`` for all g exactly when ``g(i, s) = s f(i)`` is constant on
    these components. ``labels[0, i]`` is the component of ``(i, +)``, ``labels[1, i]`` of ``(i, -)``.
    """
    V = n_verts
    rows, cols = [], []
    idx = np.arange(V)
    for T, s in zip(maps, signs):
        T = np.asarray(T, dtype=np.int64)
        if s > 0:
            rows += [idx, idx + V]
            cols += [T, T + V]
        else:
            rows += [idx, idx + V]
            cols += [T + V, T]
    if not rows:
        return np.stack([idx, idx + V])
    r, c = np.concatenate(rows), np.concatenate(cols)
    A = sp.coo_matrix((np.ones(r.size), (r, c)), shape=(2 * V, 2 * V))
    _, lab = connected_components(A, directed=False)
    return lab.reshape(2, V).astype(np.int64)


def orbit_projection(f: np.ndarray, mass: np.ndarray, maps, signs=None, labels: np.ndarray | None = None) -> np.ndarray:
    """M-orthogonal projection of per-vertex functions onto ``{f : f[T_g] = s_g f for all g}``.

    Exact for any vertex maps (permutations or not): ``f`` is averaged, mass-weighted and signed,
    over each component of :func:`orbit_labels`; a component that meets a vertex with both signs
    (a fixed point of an anti-invariant generator, an odd cycle) gets 0.

    Parameters
    ----------
    f : (V,) or (V, C); mass : (V,); maps : G vertex maps; signs : G values in {+1, -1}
    labels : precomputed :func:`orbit_labels` (reused across calls)
    """
    f = np.asarray(f, dtype=np.float64)
    mass = np.asarray(mass, dtype=np.float64)
    V = f.shape[0]
    signs = np.ones(len(maps)) if signs is None else np.asarray(signs, dtype=np.float64)
    lab = orbit_labels(maps, signs, V) if labels is None else labels
    n = int(lab.max()) + 1
    flat = f.reshape(V, -1)
    num = np.zeros((n, flat.shape[1]))
    den = np.zeros(n)
    np.add.at(num, lab[0], mass[:, None] * flat)
    np.add.at(num, lab[1], -mass[:, None] * flat)
    np.add.at(den, lab[0], mass)
    np.add.at(den, lab[1], mass)
    c = num / den[:, None]
    return c[lab[0]].reshape(f.shape)
