"""Shift-invert ARPACK on slices of the spectrum: the eigensolver's fallback.

Finds the K smallest eigenpairs of ``L x = lambda M x`` (``L`` (V, V) symmetric positive
semi-definite, ``M`` (V, V) positive diagonal) when block Lanczos fails:

* slice 0 holds the smallest eigenpairs, found with a small negative shift, where ``L - sigma M``
  is positive definite and is factored once by CHOLMOD (``cholespy``; SuperLU when absent);
* slice 1 holds the eigenpairs nearest an interior shift placed by Weyl's law. Its matrix is
  indefinite: SuperLU factors it as a symmetric ``L D L^T`` in a nested-dissection order (METIS,
  through ``pymetis``), and the number of negative pivots is the number of eigenvalues below the
  shift (:mod:`.factor`). That count sizes the slice to reach exactly the eigenvalue indices it is
  meant to hold, and checks the final answer: below each interior shift, exactly that many
  eigenvalues must have been found, so an eigenvalue missed or counted twice anywhere below it is
  caught;
* the slices run at the same time, one in a worker process (:mod:`.workers`), and overlap by a few
  eigenvalues. They are merged at a cut between two distinct eigenvalues inside the overlap, after
  checking that both slices agree there; the caller's Rayleigh-Ritz step makes the basis exactly
  M-orthonormal. When a slice falls short (a gap between the slices, or too few pairs), further
  slices are added where the observed eigenvalue density says they belong;
* each slice uses a Krylov basis of ``max(1.5 n, n + 40)`` vectors for ``n`` pairs (ARPACK's
  default is ``2 n``): the same residuals for less re-orthogonalisation work, while the floor of 40
  extra vectors keeps every copy of an exactly repeated eigenvalue on small slices.

The slice plan (``SLICE_CUTS``, ``SLICE_IN_WORKER``) may list several interior slices; on two
cores two slices are fastest, because each interior slice pays for its own factorisation and the
two processes share one memory bus (the work is bound by memory traffic, not arithmetic).

Letters: V vertices, K wanted pairs.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse.linalg as spla

from ...errors import SolverError
from ..blas import blas_threads
from .factor import Factor
from .workers import reset_worker_pool, worker_pool

__all__ = [
    "NCV_FACTOR",
    "NCV_MIN_EXTRA",
    "SLICE_CUTS",
    "SLICE_IN_WORKER",
    "SliceResult",
    "arpack_slice",
    "solve_by_slices",
]

log = logging.getLogger(__name__)


@dataclass
class SliceResult:
    """Eigenpairs of one spectrum slice: ``evals`` (n,) ascending, ``evecs`` (V, n)."""

    sigma: float
    evals: np.ndarray
    evecs: np.ndarray
    cpu_s: float = 0.0  #: CPU seconds the slice took in the process that solved it
    #: number of eigenvalues below ``sigma`` (Sylvester's inertia of the factorisation), if known
    inertia: int | None = None


def _slice_size(inertia: int, lo: int, hi: int) -> int:
    """Pairs to ask for around a shift with ``inertia`` eigenvalues below it, to reach indices lo .. hi-1.

    The pairs nearest a shift spread about equally to both sides of it where the eigenvalue
    density is even (Weyl: about constant on a surface), so the slice reaches ``n / 2`` indices
    each way; a few more absorb uneven spacing.
    """
    return 2 * max(inertia - lo, hi - inertia) + max(2, (hi - lo) // 8)


def arpack_slice(L, M, k, sigma, *, tol=0.0, ncv=None, seed=0, maxiter=None, cover=None) -> SliceResult:
    """The ``k`` eigenpairs nearest ``sigma`` by shift-invert ARPACK, sorted ascending.

    ``ncv`` (the Krylov basis size) defaults to ``max(NCV_FACTOR * k, k + NCV_MIN_EXTRA) + 1``.
    ``cover = (lo, hi)``: where the factorisation counts the eigenvalues below ``sigma``, ``k`` is
    replaced by the number of pairs that reach eigenvalue indices ``lo .. hi-1`` from there.
    """
    t0 = time.process_time()
    V = L.shape[0]
    A = (L - sigma * M).tocsr()
    factor = Factor(A, spd=sigma < 0)
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
        return arpack_slice(L, M, k, sigma, tol=tol, seed=seed, cover=cover)



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


def solve_by_slices(L, M, mass, k, tol, seed, scale):
    """The ``k`` smallest pairs ``(evals (K,), evecs (V, K))`` from merged ARPACK slices.

    ``mass`` (V,) is M's diagonal, ``tol`` ARPACK's tolerance (0: machine precision), ``seed``
    the first slice's start-vector seed, ``scale`` a typical eigenvalue magnitude
    (:func:`.residuals.lambda_scale`). The vectors are not yet exactly M-orthonormal across slices
    (the caller's Rayleigh-Ritz step makes them so). Raises :class:`SolverError` where the slices
    disagree, miscount or do not cover the wanted pairs.
    """
    area = float(mass.sum())
    plan = _plan_first(k, area)
    sigma0 = -1e-8 * scale
    plan = [
        (sigma0 if i == 0 else sigma, n, remote, cover, seed + i) for i, (sigma, n, remote, cover) in enumerate(plan)
    ]
    pool = worker_pool()
    futures = {}
    for i, (sigma, n, remote, cover, sd) in enumerate(plan):
        if not remote or pool is None:
            continue
        try:
            futures[i] = pool.submit(_slice_job, L, M, n, sigma, tol, sd, cover)
        except (RuntimeError, OSError, AssertionError) as e:  # broken or forbidden worker
            log.debug("worker process unavailable (%s); slices run here one after the other", e)
            reset_worker_pool()
            pool = None
    results: dict[int, SliceResult] = {}
    with blas_threads(1):
        for i, (sigma, n, remote, cover, sd) in enumerate(plan):
            if i not in futures:
                results[i] = arpack_slice(L, M, n, sigma, tol=tol, seed=sd, cover=cover)
    for i, fut in futures.items():
        try:
            results[i] = fut.result()
        except BrokenExecutor as e:  # the worker died (killed, out of memory): solve here
            log.debug("worker process died (%s); solving its slice here", e)
            reset_worker_pool()
            sigma, n, _, cover, sd = plan[i]
            results[i] = arpack_slice(L, M, n, sigma, tol=tol, seed=sd, cover=cover)
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
        slices.append(arpack_slice(L, M, n, sigma, tol=tol, seed=seed + 2 + extra))
    raise SolverError("spectrum slices did not cover the wanted eigenvalues")

