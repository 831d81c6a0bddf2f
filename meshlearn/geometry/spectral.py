"""Eigenbasis of the Laplacian and spectral descriptors (HKS, WKS).

Letters: V vertices, K eigenpairs, T descriptor scales.

Descriptor grids
----------------
Two ways to choose the HKS times and WKS energies:

* ``"unit_area"`` (:func:`unit_area_hks`, :func:`unit_area_wks`; the default of
  ``OperatorSpec.descriptor_grid``): a fixed grid for the shape rescaled to unit area. The
  eigenpairs of a shape of area ``S`` scaled to unit area are ``(lambda S, phi sqrt(S))``; the
  descriptors are evaluated at the fixed times :data:`UNIT_AREA_HKS_TIMES` (log-spaced) and
  log-energies :data:`UNIT_AREA_WKS_LOG_ENERGIES` (evenly spaced). Channel j then means the same
  time (energy) on every shape, whatever its size and however many eigenpairs it has, and a shape
  scaled by any factor has the same descriptors. The ranges suit bodies and other compact shapes:
  at unit area their first non-zero eigenvalue is about 4 (a round sphere's is 8 pi) and the k-th
  about 12 k (Weyl's law), so ``t`` in [1e-2, 1] runs from what about 128 eigenpairs resolve to
  where the heat kernel has all but reached its constant limit. With fewer eigenpairs the
  shortest times and highest energies are truncated (the same way on every shape with that k).
* ``"spectrum"`` (:func:`hks_times`, :func:`wks_energies`): the grid spans each shape's own
  spectrum ``[lambda_1, lambda_K]`` (Sun et al. 2009). It adapts to every shape, so channel j
  means different times on different shapes and changes with k; kept for operators computed
  before the fixed grid existed.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from ..errors import ConfigError
from .eigensolver import solve_eigenpairs

__all__ = [
    "eigenbasis",
    "hks",
    "wks",
    "hks_times",
    "wks_energies",
    "UNIT_AREA_HKS_TIMES",
    "UNIT_AREA_WKS_LOG_ENERGIES",
    "DESCRIPTOR_GRIDS",
    "unit_area_basis",
    "unit_area_hks_times",
    "unit_area_wks_energies",
    "unit_area_hks",
    "unit_area_wks",
]

#: Range of the HKS diffusion times (first, last) for shapes scaled to unit area; log-spaced.
UNIT_AREA_HKS_TIMES = (1e-2, 1.0)
#: Range of the WKS log-energies ``ln(lambda)`` (first, last) for shapes scaled to unit area.
UNIT_AREA_WKS_LOG_ENERGIES = (float(np.log(5.0)), float(np.log(1500.0)))
#: The descriptor grids ``OperatorSpec.descriptor_grid`` may name (see the module docstring).
DESCRIPTOR_GRIDS = ("unit_area", "spectrum")

log = logging.getLogger(__name__)

def eigenbasis(
    L: sp.spmatrix,
    M: sp.spmatrix,
    k: int = 128,
    *,
    source: str | None = None,
    tol: float = 0.0,
    approx: bool = False,
    workers: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest eigenpairs of the generalised problem ``L phi = lambda M phi``.

    Shift-invert block Lanczos on one factorisation, checked by a count of the eigenvalues below a
    shift (see :mod:`meshlearn.geometry.eigensolver`), with a residual check and fallbacks: ARPACK on
    two spectrum slices at once, one-piece shift-invert with retries, then a dense solve;
    :class:`~meshlearn.errors.SolverError` only when all fail. Several connected components
    (several zero eigenvalues) need nothing special.

    Parameters
    ----------
    L : (V, V) sparse
        Symmetric positive semi-definite weak Laplacian (see :func:`laplacian`).
    M : (V, V) sparse
        Diagonal lumped mass, positive.
    k : int
        Number of eigenpairs; when ``k >= V`` all V pairs are returned (dense solve). default: 128
    source : str, optional
        File name for error messages.
    tol : float
        Relative tolerance of the Lanczos iteration; 0 asks for machine precision (relative
        residuals ~1e-12). default: 0.0
    approx : bool
        Less accurate eigenpairs: sets ``tol=1e-6`` unless ``tol`` is given, and solves for a few
        more pairs than asked so that repeated eigenvalues at the top are complete. With block
        Lanczos this saves only a few percent (its convergence is fast at the end, and its fixed
        costs dominate): residuals grow to about 1e-6 while eigenvalues stay within 1e-13 (the
        spectral benchmark states both). For large meshes,
        :func:`~meshlearn.geometry.coarse_spectral.coarse_eigenbasis` (``OperatorSpec(eigen_coarse=N)``)
        saves much more: about 3x at 164k vertices, eigenvalues up to 1.3% high. default: False
    workers : int, optional
        1 uses this process only; 2 lets the ARPACK fallback solve its two spectrum slices in
        two processes. default: 2 where the machine has two or more cores
    seed : int
        Seed of the Lanczos start vectors (results agree across seeds up to the tolerance, and
        up to a rotation inside repeated eigenvalues). default: 0

    Returns
    -------
    evals : (K,) float64
        Ascending, clipped at 0.
    evecs : (V, K) float64
        M-orthonormal: ``evecs.T @ M @ evecs = I``.

    Examples
    --------
    >>> from meshlearn.testing import icosphere
    >>> L, M = laplacian(icosphere(3))
    >>> evals, evecs = eigenbasis(L, M, k=4)
    >>> [round(float(x), 1) for x in evals]
    [0.0, 2.0, 2.0, 2.0]
    """
    if approx and not tol:
        tol = 1e-6
    if not tol >= 0:
        raise ConfigError(f"tol must be >= 0 (got {tol!r})")
    # A loose tolerance may stop before every member of a repeated eigenvalue at the top is found:
    # ask for a few more pairs than needed and keep the k smallest.
    extra = max(4, k // 16) if tol > 0 and k < L.shape[0] // 3 else 0
    evals, evecs = solve_eigenpairs(L, M, k + extra, tol=float(tol), workers=workers, seed=seed, source=source)
    return np.clip(evals[:k], 0.0, None), evecs[:, :k]


def _check_basis(evals: np.ndarray, evecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    evals = np.asarray(evals, dtype=np.float64)
    evecs = np.asarray(evecs, dtype=np.float64)
    if evals.ndim != 1 or evecs.ndim != 2 or evecs.shape[1] != evals.shape[0]:
        raise ConfigError(f"expected evals (K,) and evecs (V, K) (got {evals.shape} and {evecs.shape})")
    return evals, evecs


def _positive(evals: np.ndarray) -> np.ndarray:
    """The eigenvalues that are not numerically zero (constant modes of each component)."""
    top = float(np.max(np.abs(evals))) if evals.size else 0.0
    return evals[evals > 1e-9 * max(top, 1e-300)]


def hks_times(evals: np.ndarray, n: int = 16) -> np.ndarray:
    """``n`` log-spaced diffusion times from ``4 ln 10 / lambda_max`` to ``4 ln 10 / lambda_1``.

    At the shortest time the highest mode kept is damped by 1e-4 and at the longest the first
    non-zero mode is (Sun, Ovsjanikov and Guibas 2009): the range where the truncated basis still
    resolves the heat kernel. ``lambda_1`` is the smallest non-zero eigenvalue.

    Returns
    -------
    (T,) float64, ascending.
    """
    pos = _positive(np.asarray(evals, dtype=np.float64))
    if pos.size == 0:
        return np.ones(n)
    tmin = 4 * np.log(10) / pos.max()
    tmax = 4 * np.log(10) / pos.min()
    return np.geomspace(tmin, tmax, n)


def hks(evals: np.ndarray, evecs: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Heat kernel signature ``h(x, t) = sum_i exp(-lambda_i t) phi_i(x)^2``.

    Parameters
    ----------
    evals : (K,) float64
    evecs : (V, K) float64, M-orthonormal
    times : (T,) float64, positive

    Returns
    -------
    (V, T) float64. Intrinsic: unchanged by rigid motions, and by remeshing up to discretisation error.
    """
    evals, evecs = _check_basis(evals, evecs)
    times = np.atleast_1d(np.asarray(times, dtype=np.float64))
    return (evecs**2) @ np.exp(-np.outer(evals, times))


def wks_energies(evals: np.ndarray, n: int = 16) -> np.ndarray:
    """``n`` log-energies evenly spaced inside ``[ln lambda_1, ln lambda_max]`` (ends excluded).

    Returns
    -------
    (T,) float64, ascending.
    """
    pos = _positive(np.asarray(evals, dtype=np.float64))
    if pos.size < 2:
        return np.zeros(n)
    lo, hi = np.log(pos.min()), np.log(pos.max())
    return np.linspace(lo, hi, n + 2)[1:-1]


def wks(evals: np.ndarray, evecs: np.ndarray, energies: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Wave kernel signature (Aubry, Schlickewei and Cremers 2011).

    ``w(x, e) = sum_i phi_i(x)^2 g_e(lambda_i) / sum_i g_e(lambda_i)`` with the log-normal band
    ``g_e(lambda) = exp(-(e - ln lambda)^2 / (2 sigma^2))``; zero eigenvalues are left out.

    Parameters
    ----------
    evals : (K,) float64
    evecs : (V, K) float64, M-orthonormal
    energies : (T,) float64
        Log-energies, e.g. :func:`wks_energies`.
    sigma : float, optional
        Band width in log-energy. default: 7 times the energy spacing

    Returns
    -------
    (V, T) float64, each column normalised by its total band weight.
    """
    evals, evecs = _check_basis(evals, evecs)
    energies = np.atleast_1d(np.asarray(energies, dtype=np.float64))
    keep = evals > 1e-9 * max(float(np.max(np.abs(evals))) if evals.size else 0.0, 1e-300)
    loge = np.log(evals[keep])
    phi2 = evecs[:, keep] ** 2
    if sigma is None:
        sigma = 7.0 * (energies[-1] - energies[0]) / max(len(energies), 1) if len(energies) > 1 else 1.0
    if not sigma > 0:
        raise ConfigError(f"wks sigma must be positive (got {sigma!r})")
    weights = np.exp(-((energies[None, :] - loge[:, None]) ** 2) / (2 * sigma**2))
    return (phi2 @ weights) / np.maximum(weights.sum(0), 1e-300)


def unit_area_basis(evals: np.ndarray, evecs: np.ndarray, mass: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The eigenpairs of the shape rescaled to unit area: ``(lambda S, phi sqrt(S))``, ``S = sum(mass)``.

    Scaling a surface by s multiplies its area by s^2, its eigenvalues by 1 / s^2 and its
    M-orthonormal eigenvectors by 1 / s; these products undo that.
    """
    evals, evecs = _check_basis(evals, evecs)
    mass = np.asarray(mass, dtype=np.float64).reshape(-1)
    if mass.shape[0] != evecs.shape[0] or not np.all(np.isfinite(mass)):
        raise ConfigError(f"expected a finite mass (V,) with V = {evecs.shape[0]} (got {mass.shape})")
    area = float(mass.sum())
    if not area > 0:
        raise ConfigError(f"the unit-area descriptors need a positive total mass (got {area!r})")
    return evals * area, evecs * np.sqrt(area)


def unit_area_hks_times(n: int = 16) -> np.ndarray:
    """``n`` diffusion times log-spaced over :data:`UNIT_AREA_HKS_TIMES`, ascending (T,) float64."""
    lo, hi = UNIT_AREA_HKS_TIMES
    return np.geomspace(lo, hi, int(n))


def unit_area_wks_energies(n: int = 16) -> np.ndarray:
    """``n`` log-energies evenly spaced over :data:`UNIT_AREA_WKS_LOG_ENERGIES`, ascending (T,) float64."""
    lo, hi = UNIT_AREA_WKS_LOG_ENERGIES
    return np.linspace(lo, hi, int(n))


def unit_area_hks(evals: np.ndarray, evecs: np.ndarray, mass: np.ndarray, n: int = 16) -> np.ndarray:
    """HKS on the fixed unit-area grid: :func:`hks` of :func:`unit_area_basis` at :func:`unit_area_hks_times`.

    Parameters
    ----------
    evals : (K,) float64
    evecs : (V, K) float64, M-orthonormal
    mass : (V,) float64, the lumped mass (its sum is the area)
    n : int
        Number of times. default: 16

    Returns
    -------
    (V, T) float64, unchanged when the shape is scaled (and by rigid motions).
    """
    ev, ph = unit_area_basis(evals, evecs, mass)
    return hks(ev, ph, unit_area_hks_times(n))


def unit_area_wks(evals: np.ndarray, evecs: np.ndarray, mass: np.ndarray, n: int = 16) -> np.ndarray:
    """WKS on the fixed unit-area grid: :func:`wks` of :func:`unit_area_basis` at
    :func:`unit_area_wks_energies`, band width ``7 (e_last - e_first) / n`` (:func:`wks`'s default).

    Returns
    -------
    (V, T) float64, unchanged when the shape is scaled (and by rigid motions).
    """
    ev, ph = unit_area_basis(evals, evecs, mass)
    return wks(ev, ph, unit_area_wks_energies(n))
