"""``solve_eigenpairs``: the K smallest eigenpairs of ``L x = lambda M x`` and the order of the
methods that compute them.

Fallbacks, in order, each tried only when the one before fails or its residuals are too large:
block Lanczos (:mod:`.checked_lanczos`, from ``LANCZOS_MIN_VERTS`` vertices), the sliced ARPACK
solve (:mod:`.slicing`, with two workers, from ``PARALLEL_MIN_VERTS`` vertices and
``PARALLEL_MIN_K`` pairs), one shift-invert solve of all K pairs (retried with a larger shift, a
larger Krylov basis and another start vector), a dense solve (shapes of at most ``DENSE_MAX``
vertices). Only then :class:`~meshlearn.errors.SolverError`. Shapes of at most ``DENSE_LIMIT``
vertices, or asking for half the spectrum or more, are solved dense at once; a shape in several
pieces is solved one connected component at a time (:mod:`.components`).

Letters: V vertices, K eigenpairs.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ...errors import ConfigError, SolverError, where
from ..blas import blas_threads
from ..hugepages import no_hugepages
from .checked_lanczos import LANCZOS_TOL, solve_by_lanczos
from .components import solve_by_component
from .dense import dense_eigenpairs, rayleigh_ritz
from .residuals import lambda_scale, relative_residuals
from .slicing import arpack_slice, solve_by_slices
from .workers import default_workers

__all__ = ["DENSE_LIMIT", "DENSE_MAX", "solve_eigenpairs"]

log = logging.getLogger(__name__)

#: At most this many vertices: always a dense solve (it is faster than ARPACK there).
DENSE_LIMIT = 1000
#: At most this many vertices: a dense solve is allowed as the last fallback (memory ~ 16 V^2 bytes).
DENSE_MAX = 12000
#: At least this many vertices and eigenpairs before slicing in parallel pays for its overhead.
PARALLEL_MIN_VERTS = 2000
PARALLEL_MIN_K = 24
#: Residual accepted from a ``tol=0`` solve (ARPACK itself reaches ~1e-12).
RESIDUAL_OK = 1e-8
#: At least this many vertices: block Lanczos with partial reorthogonalisation is tried first.
LANCZOS_MIN_VERTS = DENSE_LIMIT


def solve_eigenpairs(
    L,
    M,
    k: int,
    *,
    tol: float = 0.0,
    workers: int | None = None,
    seed: int = 0,
    source: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest eigenpairs of ``L x = lambda M x``, with fallbacks (see the module docstring).

    Parameters
    ----------
    L : (V, V) sparse
        Symmetric positive semi-definite weak Laplacian.
    M : (V, V) sparse
        Positive diagonal lumped mass.
    k : int
        Number of eigenpairs; ``k >= V`` returns all V (dense solve).
    tol : float
        ARPACK's relative tolerance on the shift-inverted eigenvalues; 0 means machine precision.
        default: 0.0
    workers : int, optional
        Cores to use: 1 runs everything in this process; 2 runs the ARPACK fallback's two slices
        in two processes (block Lanczos, the first method, runs on one core).
        default: 2 on a machine with two or more cores, else 1
    seed : int
        Seed of ARPACK's start vectors. default: 0
    source : str, optional
        File name for error messages.

    Returns
    -------
    evals : (K,) float64 ascending
    evecs : (V, K) float64, M-orthonormal
    """
    L = sp.csr_matrix(L, dtype=np.float64)
    M = sp.csr_matrix(M, dtype=np.float64)
    V = L.shape[0]
    if L.shape != (V, V) or M.shape != (V, V):
        raise ConfigError(f"L and M must be square and of the same size (got {L.shape} and {M.shape})")
    k = int(k)
    if k < 1:
        raise ConfigError(f"k must be >= 1 (got {k})")
    mass = M.diagonal()
    if (M - sp.diags(mass)).count_nonzero():
        raise ConfigError("M must be diagonal (a lumped mass matrix)")
    if not np.all(np.isfinite(L.data)) or not np.all(np.isfinite(mass)) or np.any(mass <= 0):
        raise SolverError(
            f"{where(source)}the Laplacian or mass has non-finite or non-positive entries; "
            "load the mesh with clean=True to remove degenerate faces and isolated vertices"
        )
    k = min(k, V)
    # One BLAS thread throughout: the dense work here is many small products, which a second
    # thread slows down (and, on a busy machine, by several times); the second core runs a slice.
    with blas_threads(1), no_hugepages():
        return _solve(L, M, mass, k, tol=tol, workers=workers, seed=seed, source=source)


