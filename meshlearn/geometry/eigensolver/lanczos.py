"""Shift-invert block Lanczos with partial reorthogonalisation, the eigensolver's first method.

Finds the smallest eigenpairs of ``L x = lambda M x`` (``M`` diagonal) from one factorisation of
``L - sigma M`` with ``sigma`` just below zero. The iteration runs on the symmetric operator
``A = D (L - sigma M)^-1 D`` with ``D = M^(1/2)``, whose largest eigenvalues ``theta = 1 / (lambda -
sigma)`` belong to the wanted pairs (``x = D^-1 y``).

Why not ARPACK: at K = 128 ARPACK spends most of its time re-orthogonalising every new Lanczos vector
against its whole basis and restarting, each a pass over a basis larger than the processor's caches.
Here the Lanczos recurrence runs without restarts and keeps its basis only semi-orthogonal
(Simon's partial reorthogonalisation, as in PROPACK): a cheap recurrence estimates the loss of
orthogonality ``omega[i] ~ q_{j+1} . q_i``, and only when some estimate exceeds ``sqrt(eps)`` are the
new block and the current one re-orthogonalised, together in one pass, against the stretch of
the basis that needs it.
Semi-orthogonality keeps the Ritz values accurate to rounding level and free of spurious copies; a final
Rayleigh-Ritz step on ``L`` and ``M`` (:func:`.dense.rayleigh_ritz`) makes the eigenvectors exactly
M-orthonormal.

Lanczos with a block of b start vectors finds min(p, b) vectors of an eigenspace of dimension p:
copies of an exactly repeated eigenvalue (symmetric meshes) can be missed, and only where b or
more converged Ritz values agree (``CLUSTER_RTOL``). There the answer is checked against
a count ``n`` of the eigenvalues below a shift ``tau`` (Sylvester's law of inertia, see
:mod:`.factor`). By Cauchy's interlacing theorem the i-th smallest Ritz value is never below
the i-th eigenvalue, so the Ritz values below ``tau`` number at most ``n``, and exactly ``n`` only
when no eigenvector below ``tau`` is missing from the Krylov space: the pairs between the wanted
ones and ``tau`` need not converge, only their Ritz values pass below ``tau``.

Letters: V vertices, K wanted pairs, m Lanczos vectors (about 3 K), b vectors per block.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
from scipy.linalg.blas import dger
from scipy.linalg.lapack import dpotrf, dtrtri

from ...errors import SolverError
from ..blas import blas_threads

__all__ = ["LanczosResult", "lanczos_smallest"]

_EPS = float(np.finfo(np.float64).eps)
#: Re-orthogonalise when an orthogonality estimate exceeds this (semi-orthogonality, sqrt(eps)).
REORTH_TRIGGER = float(np.sqrt(_EPS))
#: ... against the basis vectors whose estimate exceeds this (eps^(3/4)).
REORTH_RANGE = _EPS**0.75
#: Bytes of basis per pass of a re-orthogonalisation: a chunk that stays in a core's L2 cache
#: between its two products (8 rows at 10k vertices, 32 at 2.5k). Where even 8 rows are larger,
#: the chunks stream from L3 or memory anyway, and 32 rows make the products more efficient.
REORTH_CHUNK_BYTES = 640 * 1024
#: b or more converged eigenvalues within this relative spread may be copies of one eigenvalue
#: of multiplicity above b, some of them missed: the eigenvalue count is asked for. Independent
#: eigenvalues of a surface lie about 1/j apart relative to the j-th (Weyl), and repel: four
#: within 1e-3 of each other do not happen by chance below j of some hundreds.
CLUSTER_RTOL = 1e-3


@dataclass
class LanczosResult:
    """``evals`` (n,) ascending and ``evecs`` (V, n) Ritz pairs, every one converged; ``steps``
    vectors taken; ``ritz``: every Ritz value of the last step (converged or not) as an eigenvalue
    ``lambda``, ascending, for a shift below the spectrum; ``below``: how many of them lie below
    the counted shift, where a count was used."""

    evals: np.ndarray
    evecs: np.ndarray
    steps: int
    reorthogonalisations: int
    ritz: np.ndarray
    below: int | None = None


class _Basis:
    """Lanczos vectors as rows of one growing C-ordered array (row slices are cheap views)."""

    def __init__(self, V: int, capacity: int) -> None:
        self.rows = np.empty((capacity, V))
        self.n = 0

    def slot(self, b: int) -> np.ndarray:
        """The next b rows, to be written in place and then kept with :meth:`commit`."""
        if self.n + b > self.rows.shape[0]:
            grown = np.empty((int(1.5 * self.n) + 16 * b, self.rows.shape[1]))
            grown[: self.n] = self.rows[: self.n]
            self.rows = grown
        return self.rows[self.n : self.n + b]

    def commit(self, b: int) -> None:
        self.n += b


def lanczos_smallest(
    solve: Callable[[np.ndarray], np.ndarray],
    mass: np.ndarray,
    k: int,
    sigma: float,
    *,
    block: int = 4,
    null: np.ndarray | None = None,
    tol: float = 1e-13,
    seed: int = 0,
    max_vectors: int | None = None,
    count: Future | None = None,
    threads: int = 1,
) -> LanczosResult:
    """The ``k`` smallest eigenpairs of ``L x = lambda M x`` above an optional known null vector.

    Parameters
    ----------
    solve : callable
        ``B -> (L - sigma M)^-1 B`` for a C-ordered (V, block) float64 array.
    mass : (V,) float64
        Diagonal of ``M``, positive.
    k : int
        Pairs wanted (not counting ``null``).
    sigma : float
        The shift of the factorisation, below the smallest wanted eigenvalue.
    block : int
        Vectors per Lanczos step. A block of b vectors finds up to b copies of a repeated
        eigenvalue, and b right-hand sides share each pass over the factorisation. default: 4
    null : (V,) float64, optional
        A known eigenvector (the constants, for a Laplacian) to deflate: the iteration stays
        M-orthogonal to it.
    tol : float
        Convergence of a Ritz pair: its residual bound ``||B_m s_m||`` at most ``tol`` times its
        Ritz value ``theta``. default: 1e-13
    seed : int
        Seed of the random start block. default: 0
    max_vectors : int, optional
        Give up (:class:`SolverError`) after this many Lanczos vectors. default: ``6 k + 100``
    count : Future, optional
        For ``sigma`` below the spectrum: resolves to ``(tau, n)``, ``n`` eigenvalues (``null``
        excluded) below ``tau`` (or to None). Polled between steps and waited for once the
        wanted pairs have converged, if b or more of the converged ones agree to
        ``CLUSTER_RTOL`` (copies of an eigenvalue, some perhaps missed; otherwise never: the
        answer has every copy, and ``LanczosResult.below`` is None); when ``n <= 2 k`` the
        iteration then goes on until ``n``
        Ritz values lie below ``tau``, or until those up to ``tau`` have converged (a copy is
        missing): ``LanczosResult.below`` tells the caller which.
    threads : int
        BLAS threads for the final product that forms the Ritz vectors (the iteration itself
        runs on one). default: 1

    Returns
    -------
    LanczosResult
        The converged pairs, at least ``k``, ascending; ``evecs`` are M-orthonormal to about
        ``sqrt(eps)`` at worst (semi-orthogonality), about 1e-12 as measured.
    """
    V = mass.shape[0]
    b = int(block)
    d = np.sqrt(mass)
    max_vectors = min(V - 2 * b, 6 * k + 100 if max_vectors is None else int(max_vectors))
    y0 = None
    if null is not None:
        y0 = null * d
        y0 = y0 / np.linalg.norm(y0)

    def deflate(W: np.ndarray) -> None:  # W: (b, V) rows
        if y0 is None:
            return
        if W.flags.c_contiguous:  # W.T is Fortran-ordered: BLAS updates it in place, no temporary
            dger(-1.0, y0, W @ y0, a=W.T, overwrite_a=True)
        else:
            W -= (W @ y0)[:, None] * y0

    rng = np.random.default_rng(seed)
    W = rng.uniform(-1.0, 1.0, (b, V))
    deflate(W)
    Q = _Basis(V, min(max_vectors + b, 3 * k + 16 * b))
    _orthonormal_rows(W, out=Q.slot(b))
    Q.commit(b)
    rhs = np.empty((V, b))  # D Y_j, the solve's right-hand sides (C-ordered, as it wants them)
    nb_max = max_vectors // b + 2
    A = np.zeros((nb_max, b, b))  # diagonal blocks of the block tridiagonal T
    B = np.zeros((nb_max, b, b))  # B[j]: sub-diagonal block below A[j-1] (B[0] = 0)
    # orthogonality estimates om[i] ~ Y_j^T Y_i of the current block j against every earlier one
    # (om_prev: of block j - 1); _update_omega returns the next block's, one longer each step
    om_prev = np.zeros((1, b, b))
    om = np.eye(b)[None]
    anorm = 0.0
    n_reorth = 0
    known: tuple[float, int] | None = None
    # When to check convergence. A check costs a dense eigensolve of T (~ m^3); a vector costs a
    # solve and the vector work (~ V): one check is worth about m^3 / (200 V) vectors (a few on
    # meshes of 100k vertices, dozens on 2.5k). At tol ~1e-12 the wanted pairs converge after
    # about 2.85 k to 3.15 k vectors (fewer at a loose tol); checks spaced by sqrt(2 cost width)
    # balance checking too often against overshooting, so the first one comes at the end of
    # that range on small meshes and near its start on large ones. A cost model rather than
    # timings keeps the result independent of the machine's load: same input, same bytes.
    def check_cost(m: float) -> float:
        return m**3 / (200.0 * V)

    per_pair = float(np.clip(2.5 - 0.12 * (np.log10(max(tol, 1e-16)) + 12.0), 1.5, 2.5))
    start, width = (per_pair + b / 8 - 0.15) * k, 0.3 * k
    next_check = b * round((start + min(width, np.sqrt(2.0 * check_cost(start) * width))) / b)  # in vectors
    j = 0  # index of the current block
    while True:
        # W = A Y_j with A = D (L - sigma M)^-1 D; each pass over a (b, V) block costs about as
        # much as the solve's share per vector on meshes of some 10k vertices, so they are few
        np.multiply(Q.rows[j * b : (j + 1) * b].T, d[:, None], out=rhs)
        W = solve(rhs).T * d
        deflate(W)
        # local orthogonalisation against Y_{j-1} and Y_j (contiguous rows), twice: the second
        # pass keeps Y_{j+1} . Y_j at rounding level. The Y_j coefficients form A_j.
        P = Q.rows[max(j - 1, 0) * b : (j + 1) * b]
        h = W @ P.T
        W -= h @ P
        h2 = W @ P.T
        W -= h2 @ P
        A[j] = _sym((h + h2)[:, -b:])
        # the orthogonality estimates need only R (W = R^T Y_{j+1}): the first Cholesky factor
        # of W W^T, so that a block to be re-orthogonalised is normalised once, afterwards
        C = _gram_cholesky(W)
        R = C if C is not None else _orthonormal_rows(W)[1]
        anorm = max(anorm, _frobenius(A[j]) + _frobenius(R) + _frobenius(B[j]))  # ||T|| bound
        om_next, om_top = _update_omega(A, B, om, om_prev, j, R, anorm)
        if om_top > REORTH_TRIGGER:
            big = np.flatnonzero(np.abs(om_next[: j + 1]).max(axis=(1, 2)) > REORTH_RANGE)
            lo, hi = int(big[0]), int(big[-1]) + 1
            # Y_j too (Simon): the next block's recurrence would inherit its loss. Both in one
            # pass over the stretch; Y_j changes only by components in the earlier basis, so
            # the Krylov space, and T as the projection on it, stay the same.
            Yj = Q.rows[j * b : (j + 1) * b]
            both = np.concatenate([W, Yj])
            top = min(hi, j)  # Y_j against the blocks before it
            _orthogonalise(both, Q.rows[lo * b : top * b])
            W = both[:b]
            if hi > top:  # W against Y_j itself
                _orthogonalise(W, Q.rows[top * b : hi * b])
            deflate(both)
            Yj[...] = both[b:]
            C = None
            om_next[lo:hi] = _EPS
            om[lo:top] = _EPS
            n_reorth += 1
        _, R = _orthonormal_rows(W, C, out=Q.slot(b))
        if _min_abs_diagonal(R) <= 1e3 * _EPS * anorm:
            raise SolverError(f"block Lanczos broke down after {(j + 1) * b} vectors (invariant subspace)")
        B[j + 1] = R
        Q.commit(b)
        om_prev, om = om, om_next
        j += 1

        if known is None and count is not None and count.done():
            known = _counted(count, k)
        if j * b < next_check and (j + 1) * b <= max_vectors:
            continue
        n_sel = k + 2 if known is None else max(k, known[1]) + 2
        theta, S, ritz = _ritz(A, B, j, b, n_sel, sigma)
        # checks after the first: about sqrt(2 check / step) blocks apart
        spacing = b * max(1, round(np.sqrt(2.0 * check_cost(j * b) / b)))
        bound = np.linalg.norm(B[j] @ S[-b:], axis=0)
        ok = bound <= tol * np.abs(theta)
        n_conv = ok.size if ok.all() else int(np.argmin(ok))  # converged from the largest theta down
        # the last pairs converge at about one per vector: look again when the missing ones might have
        next_check = j * b + max(spacing, k - n_conv)
        if n_conv >= k and known is None and count is not None and _clustered(sigma + 1.0 / theta[:n_conv], b):
            known = _counted(count, k, wait=True)
        below = None
        if n_conv >= k and known is not None:
            # Cauchy interlacing: the i-th smallest Ritz value is at least the i-th eigenvalue, so
            # `below` never exceeds the count, and reaches it only if no eigenvector below tau is
            # missing from the Krylov space. Below the count, wait while the Ritz values up to
            # the first one above tau still move; once they have converged, something is missing.
            below = int(np.searchsorted(ritz, known[0]))
            if below < known[1] and not ok[: below + 1].all() and (j + 1) * b <= max_vectors:
                next_check = j * b + spacing
                continue
        if n_conv >= k:
            lam = sigma + 1.0 / theta[:n_conv]
            order = np.argsort(lam)
            with blas_threads(threads):  # one large product
                X = Q.rows[: j * b].T @ S[:, order]  # (V, n) in C order, as the caller's products want
            X /= d[:, None]
            return LanczosResult(lam[order], X, j * b, n_reorth, ritz, below)
        if (j + 1) * b > max_vectors:
            raise SolverError(f"block Lanczos did not converge {k} pairs in {j * b} vectors ({n_conv} did)")


def _orthogonalise(W: np.ndarray, rows: np.ndarray) -> None:
    """``W -= (W rows^T) rows`` in place for orthonormal ``rows``, chunk by chunk (block modified
    Gram-Schmidt): each chunk is read from memory once and used from cache by both products, where
    the two products on the whole stretch would read it twice (about twice as fast up to 10k
    vertices, the same on larger meshes). Chunks of ``REORTH_CHUNK_BYTES``."""
    chunk = REORTH_CHUNK_BYTES // rows.strides[0]
    chunk = chunk if chunk >= 8 else 32
    for i in range(0, rows.shape[0], chunk):
        r = rows[i : i + chunk]
        W -= (W @ r.T) @ r


def _clustered(lam: np.ndarray, b: int) -> bool:
    """Whether some b of the eigenvalues ``lam`` lie within a relative ``CLUSTER_RTOL`` of each other."""
    if lam.size < b:
        return False
    lam = np.sort(lam)
    spread = lam[b - 1 :] - lam[: lam.size - b + 1]
    return bool(np.any(spread <= CLUSTER_RTOL * np.abs(lam[b - 1 :])))


def _frobenius(a: np.ndarray) -> float:
    """Frobenius norm of a small block (np.linalg.norm's checks cost more than the sum)."""
    return math.sqrt(float(np.vdot(a, a)))


def _sym(a: np.ndarray) -> np.ndarray:
    return 0.5 * (a + a.T)


def _gram_cholesky(Y: np.ndarray) -> np.ndarray | None:
    """Upper triangular C with ``Y Y^T = C^T C``; None when Y is too close to rank deficient."""
    # LAPACK directly: numpy's checks cost more than these b x b factorisations themselves
    C, info = dpotrf(Y @ Y.T, lower=0, clean=1)
    return C if info == 0 else None


def _orthonormal_rows(
    W: np.ndarray, C: np.ndarray | None = None, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``W = R^T Y`` with Y (b, V) orthonormal rows (written to ``out`` if given) and R (b, b)
    upper triangular; ``C``: :func:`_gram_cholesky` of W where already computed.

    Cholesky QR applied twice (two passes over W with b x b Gram matrices, much faster than
    Householder QR for a tall, thin block and as accurate once repeated); Householder QR when the
    block is too close to rank deficient for a Cholesky factorisation.
    """
    Y, R = W, np.eye(W.shape[0])
    for i in range(2):
        if i > 0 or C is None:
            C = _gram_cholesky(Y)
        if C is None:
            q, R = np.linalg.qr(W.T)
            if out is None:
                return np.ascontiguousarray(q.T), R
            out[...] = q.T
            return out, R
        Y = np.matmul(_triangular_inverse(C).T, Y, out=out if i == 1 else None)
        R = C @ R
    return Y, R


def _triangular_inverse(C: np.ndarray) -> np.ndarray:
    Ci, info = dtrtri(C, lower=0)
    if info != 0:
        raise SolverError("block Lanczos met a singular block")
    return Ci


def _counted(count: Future, k: int, wait: bool = False) -> tuple[float, int] | None:
    """``(tau, n)`` from the future when it succeeded and ``n`` is worth converging (at most 2 k)."""
    if not wait and not count.done():
        return None
    c = count.result()
    if c is None or c[1] > 2 * k:
        return None
    return c


def _ritz(A, B, nb, b, n, sigma):
    """Ritz pairs of the block tridiagonal of ``nb`` blocks: the ``n`` values of ``theta`` largest in
    magnitude (the eigenvalues nearest the shift, on both sides of an interior shift) and their
    vectors (nb b, n), and every Ritz value as an eigenvalue ``lambda = sigma + 1 / theta`` of the
    shift-inverted pencil, ascending, for ``theta > 0``.

    A dense symmetric solve of the m x m matrix (m = nb b): LAPACK's divide and conquer on all of
    it is faster at these sizes than a banded or selected-eigenvalue solve.
    """
    m = nb * b
    T = np.zeros((m, m))
    for i in range(nb):
        T[i * b : (i + 1) * b, i * b : (i + 1) * b] = A[i]
        if i + 1 < nb:
            T[(i + 1) * b : (i + 2) * b, i * b : (i + 1) * b] = B[i + 1]
            T[i * b : (i + 1) * b, (i + 1) * b : (i + 2) * b] = B[i + 1].T
    theta, S = np.linalg.eigh(T)
    order = np.argsort(-np.abs(theta), kind="stable")[: min(n, m)]
    positive = theta[theta > 0][::-1]
    return theta[order], S[:, order], sigma + 1.0 / positive


def _update_omega(A, B, om, om_prev, j, R, anorm):
    """Block form of Simon's recurrence: ``out[i] ~ Y_{j+1}^T Y_i`` (b x b) for blocks i <= j, and
    the largest of those estimates in magnitude.

    From ``Y_{j+1} R = A Y_j - Y_j A_j - Y_{j-1} B_j^T`` and the same relation at step i.
    """
    b = R.shape[0]
    out = np.empty((j + 2, b, b))
    local = _EPS * anorm / _min_abs_diagonal(R)  # Y_{j+1} . Y_j after the local passes
    top = local
    if j > 0:
        Bt = np.transpose(B[:j], (0, 2, 1))
        val = om[:j] @ A[:j] + om[1 : j + 1] @ B[1 : j + 1] - A[j] @ om[:j] - B[j] @ om_prev[:j]
        val[1:] += om[: j - 1] @ Bt[1:]
        noise = _EPS * anorm
        val += np.copysign(noise, val)
        np.matmul(_triangular_inverse(R).T, val, out=out[:j])  # R^T out_i = val_i for every i at once
        top = max(top, float(np.abs(out[:j]).max()))
    out[j] = local
    out[j + 1] = np.eye(b)
    return out, top


def _min_abs_diagonal(R: np.ndarray) -> float:
    return min(abs(float(R[i, i])) for i in range(R.shape[0]))
