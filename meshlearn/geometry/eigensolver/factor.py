"""Factorisations of ``L - sigma M`` and the count of eigenvalues below a shift.

``L`` (V, V) is a symmetric positive semi-definite weak Laplacian, ``M`` (V, V) a positive diagonal
mass. Below the spectrum (``sigma < 0``) the shifted matrix is positive definite and CHOLMOD
(``cholespy``) factors it; inside the spectrum it is indefinite, and SuperLU, restricted to
diagonal pivots in a nested-dissection order (METIS, through ``pymetis``), factors it as a
symmetric ``L D L^T``. Sylvester's law of inertia: the number of negative pivots of such a
factorisation is the number of eigenvalues of ``L x = lambda M x`` below ``sigma``
(:attr:`Factor.inertia`, :func:`count_below`).

Letters: V vertices.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["Factor", "SOLVE_RESIDUAL_OK", "count_below"]

try:
    from cholespy import CholeskySolverD, MatrixType
except ImportError:  # SuperLU factors the positive definite matrices instead
    CholeskySolverD = MatrixType = None

log = logging.getLogger(__name__)

#: Relative residual of a linear solve below which an unpivoted L D L^T factorisation is kept.
SOLVE_RESIDUAL_OK = 5e-13


def _fill_reducing_order(A: sp.csr_matrix) -> np.ndarray | None:
    """A nested-dissection ordering of A's graph (METIS, through ``pymetis``); None without pymetis."""
    try:
        import pymetis
    except ImportError:
        return None
    G = sp.csr_matrix(A, copy=True)
    G.setdiag(0)
    G.eliminate_zeros()
    indptr, indices = G.indptr.astype(np.int64), G.indices.astype(np.int64)
    try:
        adjacency = pymetis.CSRAdjacency(indptr, indices)
        perm = pymetis.nested_dissection(adjacency)[0]
    except AttributeError:  # pymetis older than 2025.2
        perm = pymetis.nested_dissection(xadj=indptr, adjncy=indices)[0]
    except (RuntimeError, ValueError, MemoryError) as e:  # METIS refused the graph
        log.debug("no nested-dissection ordering (%s); SuperLU orders the matrix itself", e)
        return None
    perm = np.asarray(perm, dtype=np.int64)
    if perm.shape != (A.shape[0],) or not np.array_equal(np.sort(perm), np.arange(A.shape[0])):
        return None
    return perm


def _cholmod(A: sp.csr_matrix):
    """CHOLMOD's factorisation of a positive definite A (``cholespy``); None when absent or not definite."""
    if CholeskySolverD is None:
        return None
    coo = A.tocoo()
    try:
        return CholeskySolverD(
            A.shape[0], coo.row.astype(np.int32), coo.col.astype(np.int32), coo.data.astype(np.float64), MatrixType.COO
        )
    except (RuntimeError, ValueError) as e:  # not positive definite after all
        log.debug("CHOLMOD factorisation failed (%s); using SuperLU", e)
        return None


def _symmetric_ldlt(Ap: sp.csc_matrix, order: str = "NATURAL"):
    """``(factor, inertia)``: SuperLU restricted to diagonal pivots, i.e. ``P Ap P^T = L D L^T`` with
    the fill-reducing ordering ``order`` applied to rows and columns alike (``NATURAL`` for a matrix
    ordered beforehand), and the count of negative pivots; None when SuperLU had to pivot off the
    diagonal or a pivot is too small for its sign to be certain."""
    try:
        lu = spla.splu(Ap, permc_spec=order, diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    except RuntimeError as e:  # an exactly zero pivot
        log.debug("symmetric LDL^T factorisation failed (%s); pivoting", e)
        return None
    d = lu.U.diagonal()
    if not np.array_equal(lu.perm_r, lu.perm_c):
        return None
    if np.abs(d).min() <= 1e-10 * np.abs(d).max():
        return None
    return lu, int(np.count_nonzero(d < 0))


class Factor:
    """Solver of ``(L - sigma M) x = b``.

    Positive definite (the bottom slice): CHOLMOD (``cholespy``); SuperLU when it is absent.
    Indefinite (interior slices): SuperLU on the matrix reordered by nested dissection, pivoting on
    the diagonal only, i.e. a symmetric ``L D L^T``. Sylvester's law of inertia then gives
    ``inertia``, the number of eigenvalues below ``sigma``: the count of negative pivots. Without
    pymetis, or when SuperLU had to pivot off the diagonal, SuperLU with its own ordering and
    partial pivoting is used and ``inertia`` is None.
    """

    def __init__(self, A: sp.csr_matrix, spd: bool) -> None:
        self.n = A.shape[0]
        self._chol = _cholmod(A) if spd else None
        self._lu = None
        self._perm = None
        self.inertia: int | None = 0 if spd else None
        if self._chol is not None:
            return
        perm = _fill_reducing_order(A)
        if perm is not None:
            Ap = A[perm][:, perm].tocsc()
            ldlt = _symmetric_ldlt(Ap)
            if ldlt is not None:
                self._lu, self.inertia = ldlt
                self._perm = perm
                if not self._accurate(A):
                    # Without pivoting, a shift close to an eigenvalue can let the factors grow, and
                    # solves lose digits: keep the count, solve with partial pivoting (same ordering).
                    self._lu = spla.splu(Ap, permc_spec="NATURAL", diag_pivot_thresh=1.0)
                return
        self._lu = spla.splu(A.tocsc())

    def _accurate(self, A: sp.csr_matrix) -> bool:
        """Whether a solve of a random right-hand side has a relative residual at rounding level."""
        b = np.random.default_rng(0).standard_normal(self.n)
        return bool(np.linalg.norm(A @ self.solve(b) - b) <= SOLVE_RESIDUAL_OK * np.linalg.norm(b))

    def solve(self, b: np.ndarray) -> np.ndarray:
        if self._chol is not None:
            b = np.ascontiguousarray(b, dtype=np.float64)
            x = np.empty_like(b)
            self._chol.solve(b, x)
            return x
        if self._perm is None:
            return self._lu.solve(b)
        x = np.empty_like(b, dtype=np.float64)
        x[self._perm] = self._lu.solve(np.ascontiguousarray(b[self._perm]))
        return x



def count_below(L, M, tau: float) -> tuple[float, int] | None:
    """``(tau, n)``: n eigenvalues of ``L x = lambda M x`` lie below ``tau`` (Sylvester's law of inertia).

    A symmetric ``L D L^T`` factorisation of ``L - tau M`` by SuperLU (COLAMD order, diagonal
    pivots only). The shift is nudged up when a pivot is too small for its sign to be certain; None
    when no factorisation gives a certain count.
    """
    for attempt in range(3):
        ldlt = _symmetric_ldlt((L - tau * M).tocsc(), order="COLAMD")
        if ldlt is not None:
            return tau, ldlt[1]
        tau *= 1.0 + 1e-3 * (attempt + 1)
    return None

