"""Eigenbasis of the Laplacian and spectral descriptors (HKS, WKS).

Letters: V vertices, K eigenpairs, T descriptor scales.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..errors import ConfigError, SolverError, where

__all__ = ["eigenbasis", "hks", "wks", "hks_times", "wks_energies"]

log = logging.getLogger(__name__)

DENSE_LIMIT = 2000


def eigenbasis(L: sp.spmatrix, M: sp.spmatrix, k: int = 128, *, source: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest eigenpairs of the generalised problem ``L phi = lambda M phi``.

    Parameters
    ----------
    L : (V, V) sparse, PSD weak Laplacian.
    M : (V, V) sparse diagonal lumped mass.
    k : int
        Number of eigenpairs; when ``k >= V`` all V pairs are returned (dense solve).
    source : str, optional
        File name for error messages.

    Returns
    -------
    evals : (K,) float64, ascending, clipped at 0.
    evecs : (V, K) float64, M-orthonormal: ``evecs.T @ M @ evecs = I``.
    """
    V = L.shape[0]
    if k < 1:
        raise ConfigError(f"k must be >= 1 (got {k})")
    L = sp.csr_matrix(L, dtype=np.float64)
    M = sp.csr_matrix(M, dtype=np.float64)
    mass = M.diagonal()
    if not np.all(np.isfinite(L.data)) or not np.all(np.isfinite(mass)) or np.any(mass <= 0):
        raise SolverError(
            f"{where(source)}the Laplacian or mass has non-finite or non-positive entries; "
            "load the mesh with clean=True to remove degenerate faces and isolated vertices"
        )
    if V <= DENSE_LIMIT or k >= V - 1:
        evals, evecs = _dense(L, mass, min(k, V))
    else:
        evals, evecs = _shift_invert(L, M, k, source)
    evals = np.clip(evals, 0.0, None)
    return evals, evecs


def _dense(L: sp.csr_matrix, mass: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    w, U = sla.eigh(L.toarray(), np.diag(mass), subset_by_index=(0, k - 1))
    return w, U


def _shift_invert(L, M, k, source):
    V = L.shape[0]
    eps = 1e-8 * float(np.abs(L.diagonal()).mean() or 1.0)
    last = None
    for attempt in range(3):
        shift = -eps * (10.0**attempt)
        try:
            evals, evecs = spla.eigsh(L, k=k, M=M, sigma=shift, which="LM", tol=0)
        except (RuntimeError, spla.ArpackError, spla.ArpackNoConvergence, ValueError) as e:
            last = e
            log.warning("%seigensolve attempt %d failed (%s); retrying", where(source), attempt + 1, e)
            continue
        order = np.argsort(evals)
        evals, evecs = evals[order], evecs[:, order]
        resid = np.linalg.norm(L @ evecs - (M @ evecs) * evals, axis=0)
        scale = (np.abs(evals) + np.abs(L.diagonal()).mean()) * np.linalg.norm(M @ evecs, axis=0)
        if np.all(resid / scale < 1e-6):
            return evals, evecs
        last = f"residual {float((resid / scale).max()):.2e}"
    raise SolverError(f"{where(source)}eigensolve for {k} pairs of a {V}-vertex Laplacian failed ({last}); "
                      "try clean=True or a smaller k")


def hks_times(evals: np.ndarray, n: int = 16) -> np.ndarray:
    """``n`` log-spaced diffusion times between 4 ln10 / lambda_max and 4 ln10 / lambda_1."""
    evals = np.asarray(evals)
    pos = evals[evals > 1e-9 * max(float(evals.max()), 1e-300)]
    if pos.size == 0:
        return np.ones(n)
    tmin = 4 * np.log(10) / pos.max()
    tmax = 4 * np.log(10) / pos.min()
    return np.geomspace(tmin, tmax, n)


def hks(evals: np.ndarray, evecs: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Heat kernel signature ``sum_i exp(-lambda_i t) phi_i(x)^2``: (V, T)."""
    return (evecs**2) @ np.exp(-np.outer(evals, times))


def wks_energies(evals: np.ndarray, n: int = 16) -> np.ndarray:
    """``n`` log-energies evenly spaced over the log-spectrum (without its ends)."""
    evals = np.asarray(evals)
    pos = evals[evals > 1e-9 * max(float(evals.max()), 1e-300)]
    if pos.size < 2:
        return np.zeros(n)
    lo, hi = np.log(pos.min()), np.log(pos.max())
    return np.linspace(lo, hi, n + 2)[1:-1]


def wks(evals: np.ndarray, evecs: np.ndarray, energies: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Wave kernel signature (Aubry et al. 2011) at log-energies ``energies``: (V, T), each column
    normalised by its total filter weight."""
    evals = np.asarray(evals)
    keep = evals > 1e-9 * max(float(evals.max()), 1e-300)
    loge = np.log(evals[keep])
    phi2 = evecs[:, keep] ** 2
    if sigma is None:
        sigma = 7.0 * (energies[-1] - energies[0]) / max(len(energies), 1) if len(energies) > 1 else 1.0
    weights = np.exp(-((energies[None, :] - loge[:, None]) ** 2) / (2 * sigma**2))
    return (phi2 @ weights) / np.maximum(weights.sum(0), 1e-300)
