"""The generalised sparse eigensolver behind :func:`meshlearn.geometry.eigenbasis`.

Solves ``L x = lambda M x`` for the K smallest eigenpairs, where ``L`` (V, V) is a symmetric
positive semi-definite weak Laplacian and ``M`` (V, V) a positive diagonal (lumped) mass matrix.

Letters: V vertices, K eigenpairs.

Method. Shift-invert Lanczos is the field's standard; ARPACK's implementation of it
(:func:`scipy.sparse.linalg.eigsh`) spends most of its time at K = 128 re-orthogonalising every
new vector against a basis of about 2K vectors and restarting, passes over more memory than the
caches hold. meshlearn's first method avoids both (:mod:`meshlearn.geometry.lanczos`):

* one factorisation of ``L - sigma M`` (``sigma`` just below zero, positive definite: CHOLMOD
  through ``cholespy``), applied to blocks of ``LANCZOS_BLOCK`` right-hand sides;
* block Lanczos without restarts, its basis kept semi-orthogonal by partial
  reorthogonalisation, the constant null vector deflated exactly;
* while it runs, a second thread counts the eigenvalues below a shift ``tau`` placed by Weyl's
  law (``lambda_j ~ 4 pi j / area`` on a surface) a little above the wanted ones: the number of
  negative pivots of a symmetric ``L D L^T`` of ``L - tau M`` (Sylvester's law of inertia). As
  many Ritz values must lie below ``tau`` (Cauchy interlacing: none lies below its eigenvalue),
  so a copy of a repeated eigenvalue missed by Lanczos cannot pass (a second count follows where
  ``tau`` fell below the wanted pairs);
* a Rayleigh-Ritz step on ``L`` and ``M`` makes the basis exactly M-orthonormal.

When it fails (a count that does not match, no convergence, residuals too large), ARPACK solves
slices of the spectrum instead:

* slice 0 holds the smallest eigenpairs, found with a small negative shift, where ``L - sigma M``
  is positive definite and is factored once by CHOLMOD (``cholespy``; SuperLU when absent);
* slice 1 holds the eigenpairs nearest an interior shift placed by Weyl's law. Its matrix is
  indefinite: SuperLU factors it as a symmetric ``L D L^T`` in a nested-dissection order (METIS,
  through ``pymetis``), and the number of negative pivots is the number of eigenvalues below the
  shift. That count sizes the slice to reach exactly the eigenvalue indices it is meant to hold,
  and checks the final answer: below each interior shift, exactly that many eigenvalues must have
  been found, so an eigenvalue missed or counted twice anywhere below it is caught;
* the slices run at the same time, one in a worker process (``workers=2``, the default on a
  machine with two or more cores), and overlap by a few eigenvalues. They are merged at a cut
  between two distinct eigenvalues inside the overlap, after checking that both slices agree there;
  a final Rayleigh-Ritz step makes the basis exactly M-orthonormal. When a slice falls short (a
  gap between the slices, or too few pairs), further slices are added where the observed
  eigenvalue density says they belong;
* each slice uses a Krylov basis of ``max(1.5 n, n + 40)`` vectors for ``n`` pairs (ARPACK's
  default is ``2 n``): the same residuals for less re-orthogonalisation work, while the floor of 40
  extra vectors keeps every copy of an exactly repeated eigenvalue on small slices.

The slice plan (``SLICE_CUTS``, ``SLICE_IN_WORKER``) may list several interior slices; on two
cores two slices are fastest, because each interior slice pays for its own factorisation and the
two processes share one memory bus (the work is bound by memory traffic, not arithmetic).

Fallbacks, in order, each tried only when the one before fails or its residuals are too large:
block Lanczos, sliced solve, one shift-invert solve of all K pairs (retried with a larger shift, a
larger Krylov basis and another start vector), a dense solve (shapes of at most ``DENSE_MAX``
vertices). Only then :class:`~meshlearn.errors.SolverError`.

Accuracy is measured by the relative residual ``||L x - lambda M x|| / (max(lambda, floor) ||M x||)``
(see :func:`relative_residuals`). The default ``tol=0`` converges block Lanczos to
``LANCZOS_TOL`` (residuals 1e-13 to 1e-11 after the Rayleigh-Ritz step) and asks ARPACK for
machine precision, as the reference preprocessing does; a ``tol`` above those loosens both.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..errors import ConfigError, SolverError, where
from .blas import blas_threads
from .lanczos import lanczos_smallest

__all__ = ["solve_eigenpairs", "relative_residuals", "SliceResult", "DENSE_LIMIT", "DENSE_MAX"]

try:
    from cholespy import CholeskySolverD, MatrixType
except ImportError:  # SuperLU factors the bottom slice instead
    CholeskySolverD = MatrixType = None

log = logging.getLogger(__name__)

#: At most this many vertices: always a dense solve (it is faster than ARPACK there).
DENSE_LIMIT = 1000
#: At most this many vertices: a dense solve is allowed as the last fallback (memory ~ 16 V^2 bytes).
DENSE_MAX = 12000
#: At least this many vertices and eigenpairs before slicing in parallel pays for its overhead.
PARALLEL_MIN_VERTS = 2000
PARALLEL_MIN_K = 24
#: Relative residual of a linear solve below which an unpivoted L D L^T factorisation is kept.
SOLVE_RESIDUAL_OK = 5e-13
#: Residual accepted from a ``tol=0`` solve (ARPACK itself reaches ~1e-12).
RESIDUAL_OK = 1e-8
#: At least this many vertices: block Lanczos with partial reorthogonalisation is tried first.
LANCZOS_MIN_VERTS = DENSE_LIMIT
#: Vectors per block Lanczos step (finds up to this many copies of a repeated eigenvalue).
LANCZOS_BLOCK = 4
#: Ritz-pair convergence of the block Lanczos iteration (relative, on the shift-inverted operator).
LANCZOS_TOL = 1e-12


@dataclass
class SliceResult:
    """Eigenpairs of one spectrum slice: ``evals`` (n,) ascending, ``evecs`` (V, n)."""

    sigma: float
    evals: np.ndarray
    evecs: np.ndarray
    cpu_s: float = 0.0  #: CPU seconds the slice took in the process that solved it
    #: number of eigenvalues below ``sigma`` (Sylvester's inertia of the factorisation), if known
    inertia: int | None = None


# --------------------------------------------------------------------------------------------
# factorisation and one shift-invert slice


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


class _Factor:
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


def _slice_size(inertia: int, lo: int, hi: int) -> int:
    """Pairs to ask for around a shift with ``inertia`` eigenvalues below it, to reach indices lo .. hi-1.

    The pairs nearest a shift spread about equally to both sides of it where the eigenvalue
    density is even (Weyl: about constant on a surface), so the slice reaches ``n / 2`` indices
    each way; a few more absorb uneven spacing.
    """
    return 2 * max(inertia - lo, hi - inertia) + max(2, (hi - lo) // 8)


def _arpack_slice(L, M, k, sigma, *, tol=0.0, ncv=None, seed=0, maxiter=None, cover=None) -> SliceResult:
    """The ``k`` eigenpairs nearest ``sigma`` by shift-invert ARPACK, sorted ascending.

    ``ncv`` (the Krylov basis size) defaults to ``max(NCV_FACTOR * k, k + NCV_MIN_EXTRA) + 1``.
    ``cover = (lo, hi)``: where the factorisation counts the eigenvalues below ``sigma``, ``k`` is
    replaced by the number of pairs that reach eigenvalue indices ``lo .. hi-1`` from there.
    """
    t0 = time.process_time()
    V = L.shape[0]
    A = (L - sigma * M).tocsr()
    factor = _Factor(A, spd=sigma < 0)
    if cover is not None and factor.inertia is not None:
        k = _slice_size(factor.inertia, *cover)
    k = min(k, V - 2)
    rng = np.random.default_rng(seed)
    v0 = rng.uniform(-1.0, 1.0, V)
    op = spla.LinearOperator((V, V), matvec=factor.solve, matmat=factor.solve, dtype=np.float64)
    if ncv is None:
        ncv = min(V - 1, max(int(NCV_FACTOR * k), k + NCV_MIN_EXTRA) + 1)
    # ARPACK's work is memory-bound matrix-vector products: a second BLAS thread gains nothing and,
    # on a busy machine, spinning BLAS threads cost several times the solve itself.
    with blas_threads(1):
        evals, evecs = spla.eigsh(
            L, k=k, M=M, sigma=sigma, which="LM", OPinv=op, v0=v0, ncv=min(ncv, V - 1), tol=tol, maxiter=maxiter
        )
    order = np.argsort(evals)
    return SliceResult(float(sigma), evals[order], evecs[:, order], time.process_time() - t0, factor.inertia)


def _slice_job(L, M, k, sigma, tol, seed, cover):
    """Worker entry point: one slice with one BLAS thread (the other core runs the other slice)."""
    with blas_threads(1):
        return _arpack_slice(L, M, k, sigma, tol=tol, seed=seed, cover=cover)


_POOL: ProcessPoolExecutor | None = None


def _pool() -> ProcessPoolExecutor | None:
    """One persistent worker process (forked, so it starts in milliseconds); None where fork is unsafe."""
    global _POOL
    if _POOL is None:
        import multiprocessing as mp

        if "fork" not in mp.get_all_start_methods() or mp.current_process().daemon:
            return None  # daemonic processes (multiprocessing.Pool workers) may not have children
        try:
            _POOL = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("fork"))
        except (OSError, ValueError, AssertionError) as e:  # daemonic parent, no /dev/shm, ...
            log.debug("no worker process for sliced eigensolves (%s)", e)
            return None
    return _POOL


def _reset_pool() -> None:
    global _POOL
    if _POOL is not None:
        _POOL.shutdown(wait=False, cancel_futures=True)
    _POOL = None


def _default_workers() -> int:
    """2 on a machine with two or more cores; 1 inside a pool worker process (a daemonic process,
    as the batch preprocessing starts one per core), which is to stay on its own core."""
    import multiprocessing as mp

    if mp.current_process().daemon:
        return 1
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    return 2 if n >= 2 else 1


# --------------------------------------------------------------------------------------------
# accuracy


def _lambda_scale(L: sp.csr_matrix, mass: np.ndarray) -> float:
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
        floor = 1e-6 * _lambda_scale(L, M.diagonal())
    MX = M @ evecs
    R = L @ evecs - MX * evals
    return np.linalg.norm(R, axis=0) / (np.maximum(np.abs(evals), floor) * np.maximum(np.linalg.norm(MX, axis=0), 1e-300))


def _rayleigh_ritz(L, mass, X, *, drop_dependent: bool = False):
    """M-orthonormalise the columns of X (V, n) and diagonalise L on their span.

    The Gram matrices of M and L on X, then the small generalised eigenproblem between them, and
    one product with X at the end: three products of X with an n-column matrix. The solvers
    return M-orthonormal vectors, so nearly dependent columns mean a failed solve
    (:class:`SolverError`); with ``drop_dependent`` (interpolated vectors) the directions X barely
    spans are left out instead, and fewer than n pairs may come back.
    """
    G = X.T @ (X * mass[:, None])
    K = X.T @ (L @ X)
    g, U = np.linalg.eigh((G + G.T) / 2)
    if drop_dependent:
        keep = g > 1e-10 * g[-1]
        g, U = g[keep], U[:, keep]
    elif g[0] < 0.5:
        raise SolverError(f"the solver returned nearly dependent vectors (smallest Gram eigenvalue {g[0]:.2e})")
    C = U / np.sqrt(g)  # X C is M-orthonormal
    H = C.T @ K @ C
    w, Q = np.linalg.eigh((H + H.T) / 2)
    return w, X @ (C @ Q)


# --------------------------------------------------------------------------------------------
# dense


def _dense(L, mass, k):
    V = L.shape[0]
    k = min(k, V)
    A, B = L.toarray(), np.diag(mass)
    if k == V:
        return sla.eigh(A, B)
    return sla.eigh(A, B, subset_by_index=(0, k - 1))


# --------------------------------------------------------------------------------------------
# slicing


def _cluster_tol(x: float, scale: float) -> float:
    return 1e-6 * max(abs(x), 1e-3 * scale)


#: Slice plan: fractions of the wanted pairs at which the spectrum is cut, and the process that
#: solves each slice (True: the worker). The bottom slice's factorisation (CHOLMOD) solves faster
#: than an interior slice's (SuperLU), so it takes the larger share. ARPACK's cost grows faster
#: than linearly with a slice's size, so several smaller slices cost less in all.
SLICE_CUTS = (0.6,)
SLICE_IN_WORKER = (False, True)
#: Krylov basis size of a slice, as a multiple of its pair count. ARPACK's own default is 2; 1.5
#: converges to the same residuals in fewer flops (re-orthogonalisation costs ~ncv^2 per restart).
NCV_FACTOR = 1.5
#: ... but never fewer than this many basis vectors beyond the wanted pairs: a smaller basis can miss
#: copies of an exactly repeated eigenvalue (symmetric shapes) on small slices.
NCV_MIN_EXTRA = 40


def _overlap(k: int) -> int:
    """Eigenvalues that neighbouring slices should share (the merge cuts between two of them)."""
    return max(4, int(np.ceil(k / 24)))


def _plan_first(k: int, area: float) -> list[tuple[float, int, bool, tuple[int, int] | None]]:
    """Slices (sigma, n, in_worker, cover): the bottom one (sigma NaN here) and Weyl-placed interior ones.

    Interior slice i is to hold the pairs with index in ``cover = [cut_i - overlap, cut_{i+1})``;
    its shift sits at the Weyl estimate ``4 pi j / area`` of the middle index. ``n`` is the pair
    count asked for when its factorisation cannot count the eigenvalues below the shift (the count,
    where known, sets the size instead: see :func:`_slice_size`).
    """
    margin = _overlap(k)
    cuts = [int(round(f * k)) for f in SLICE_CUTS] + [k]
    plan = [(np.nan, cuts[0] + margin, SLICE_IN_WORKER[0], None)]
    for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:])):
        lo, hi = a - margin, b
        sigma = 4.0 * np.pi * (0.5 * (lo + hi)) / area
        plan.append((float(sigma), hi - lo + 2 * margin, SLICE_IN_WORKER[i + 1], (lo, hi)))
    return plan


def _covered(slices: list[SliceResult], scale: float, rtol: float = 1e-6):
    """Merge slices from the bottom. Returns (pieces, hi, gap):

    pieces : list of (slice, lo_cut, hi_cut) whose eigenvalues in [lo_cut, hi_cut) are taken;
    hi : every eigenvalue strictly below ``hi`` has been found (a multiplet at ``hi`` may be partial);
    gap : (a, b) where the next slice does not overlap the covered part, else None.

    A slice found by shift-invert holds *all* eigenvalues strictly between its smallest and largest
    ones (the k nearest to a shift form an interval), and the bottom slice all those below its
    largest. Two slices are joined at a cut between two distinct eigenvalues inside their overlap,
    after checking that they list the same eigenvalues below the cut.
    """
    bottom = max((s for s in slices if s.sigma < 0), key=lambda s: s.evals.size)
    pieces = [(bottom, -np.inf, None)]
    hi = float(bottom.evals[-1])
    rest = sorted((s for s in slices if s is not bottom and s.sigma >= 0), key=lambda s: s.evals[0])
    for s in rest:
        lo_s, hi_s = float(s.evals[0]), float(s.evals[-1])
        if hi_s <= hi:
            continue
        prev = pieces[-1][0]
        both = np.concatenate([s.evals, prev.evals])
        both = np.sort(both[(both >= lo_s) & (both <= hi)])
        cut = None
        for x, y in zip(both[:-1], both[1:]):
            if y - x > 2 * _cluster_tol(y, scale):
                cut = 0.5 * (x + y)
                break
        if cut is None:  # no overlap, or the overlap is one cluster: not provably complete
            return pieces, hi, (min(hi, lo_s), max(hi, lo_s))
        above = lo_s + _cluster_tol(lo_s, scale)
        mine = prev.evals[(prev.evals > above) & (prev.evals < cut)]
        theirs = s.evals[(s.evals > above) & (s.evals < cut)]
        if mine.size != theirs.size or not np.allclose(mine, theirs, rtol=rtol, atol=1e-9 * scale):
            raise SolverError("overlapping spectrum slices disagree")
        pieces[-1] = (prev, pieces[-1][1], cut)
        pieces.append((s, cut, None))
        hi = hi_s
    return pieces, hi, None


def _take(pieces, k):
    cols, vals = [], []
    for s, lo, hi in pieces:
        sel = s.evals >= lo
        if hi is not None:
            sel &= s.evals < hi
        vals.append(s.evals[sel])
        cols.append(s.evecs[:, sel])
    w = np.concatenate(vals)
    X = np.concatenate(cols, axis=1)
    order = np.argsort(w)[:k]
    return w[order], X[:, order]


def _check_counts(slices: list[SliceResult], w: np.ndarray, scale: float) -> None:
    """Sylvester's check: below each interior shift lie exactly as many found eigenvalues as the
    factorisation counted (a missed or doubled eigenvalue anywhere below it shows here)."""
    for s in slices:
        if s.inertia is None or s.sigma < 0 or np.min(np.abs(w - s.sigma)) < 1e-9 * scale:
            continue
        below = int(np.count_nonzero(w < s.sigma))
        if below > s.inertia or (s.sigma <= w[-1] and below != s.inertia):
            raise SolverError(
                f"spectrum slices found {below} eigenvalues below {s.sigma:.6g} where there are {s.inertia}"
            )


def _sliced(L, M, mass, k, tol, seed, scale):
    area = float(mass.sum())
    plan = _plan_first(k, area)
    sigma0 = -1e-8 * scale
    plan = [
        (sigma0 if i == 0 else sigma, n, remote, cover, seed + i) for i, (sigma, n, remote, cover) in enumerate(plan)
    ]
    pool = _pool()
    futures = {}
    for i, (sigma, n, remote, cover, sd) in enumerate(plan):
        if not remote or pool is None:
            continue
        try:
            futures[i] = pool.submit(_slice_job, L, M, n, sigma, tol, sd, cover)
        except (RuntimeError, OSError, AssertionError) as e:  # broken or forbidden worker
            log.debug("worker process unavailable (%s); slices run here one after the other", e)
            _reset_pool()
            pool = None
    results: dict[int, SliceResult] = {}
    with blas_threads(1):
        for i, (sigma, n, remote, cover, sd) in enumerate(plan):
            if i not in futures:
                results[i] = _arpack_slice(L, M, n, sigma, tol=tol, seed=sd, cover=cover)
    for i, fut in futures.items():
        try:
            results[i] = fut.result()
        except BrokenExecutor as e:  # the worker died (killed, out of memory): solve here
            log.debug("worker process died (%s); solving its slice here", e)
            _reset_pool()
            sigma, n, _, cover, sd = plan[i]
            results[i] = _arpack_slice(L, M, n, sigma, tol=tol, seed=sd, cover=cover)
    slices = [results[i] for i in range(len(plan))]
    seed = seed + len(plan) - 2
    log.debug(
        "eigensolve slices: %s", [(round(s.sigma, 4), s.evals.size, s.inertia, round(s.cpu_s, 3)) for s in slices]
    )
    for extra in range(6):
        pieces, hi, gap = _covered(slices, scale, rtol=max(1e-6, 100 * tol))
        count = sum(int(np.sum((s.evals >= lo) & (s.evals < (np.inf if h is None else h)))) for s, lo, h in pieces)
        if gap is None and count >= k:
            w, X = _take(pieces, k)
            _check_counts(slices, w, scale)
            return w, X
        density = count / max(hi, 1e-300)  # eigenvalues per unit, observed so far
        margin = max(4, k // 16) * 2 ** (extra // 2)  # widen when a placement keeps missing
        if gap is not None:
            a, b = gap
            sigma, n = 0.5 * (a + b), int(np.ceil(1.5 * (b - a) * density)) + 2 * margin
        else:
            need = k - count
            sigma, n = hi + 0.5 * need / max(density, 1e-300), need + 2 * margin
        n = min(n, L.shape[0] - 2)
        log.debug("eigensolve: extra slice %d at sigma=%.4g for %d pairs", extra + 1, sigma, n)
        slices.append(_arpack_slice(L, M, n, sigma, tol=tol, seed=seed + 2 + extra))
    raise SolverError("spectrum slices did not cover the wanted eigenvalues")


# --------------------------------------------------------------------------------------------
# block Lanczos with a count of the eigenvalues below a shift


def _inertia(L, M, tau: float) -> tuple[float, int] | None:
    """``(tau, n)``: n eigenvalues of ``L x = lambda M x`` lie below ``tau`` (Sylvester's law of inertia).

    A symmetric ``L D L^T`` factorisation of ``L - tau M`` by SuperLU (COLAMD order, diagonal
    pivots only), which releases the GIL, so that the count runs in a thread beside the Lanczos
    iteration. The shift is nudged up when a pivot is too small for its sign to be certain; None
    when no factorisation gives a certain count.
    """
    for attempt in range(3):
        ldlt = _symmetric_ldlt((L - tau * M).tocsc(), order="COLAMD")
        if ldlt is not None:
            return tau, ldlt[1]
        tau *= 1.0 + 1e-3 * (attempt + 1)
    return None


def _constant_null(L) -> np.ndarray | None:
    """The constant vector where it is in L's kernel (a Laplacian of one component), else None."""
    ones = np.ones(L.shape[0])
    if np.linalg.norm(L @ ones) <= 1e-12 * max(abs(L).sum(), 1e-300) / np.sqrt(L.shape[0]):
        return ones
    return None


def _lanczos(L, M, mass, k, *, tol, seed, scale, parallel=True):
    """The k smallest pairs by block Lanczos on one factorisation, checked by a count of eigenvalues.

    While the iteration runs, a second thread (``parallel``; else this one, first) counts the
    eigenvalues below a shift ``tau`` placed by Weyl's law a little above the wanted ones; as many
    Ritz values must lie below ``tau`` (see :mod:`.lanczos`), so that no copy of a repeated
    eigenvalue can be missed. Where ``tau`` fell short of the wanted pairs, a second count just
    above them follows.
    """
    V = L.shape[0]
    area = float(mass.sum())
    null = _constant_null(L)
    n = k - 1 if null is not None else k  # the iteration does not see the deflated null vector
    sigma = -1e-8 * scale

    def count(tau: float) -> tuple[float, int] | None:
        """Eigenvalues below tau that the iteration can see; None where no count is certain."""
        try:
            c = _inertia(L, M, tau)
        except (RuntimeError, ValueError, MemoryError) as e:
            log.debug("no eigenvalue count at %.6g (%s)", tau, e)
            return None
        return None if c is None else (c[0], c[1] - (k - n))

    tau = 4.0 * np.pi * (1.1 * n + 4.0) / area
    with ThreadPoolExecutor(max_workers=1) if parallel else nullcontext() as ex:
        if parallel:
            counting = ex.submit(count, tau)
        else:  # one core: count first
            counting = Future()
            counting.set_result(count(tau))
        factor = _Factor((L - sigma * M).tocsr(), spd=True)
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
            threads=2 if parallel else 1,
        )
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
        X = np.concatenate([np.full((V, 1), 1.0 / np.sqrt(area)), X], axis=1)
    return w, X, res


