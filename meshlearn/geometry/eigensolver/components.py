"""Eigenpairs of a shape in several pieces: each connected component solved on its own.

Letters: V vertices, K eigenpairs, C components.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["solve_by_component"]


def solve_by_component(
    solve: Callable[..., tuple[np.ndarray, np.ndarray]], L, M, k: int, labels: np.ndarray, n_comp: int, **kwargs
) -> tuple[np.ndarray, np.ndarray]:
    """Solve each connected component alone and keep the k smallest pairs overall.

    ``solve(L_c, M_c, k_c, **kwargs)`` gives the ``k_c`` smallest pairs of one component's
    matrices; ``labels`` (V,) is each vertex's component in ``0 .. n_comp - 1``. Returns
    ``evals (K,)`` ascending (ties in component order) and ``evecs (V, K)``.

    The zero eigenvalue of a shape with C components is exactly C-fold; Lanczos finds only one
    vector of an exactly repeated eigenvalue reliably, so the components are never solved together.
    Eigenvectors are zero outside their component, hence M-orthonormal across components.
    """
    V = L.shape[0]
    vals, vecs = [], []
    for c in range(n_comp):
        idx = np.flatnonzero(labels == c)
        w, X = solve(L[idx][:, idx], M[idx][:, idx], min(k, idx.size), **kwargs)
        vals.append(w)
        vecs.append((idx, X))
    w_all = np.concatenate(vals)
    order = np.argsort(w_all, kind="stable")[:k]
    evecs = np.zeros((V, order.size))
    starts = np.cumsum([0] + [v.size for v in vals])
    for j, o in enumerate(order):
        c = int(np.searchsorted(starts, o, side="right") - 1)
        idx, X = vecs[c]
        evecs[idx, j] = X[:, o - starts[c]]
    return w_all[order], evecs
