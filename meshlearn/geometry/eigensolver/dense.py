"""Dense generalised eigenproblems: the whole problem of a small shape, and the Rayleigh-Ritz
projection of a large one onto a basis.

``L`` (V, V) is a symmetric weak Laplacian, ``mass`` (V,) the diagonal of the lumped mass ``M``.

Letters: V vertices, K eigenpairs, n basis vectors.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from ...errors import SolverError

__all__ = ["dense_eigenpairs", "rayleigh_ritz"]

#: Rows per block of the Rayleigh-Ritz products (2 MB of a 128-column block: it stays in cache).
ROWS = 2048


def dense_eigenpairs(L, mass, k):
    """The k smallest pairs ``(evals (K,), evecs (V, K))`` of ``L x = lambda M x`` by LAPACK (all V
    where ``k >= V``); memory about 16 V^2 bytes."""
    V = L.shape[0]
    k = min(k, V)
    A, B = L.toarray(), np.diag(mass)
    if k == V:
        return sla.eigh(A, B)
    return sla.eigh(A, B, subset_by_index=(0, k - 1))


def rayleigh_ritz(
    L, mass, X, *, drop_dependent: bool = False, residual_floor: float | None = None, overwrite: bool = False
):
    """M-orthonormalise the columns of X (V, n) and diagonalise L on their span: ``(evals, evecs)``,
    and with ``residual_floor`` also their relative residuals (see :func:`.residuals.relative_residuals`).

    The Gram matrices of M and L on X, then the small generalised eigenproblem between them, and
    one product with X at the end: one sparse and three dense products with X, the dense ones a
    block of ``ROWS`` rows at a time, so that the only new (V, n) arrays are ``L X`` and the
    answer (with ``overwrite``, written over X: no second one). The residuals reuse ``L X``:
    ``L X'`` for the new vectors ``X' = X (C Q)`` is ``(L X) (C Q)``. The solvers return
    M-orthonormal vectors, so nearly dependent columns mean a failed solve
    (:class:`SolverError`); with ``drop_dependent`` (interpolated vectors) the directions X
    barely spans are left out instead, and fewer than n pairs may come back.
    """
    if not (overwrite and X.flags.c_contiguous and X.dtype == np.float64):
        X = np.array(X, dtype=np.float64, order="C")  # sparse products and row blocks want C order
    LX = L @ X
    G = np.zeros((X.shape[1], X.shape[1]))
    for i in range(0, X.shape[0], ROWS):
        G += X[i : i + ROWS].T @ (X[i : i + ROWS] * mass[i : i + ROWS, None])
    K = X.T @ LX
    g, U = np.linalg.eigh((G + G.T) / 2)
    if drop_dependent:
        keep = g > 1e-10 * g[-1]
        g, U = g[keep], U[:, keep]
    elif g[0] < 0.5:
        raise SolverError(f"the solver returned nearly dependent vectors (smallest Gram eigenvalue {g[0]:.2e})")
    C = U / np.sqrt(g)  # X C is M-orthonormal
    H = C.T @ K @ C
    w, Q = np.linalg.eigh((H + H.T) / 2)
    CQ = C @ Q
    if CQ.shape[1] == X.shape[1]:  # the new vectors row block by row block, over X
        for i in range(0, X.shape[0], ROWS):
            X[i : i + ROWS] = X[i : i + ROWS] @ CQ
        Xn = X
    else:
        Xn = X @ CQ
    if residual_floor is None:
        return w, Xn
    return w, Xn, _residuals(LX, Xn, mass, w, CQ, residual_floor)



def _residuals(LX, Xn, mass, w, CQ, floor):
    """``||L x - w M x|| / (max(|w|, floor) ||M x||)`` for the columns x of ``Xn = X CQ``, with
    ``L Xn = LX CQ``, ``ROWS`` rows at a time."""
    r2 = np.zeros(Xn.shape[1])
    m2 = np.zeros(Xn.shape[1])
    for i in range(0, Xn.shape[0], ROWS):
        MXn = Xn[i : i + ROWS] * mass[i : i + ROWS, None]
        R = LX[i : i + ROWS] @ CQ
        m2 += np.einsum("ij,ij->j", MXn, MXn)
        R -= MXn * w
        r2 += np.einsum("ij,ij->j", R, R)
    return np.sqrt(r2) / (np.maximum(np.abs(w), floor) * np.maximum(np.sqrt(m2), 1e-300))
