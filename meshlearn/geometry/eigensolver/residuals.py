"""How accurate eigenpairs of ``L x = lambda M x`` are: relative residuals against a typical
eigenvalue magnitude of the discretisation.

Letters: V vertices, K eigenpairs.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["lambda_scale", "relative_residuals"]


def lambda_scale(L: sp.csr_matrix, mass: np.ndarray) -> float:
    """A typical eigenvalue magnitude of the discretisation (median of diag(L) / mass)."""
    s = float(np.median(L.diagonal() / mass))
    return s if np.isfinite(s) and s > 0 else 1.0


def relative_residuals(L, M, evals, evecs, *, floor: float | None = None) -> np.ndarray:
    """Relative residuals ``||L x - lambda M x|| / (max(lambda, floor) ||M x||)`` of eigenpairs.

    Parameters
    ----------
    L, M : (V, V) sparse
        Laplacian and mass.
    evals : (K,) float64
    evecs : (V, K) float64
    floor : float, optional
        Eigenvalue magnitude below which residuals are measured against ``floor`` instead of
        ``lambda`` (zero eigenvalues have no relative residual). default: 1e-6 times the median
        of diag(L) / mass, far below the first non-zero eigenvalue of any mesh.

    Returns
    -------
    (K,) float64
    """
    L = sp.csr_matrix(L)
    M = sp.csr_matrix(M)
    if floor is None:
        floor = 1e-6 * lambda_scale(L, M.diagonal())
    MX = M @ evecs
    R = L @ evecs - MX * evals
    return np.linalg.norm(R, axis=0) / (np.maximum(np.abs(evals), floor) * np.maximum(np.linalg.norm(MX, axis=0), 1e-300))