def _check_below(ritz: np.ndarray, tau: float, n: int) -> None:
    """Ritz values never lie below their eigenvalues: n of them below tau means none is missing."""
    below = int(np.count_nonzero(ritz < tau))
    if below != n:
        raise SolverError(f"Lanczos found {below} eigenvalues below {tau:.6g} where there are {n}")


# --------------------------------------------------------------------------------------------
# several components


def _by_component(L, M, k, labels, n_comp, **kwargs):
    """Solve each connected component alone and keep the k smallest pairs overall.

    The zero eigenvalue of a shape with C components is exactly C-fold; Lanczos finds only one
    vector of an exactly repeated eigenvalue reliably, so the components are never solved together.
    Eigenvectors are zero outside their component, hence M-orthonormal across components.
    """
    V = L.shape[0]
    vals, owners, vecs = [], [], []
    for c in range(n_comp):
        idx = np.flatnonzero(labels == c)
        w, X = solve_eigenpairs(L[idx][:, idx], M[idx][:, idx], min(k, idx.size), **kwargs)
        vals.append(w)
        owners.append(np.full(w.size, c))
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


# --------------------------------------------------------------------------------------------
# the public entry point


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
        Cores to use: 1 runs everything in this thread; 2 counts eigenvalues in a second thread
        beside the Lanczos iteration, and runs the ARPACK fallback's two slices in two processes.
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
    with blas_threads(1):
        return _solve(L, M, mass, k, tol=tol, workers=workers, seed=seed, source=source)


