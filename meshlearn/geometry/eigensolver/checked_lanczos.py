"""The eigensolver's first method: block Lanczos on one factorisation, checked by counts of the
eigenvalues below a shift.

Finds the K smallest eigenpairs of ``L x = lambda M x`` (``L`` (V, V) symmetric positive
semi-definite, ``M`` (V, V) positive diagonal):

* one factorisation of ``L - sigma M`` (``sigma`` just below zero, positive definite: CHOLMOD
  through ``cholespy``, :mod:`.factor`), applied to blocks of ``LANCZOS_BLOCK`` right-hand sides;
* block Lanczos without restarts (:mod:`.lanczos`), its basis kept semi-orthogonal by partial
  reorthogonalisation, the constant null vector deflated exactly;
* where the converged Ritz values hold a cluster of ``LANCZOS_BLOCK`` or more copies (a symmetric
  mesh), a count of the eigenvalues below a shift ``tau`` placed by Weyl's law (``lambda_j ~ 4 pi
  j / area`` on a surface) a little above the wanted ones: the number of negative pivots of a
  symmetric ``L D L^T`` of ``L - tau M`` (Sylvester's law of inertia). As many Ritz values must
  lie below ``tau`` (Cauchy interlacing: none lies below its eigenvalue), so a copy of a
  repeated eigenvalue missed by Lanczos cannot pass (a second count follows where ``tau`` fell
  below the wanted pairs). Without such a cluster no copy can be missing (a block of b random
  vectors finds min(p, b) copies of an eigenvalue of multiplicity p), and the count, which costs
  about as much as the factorisation, is not made.

The caller's Rayleigh-Ritz step (:func:`.dense.rayleigh_ritz`) then makes the basis exactly
M-orthonormal.

Letters: V vertices, K wanted pairs.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import numpy as np

from ...errors import SolverError
from .factor import Factor, count_below
from .lanczos import lanczos_smallest

__all__ = ["LANCZOS_BLOCK", "LANCZOS_TOL", "constant_null", "solve_by_lanczos"]

log = logging.getLogger(__name__)

#: Vectors per block Lanczos step (finds up to this many copies of a repeated eigenvalue).
LANCZOS_BLOCK = 4
#: Ritz-pair convergence of the block Lanczos iteration (relative, on the shift-inverted operator).
LANCZOS_TOL = 1e-12


def constant_null(L) -> np.ndarray | None:
    """The constant vector where it is in L's kernel (a Laplacian of one component), else None."""
    ones = np.ones(L.shape[0])
    if np.linalg.norm(L @ ones) <= 1e-12 * max(abs(L).sum(), 1e-300) / np.sqrt(L.shape[0]):
        return ones
    return None


class _CountWhenAsked:
    """Future-like: the eigenvalue count runs, in this thread, the first time its result is asked
    for (:func:`.lanczos.lanczos_smallest` asks only where a copy may be missing)."""

    def __init__(self, count: Callable[[], tuple[float, int] | None]) -> None:
        self._count = count
        self._asked = False
        self._value: tuple[float, int] | None = None

    def done(self) -> bool:
        return self._asked

    def result(self) -> tuple[float, int] | None:
        if not self._asked:
            self._value = self._count()
            self._asked = True
        return self._value


def solve_by_lanczos(L, M, mass, k, *, tol, seed, scale, threads=1):
    """The k smallest pairs by block Lanczos on one factorisation, checked by a count of eigenvalues
    where a copy of a repeated eigenvalue may be missing: ``(evals (K,), evecs (V, K), the
    iteration's LanczosResult)``.

    The count (of the eigenvalues below a shift ``tau`` placed by Weyl's law a little above the
    wanted ones; as many Ritz values must lie below ``tau``, see :mod:`.lanczos`) is asked for only
    when ``LANCZOS_BLOCK`` or more converged Ritz values agree to
    :data:`.lanczos.CLUSTER_RTOL`: blocks of b
    vectors find min(p, b) copies of an eigenvalue of multiplicity p, so an eigenspace with fewer
    copies than b in the answer was found whole. Where ``tau`` fell short of the wanted pairs, a
    second count just above them follows. ``threads``: BLAS threads of the final product that
    forms the Ritz vectors.
    """
    V = L.shape[0]
    area = float(mass.sum())
    null = constant_null(L)
    n = k - 1 if null is not None else k  # the iteration does not see the deflated null vector
    sigma = -1e-8 * scale

    def count(tau: float) -> tuple[float, int] | None:
        """Eigenvalues below tau that the iteration can see; None where no count is certain."""
        try:
            c = count_below(L, M, tau)
        except (RuntimeError, ValueError, MemoryError) as e:
            log.debug("no eigenvalue count at %.6g (%s)", tau, e)
            return None
        return None if c is None else (c[0], c[1] - (k - n))

    tau = 4.0 * np.pi * (1.1 * n + 4.0) / area
    counting = _CountWhenAsked(lambda: count(tau))
    factor = Factor((L - sigma * M).tocsr(), spd=True)
    res = lanczos_smallest(
        factor.solve,
        mass,
        n,
        sigma,
        block=LANCZOS_BLOCK,
        null=null,
        tol=tol,
        seed=seed,
        count=counting,
        threads=threads,
    )
    if counting.done():  # a cluster of b or more copies: check that none is missing
        counted = counting.result()
        if counted is not None and res.below is not None:
            _check_below(res.ritz, *counted)
        if counted is None or res.below is None or counted[0] <= res.evals[n - 1]:
            # the count did not cover the wanted pairs: count again just above them
            cut = 0.5 * (res.evals[n - 1] + res.ritz[n]) if res.ritz.size > n else None
            if cut is None or not cut > res.evals[n - 1]:
                raise SolverError("no Ritz value above the wanted eigenvalues to check them against")
            again = count(cut)
            if again is None:
                raise SolverError("could not count the eigenvalues below the wanted ones")
            _check_below(res.ritz, *again)
    w, X = res.evals[:n], res.evecs[:, :n]
    if null is not None:
        w = np.concatenate([[0.0], w])
        X = np.empty((V, n + 1))  # C order, as the Rayleigh-Ritz step wants it
        X[:, 0] = 1.0 / np.sqrt(area)
        X[:, 1:] = res.evecs[:, :n]
    return w, X, dataclasses.replace(res, evecs=X)  # one (V, K) array kept, not two


def _check_below(ritz: np.ndarray, tau: float, n: int) -> None:
    """Ritz values never lie below their eigenvalues: n of them below tau means none is missing."""
    below = int(np.count_nonzero(ritz < tau))
    if below != n:
        raise SolverError(f"Lanczos found {below} eigenvalues below {tau:.6g} where there are {n}")

