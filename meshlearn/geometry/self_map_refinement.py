"""ZoomOut refinement of a self-map of a shape, kept close to an isometry.

Letters: V vertices, K eigenfunctions, S sampled vertices.

A map ``T`` of a shape onto itself acts on functions by ``P f = f[T]``; in the eigenbasis ``Phi``
(M-orthonormal, constants left out) its functional map is ``C = Phi^T M Phi[T]`` and
``Phi[T] ~ Phi C``. ZoomOut (Melzi et al. 2019) alternates the functional map from the pointwise
map and the pointwise map from the functional map (nearest neighbours of the rows of ``Phi C``
among the rows of ``Phi``) while the basis grows. For a self-map two known properties of an
isometry are imposed on ``C`` at each step, both of which the raw estimate loses on a shape that is
only approximately symmetric (non-isometric limbs, noise, remeshing):

- it commutes with the eigenvalues, ``Lambda C = C Lambda``: the least-squares estimate with the
  penalty ``mu ||Lambda C - C Lambda||^2`` (eigenvalues over the largest in the basis) has the
  closed form ``C_ij / (1 + mu (l_i - l_j)^2)``, which damps couplings between distant frequencies;
- it is orthogonal: the damped estimate is replaced by its nearest orthogonal matrix (polar factor);
  for a reflection, optionally, by its nearest orthogonal involution (symmetric orthogonal,
  ``C = C^T = C^-1``, the map of a ``T`` with ``T o T = id``):
  ``Q sign(D) Q^T`` for ``(C + C^T) / 2 = Q D Q^T``.

Without the two, the refinement of even the ground-truth mirror of a posed body drifts to maps
whose points land several percent of sqrt(area) away (measured in
``benchmarks/bench_symmetry_detection.py``).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["nearest_rows", "nearest_orthogonal", "isometric_fmap", "zoomout_self_map", "basis_sizes"]


def nearest_rows(points: np.ndarray, query: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Nearest row of ``points`` for each row of ``query``: (distances, indices).

    A KD-tree in a few dimensions; beyond that brute force in chunks, one matrix product each,
    which in the tens of dimensions of a spectral embedding beats tree searches.
    """
    if points.shape[1] <= 8:
        d, j = cKDTree(points).query(query)
        return d, np.asarray(j, dtype=np.int64)
    p2 = np.einsum("ij,ij->i", points, points)
    dist = np.empty(len(query))
    idx = np.empty(len(query), dtype=np.int64)
    for s in range(0, len(query), chunk):
        q = query[s:s + chunk]
        d2 = p2[None, :] - 2.0 * (q @ points.T)
        j = np.argmin(d2, axis=1)
        idx[s:s + chunk] = j
        dist[s:s + chunk] = np.sqrt(np.maximum(d2[np.arange(len(q)), j] + np.einsum("ij,ij->i", q, q), 0.0))
    return dist, idx


def nearest_orthogonal(B: np.ndarray, involution: bool = False) -> np.ndarray:
    """The nearest orthogonal matrix to ``B`` (Frobenius): its polar factor; with ``involution``,
    the nearest symmetric orthogonal one, ``Q sign(D) Q^T`` for ``(B + B^T) / 2 = Q D Q^T``."""
    if involution:
        w, Q = np.linalg.eigh(0.5 * (B + B.T))
        return (Q * np.where(w >= 0, 1.0, -1.0)) @ Q.T
    U, _, Vt = np.linalg.svd(B)
    return U @ Vt


def isometric_fmap(C: np.ndarray, evals: np.ndarray, commute: float = 10.0, involution: bool = False) -> np.ndarray:
    """The orthogonal matrix nearest to ``C`` damped towards commuting with ``diag(evals)``.

    Parameters
    ----------
    C : (k, k) a measured functional map
    evals : (k,) the basis' eigenvalues (positive, ascending)
    commute : float
        Weight ``mu`` of the commutativity penalty, for eigenvalues divided by the largest;
        0 gives the plain polar factor. default: 10.0
    involution : bool
        Return the nearest symmetric orthogonal matrix (an involution, ``Q @ Q = I``) instead.
        default: False

    Returns
    -------
    (k, k) orthogonal float64 (also symmetric with ``involution``)
    """
    if commute > 0:
        lam = np.asarray(evals, dtype=np.float64) / max(float(evals[-1]), 1e-300)
        C = C / (1.0 + commute * (lam[:, None] - lam[None, :]) ** 2)
    return nearest_orthogonal(C, involution=involution)


def basis_sizes(k0: int, k1: int, step: int) -> list[int]:
    """``k0, k0 + step, ...`` up to and including ``k1``."""
    out = list(range(k0, k1 + 1, step)) or [k1]
    if out[-1] != k1:
        out.append(k1)
    return out


def zoomout_self_map(phi: np.ndarray, mass: np.ndarray, T: np.ndarray, sizes, rows: np.ndarray | None = None,
                     evals: np.ndarray | None = None, commute: float = 10.0, involution: bool = False):
    """ZoomOut refinement of a self-map restricted to ``rows`` (a vertex sample, or all).

    Parameters
    ----------
    phi : (V, K) M-orthonormal eigenfunctions (constants left out); mass : (V,)
    T : (S,) int, positions into ``rows``: the map of ``rows`` into ``rows``
    sizes : increasing basis sizes, each at most K
    rows : (S,) int vertex sample, default all vertices
    evals : (K,) eigenvalues of ``phi``; when given, each ``C`` is made orthogonal and close to
        commuting with them (:func:`isometric_fmap` with weight ``commute``); else only symmetrised
    commute : float
        See :func:`isometric_fmap`. default: 10.0
    involution : bool
        With ``evals``: project each ``C`` on the orthogonal involutions (see
        :func:`isometric_fmap`). default: False

    Returns
    -------
    T : (S,) int64 positions into ``rows``; C : (k, k) at the last size; residual : float
        Mean distance from ``(Phi C)[i]`` to ``Phi[T(i)]`` over the mean row norm of ``Phi``.
    """
    rows = np.arange(phi.shape[0]) if rows is None else rows
    ps = phi[rows]
    ms = mass[rows] * (mass.sum() / mass[rows].sum())
    resid = float("nan")
    C = np.zeros((0, 0))
    T = np.asarray(T, dtype=np.int64)
    for k in sizes:
        sub = ps[:, :k]
        C = sub.T @ (ms[:, None] * sub[T])
        C = 0.5 * (C + C.T) if evals is None else isometric_fmap(C, evals[:k], commute, involution)
        d, T = nearest_rows(sub, sub @ C)
        resid = float(d.mean() / np.linalg.norm(sub, axis=1).mean())
    return np.asarray(T, dtype=np.int64), C, resid