def _solve(L, M, mass, k, *, tol, workers, seed, source):
    V = L.shape[0]
    pattern = L.copy()
    pattern.eliminate_zeros()
    n_comp, labels = sp.csgraph.connected_components(pattern, directed=False)
    if n_comp > 1:
        return _by_component(L, M, k, labels, n_comp, tol=tol, workers=workers, seed=seed, source=source)
    if V <= DENSE_LIMIT or k >= V // 2:
        if V > DENSE_MAX:
            raise SolverError(
                f"{where(source)}{k} eigenpairs of a {V}-vertex shape need a dense solve of "
                f"{16 * V * V / 1e9:.1f} GB; ask for k < {V // 2}"
            )
        return _dense(L, mass, k)

    scale = _lambda_scale(L, mass)
    accept = max(RESIDUAL_OK, 1e3 * tol)
    workers = _default_workers() if workers is None else int(workers)
    errors: list[str] = []

    def good(w, X, what):
        if w.shape[0] < k or not np.all(np.isfinite(w)) or not np.all(np.isfinite(X)):
            errors.append(f"{what}: incomplete or non-finite result")
            return False
        r = relative_residuals(L, M, w, X, floor=1e-6 * scale)
        if float(r.max()) > accept:
            errors.append(f"{what}: residual {float(r.max()):.1e}")
            return False
        return True

    if V >= LANCZOS_MIN_VERTS:
        try:
            w, X, res = _lanczos(
                L, M, mass, k, tol=max(tol, LANCZOS_TOL), seed=seed, scale=scale, parallel=workers >= 2
            )
            with blas_threads(max(1, min(workers, 2))):  # large products
                w, X = _rayleigh_ritz(L, mass, X)
            log.debug("block Lanczos: %d vectors, %d re-orthogonalisations", res.steps, res.reorthogonalisations)
            if good(w, X, "block Lanczos"):
                return w, X
        except (SolverError, RuntimeError, ValueError, np.linalg.LinAlgError, MemoryError) as e:
            errors.append(f"block Lanczos: {e}")
            log.info("%sblock Lanczos failed (%s); shift-invert ARPACK instead", where(source), e)

    if workers >= 2 and V >= PARALLEL_MIN_VERTS and k >= PARALLEL_MIN_K:
        try:
            w, X = _sliced(L, M, mass, k, tol, seed, scale)
            w, X = _rayleigh_ritz(L, mass, X)
            if good(w, X, "sliced solve"):
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
            s = _arpack_slice(L, M, k, a["sigma"], tol=tol, ncv=a["ncv"], seed=a["seed"], maxiter=50 * V)
        except (RuntimeError, ValueError, spla.ArpackError, spla.ArpackNoConvergence) as e:
            errors.append(f"shift-invert attempt {i + 1}: {e}")
            log.info("%seigensolve attempt %d failed (%s); retrying", where(source), i + 1, e)
            continue
        if good(s.evals, s.evecs, f"shift-invert attempt {i + 1}"):
            return s.evals, s.evecs

    if V <= DENSE_MAX:
        log.info("%ssparse eigensolves failed (%s); dense fallback", where(source), "; ".join(errors))
        return _dense(L, mass, k)
    raise SolverError(
        f"{where(source)}could not compute {k} eigenpairs of a {V}-vertex Laplacian ({'; '.join(errors)}); "
        "load the mesh with clean=True (degenerate faces, duplicate vertices) or ask for fewer eigenpairs"
    )