def _solve(L, M, mass, k, *, tol, workers, seed, source):
    V = L.shape[0]
    pattern = L.copy()
    pattern.eliminate_zeros()
    n_comp, labels = sp.csgraph.connected_components(pattern, directed=False)
    if n_comp > 1:
        return solve_by_component(
            solve_eigenpairs, L, M, k, labels, n_comp, tol=tol, workers=workers, seed=seed, source=source
        )
    if V <= DENSE_LIMIT or k >= V // 2:
        if V > DENSE_MAX:
            raise SolverError(
                f"{where(source)}{k} eigenpairs of a {V}-vertex shape need a dense solve of "
                f"{16 * V * V / 1e9:.1f} GB; ask for k < {V // 2}"
            )
        return dense_eigenpairs(L, mass, k)

    scale = lambda_scale(L, mass)
    accept = max(RESIDUAL_OK, 1e3 * tol)
    workers = default_workers() if workers is None else int(workers)
    errors: list[str] = []

    floor = 1e-6 * scale  # residuals of eigenvalues below it are relative to it

    def good(w, X, what, r=None):
        if w.shape[0] < k or not np.all(np.isfinite(w)) or not np.all(np.isfinite(X)):
            errors.append(f"{what}: incomplete or non-finite result")
            return False
        r = relative_residuals(L, M, w, X, floor=floor) if r is None else r
        if not np.all(np.isfinite(r)) or float(r.max()) > accept:
            errors.append(f"{what}: residual {float(r.max()):.1e}")
            return False
        return True

    if V >= LANCZOS_MIN_VERTS:
        try:
            w, X, res = solve_by_lanczos(L, M, mass, k, tol=max(tol, LANCZOS_TOL), seed=seed, scale=scale)
            w, X, r = rayleigh_ritz(L, mass, X, residual_floor=floor, overwrite=True)
            log.debug("block Lanczos: %d vectors, %d re-orthogonalisations", res.steps, res.reorthogonalisations)
            if good(w, X, "block Lanczos", r):
                return w, X
        except (SolverError, RuntimeError, ValueError, np.linalg.LinAlgError, MemoryError) as e:
            errors.append(f"block Lanczos: {e}")
            log.info("%sblock Lanczos failed (%s); shift-invert ARPACK instead", where(source), e)

    if workers >= 2 and V >= PARALLEL_MIN_VERTS and k >= PARALLEL_MIN_K:
        try:
            w, X = solve_by_slices(L, M, mass, k, tol, seed, scale)
            w, X, r = rayleigh_ritz(L, mass, X, residual_floor=floor, overwrite=True)
            if good(w, X, "sliced solve", r):
                return w, X
        except (SolverError, RuntimeError, ValueError, spla.ArpackError, OSError) as e:
            errors.append(f"sliced solve: {e}")
            log.info("%ssliced eigensolve failed (%s); solving in one piece", where(source), e)

    attempts = [
        dict(sigma=-1e-8 * scale, ncv=min(V - 1, max(2 * k + 1, 20)), seed=seed),
        dict(sigma=-1e-5 * scale, ncv=min(V - 1, 3 * k + 20), seed=seed + 101),
        dict(sigma=-1e-3 * scale, ncv=min(V - 1, 4 * k + 40), seed=seed + 202),
    ]
    for i, a in enumerate(attempts):
        try:
            s = arpack_slice(L, M, k, a["sigma"], tol=tol, ncv=a["ncv"], seed=a["seed"], maxiter=50 * V)
        except (RuntimeError, ValueError, spla.ArpackError, spla.ArpackNoConvergence) as e:
            errors.append(f"shift-invert attempt {i + 1}: {e}")
            log.info("%seigensolve attempt %d failed (%s); retrying", where(source), i + 1, e)
            continue
        if good(s.evals, s.evecs, f"shift-invert attempt {i + 1}"):
            return s.evals, s.evecs

    if V <= DENSE_MAX:
        log.info("%ssparse eigensolves failed (%s); dense fallback", where(source), "; ".join(errors))
        return dense_eigenpairs(L, mass, k)
    raise SolverError(
        f"{where(source)}could not compute {k} eigenpairs of a {V}-vertex Laplacian ({'; '.join(errors)}); "
        "load the mesh with clean=True (degenerate faces, duplicate vertices) or ask for fewer eigenpairs"
    )
