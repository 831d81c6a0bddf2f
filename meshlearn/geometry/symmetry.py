"""Intrinsic reflective symmetries of a shape, and exact symmetrisation of its operators.

Letters: V vertices, K eigenpairs, m eigenfunctions used for the sign search.

A symmetry is stored as a vertex map ``T`` (``(V,) int64``): vertex ``i`` is sent to vertex ``T[i]``.
It acts on per-vertex functions by composition, ``(P_T f)[i] = f[T[i]]``, i.e. ``P_T f = f[T]``.

Detection follows the classical observation that an isometry commutes with the Laplace-Beltrami
operator: a reflective (involutive) symmetry sends every eigenfunction of a simple eigenvalue to
plus or minus itself. Two searches run in turn:

- exact: each sign pattern over the first non-degenerate eigenfunctions is a candidate, scored by
  how well the sign-flipped spectral embedding lands on the embedding of other vertices, and the
  best are refined by iterating an orthogonal functional map (spectral iterative closest point).
  A shape whose mesh is exactly symmetric gets its exact map this way.
- approximate, when the exact search finds nothing (posed, noisy, remeshed real shapes): see
  :mod:`meshlearn.geometry.reflection_search` (sign patterns and descriptor-preserving
  involutions on the first few eigenfunctions, ZoomOut refinement of the self-map with an
  orthogonal functional map close to commuting with the eigenvalues, ranking by descriptor
  preservation, orientation reversal and distortion). Its best map is accepted when it reverses
  orientation, preserves the wave kernel signature, nearly commutes with the eigenvalues and moves
  all but a strip of the shape (thresholds ``max_orientation``, ``max_descriptor_error``,
  ``max_commutativity`` and ``max_fixed_share``);
  otherwise the result is an empty list whose ``message`` reports the best candidate's scores.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from ..errors import ConfigError
from ..shape import Shape
from .reflection_search import MAX_FIXED_SHARE
from .self_map_refinement import nearest_rows

__all__ = [
    "Reflections",
    "SymmetryMap",
    "as_symmetry_map",
    "detect_reflections",
    "symmetrize_operators",
    "permute_operator",
]

log = logging.getLogger(__name__)


@dataclass
class SymmetryMap:
    """A vertex map ``T`` with its quality.

    Attributes
    ----------
    vertex_map : (V,) int64
        Vertex ``i`` is sent to ``vertex_map[i]``.
    score : float
        Quality in [0, 1]: the fraction of vertices ``i`` for which ``T(T(i))`` lies within 1% of
        the shape's diameter of ``i`` (an involution scores 1). default: 1.0 for user-given maps.
    residual : float
        Mean distance between sign-flipped and matched spectral embeddings, relative to the mean
        embedding norm (0 for an exact symmetry). ``nan`` for user-given maps.
    signs : (m,) int array or None
        The eigenfunction sign pattern the detection started from.
    descriptor_error : float
        Mean distance between the wave kernel signatures of ``i`` and ``T(i)`` over the same
        mean for random pairs (0 for an exact symmetry, about 1 for chance); ``nan`` when not
        measured.
    orientation : float
        Orientation-reversal ratio of the map's functional map (see
        :func:`~meshlearn.geometry.reflection_search.orientation_ratio`): near 0 for a
        reflection, above 1 for an orientation-preserving map; ``nan`` when not measured.
    commutativity : float
        Distortion of the map: ``||Lambda C - C Lambda||_F / ||C||_F`` for its functional map on
        the first eigenfunctions (see
        :func:`~meshlearn.geometry.reflection_search.commutativity_error`; 0 for an isometry);
        ``nan`` when not measured.
    fixed_share : float
        Share of the area the map moves by less than 5% of sqrt(area) (see
        :func:`~meshlearn.geometry.reflection_search.fixed_share`; a strip around the symmetry
        plane for a reflection); ``nan`` when not measured.
    exact : bool
        Found by the exact search (the mesh is symmetric to the residual).
    """

    vertex_map: np.ndarray
    score: float = 1.0
    residual: float = float("nan")
    signs: np.ndarray | None = field(default=None, repr=False)
    descriptor_error: float = float("nan")
    orientation: float = float("nan")
    commutativity: float = float("nan")
    fixed_share: float = float("nan")
    exact: bool = False

    @property
    def is_permutation(self) -> bool:
        """True when every vertex is hit exactly once (required for exact symmetrisation)."""
        return bool(np.array_equal(np.sort(self.vertex_map), np.arange(self.vertex_map.size)))

    def inverse(self) -> np.ndarray:
        """The inverse map of a permutation, (V,) int64."""
        if not self.is_permutation:
            raise ConfigError("the symmetry map is not a permutation, so it has no inverse")
        inv = np.empty_like(self.vertex_map)
        inv[self.vertex_map] = np.arange(self.vertex_map.size)
        return inv


class Reflections(list):
    """The list of detected :class:`SymmetryMap` (best first), with what the search concluded.

    message : str
        "found ..." or "no symmetry found: ..." with the best candidate's scores.
    best_candidate : SymmetryMap or None
        The best map the search produced, accepted or not (inspect it when nothing was found).
    """

    def __init__(self, maps=(), message: str = "", best_candidate: SymmetryMap | None = None) -> None:
        super().__init__(maps)
        self.message = message
        self.best_candidate = best_candidate


def as_symmetry_map(vertex_map, n_verts: int | None = None) -> SymmetryMap:
    """Wrap a user-given vertex map (e.g. transferred from a template) as a :class:`SymmetryMap`.

    Parameters
    ----------
    vertex_map : (V,) int array or SymmetryMap
    n_verts : int, optional
        The shape's vertex count, to check the map against.
    """
    if isinstance(vertex_map, SymmetryMap):
        return vertex_map
    arr = np.asarray(vertex_map)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ConfigError(f"a symmetry map must be a 1-D integer array of vertex indices (got {arr.dtype} {arr.shape})")
    n = arr.size if n_verts is None else n_verts
    if arr.size != n or (arr.size and (arr.min() < 0 or arr.max() >= n)):
        raise ConfigError(f"a symmetry map for a shape of {n} vertices needs {n} indices in [0, {n}) (got {arr.size}, range "
                          f"[{arr.min() if arr.size else 0}, {arr.max() if arr.size else 0}])")
    return SymmetryMap(arr.astype(np.int64))


def permute_operator(A: sp.spmatrix, vertex_map: np.ndarray) -> sp.csr_matrix:
    """``P^T A P`` for the permutation ``P f = f[T]``: the operator seen through the symmetry.

    For a permutation, ``(P^T A P)[i, j] = A[T^-1(i), T^-1(j)]``.
    """
    inv = as_symmetry_map(vertex_map, A.shape[0]).inverse()
    A = sp.csr_matrix(A)
    return sp.csr_matrix(A[inv][:, inv])


def symmetrize_operators(
    L: sp.spmatrix, M: sp.spmatrix, maps, *, tol: float = 1e-14, max_sweeps: int = 50
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Make ``L`` and ``M`` exactly invariant under the group generated by ``maps``.

    Each generator's averaging ``A <- (A + P^T A P) / 2`` is an orthogonal projection (in the
    Frobenius inner product) onto the operators it fixes; sweeping over the generators converges
    to the projection onto the operators fixed by the whole group (alternating projections), and
    for commuting generators (products of independent reflections) one sweep is exact. The cost
    grows with the number of generators, never with the size of the group.

    Parameters
    ----------
    L : (V, V) sparse, M : (V, V) sparse diagonal
    maps : sequence of (V,) int arrays or SymmetryMap; each must be a permutation.

    Returns
    -------
    L_sym, M_sym : (V, V) CSR with ``P^T L_sym P = L_sym`` and ``P^T M_sym P = M_sym`` for every
        generator (to rounding).
    """
    maps = [as_symmetry_map(m, L.shape[0]) for m in maps]
    for m in maps:
        if not m.is_permutation:
            raise ConfigError(
                "exact symmetrisation needs bijective vertex maps (permutations); a detected map on a mesh "
                "that is not exactly symmetric is not one: use it for evaluation, or remesh symmetrically"
            )
    L = sp.csr_matrix(L, dtype=np.float64)
    M = sp.csr_matrix(M, dtype=np.float64)
    for _ in range(max_sweeps):
        change = 0.0
        for m in maps:
            L_new = 0.5 * (L + permute_operator(L, m.vertex_map))
            M_new = 0.5 * (M + permute_operator(M, m.vertex_map))
            change = max(change, abs(L_new - L).max(), abs(M_new - M).max())
            L, M = L_new.tocsr(), M_new.tocsr()
        if change <= tol * max(abs(L).max(), 1.0):
            break
    return L, M


def _simple_indices(evals: np.ndarray, start: int, m: int, rtol: float) -> list[int]:
    """Indices (from ``start``) of eigenvalues separated from both neighbours by ``rtol``."""
    out = []
    for i in range(start, len(evals)):
        gap_lo = evals[i] - evals[i - 1] if i > 0 else np.inf
        gap_hi = evals[i + 1] - evals[i] if i + 1 < len(evals) else np.inf
        if min(gap_lo, gap_hi) > rtol * max(abs(evals[i]), 1e-12):
            out.append(i)
        if len(out) == m:
            break
    return out


def _icp(
    phi: np.ndarray, mass: np.ndarray, T: np.ndarray, iters: int, k0: int, give_up: float = np.inf
) -> tuple[np.ndarray, float]:
    """Refine a map by alternating an orthogonal functional map and nearest neighbours, growing
    the basis from ``k0`` to all columns of ``phi`` (ZoomOut-style). Stops early, returning an
    infinite residual, as soon as the residual after a step (the first excepted) is above ``give_up``:
    an exact reflection's residual is near zero at every basis size, so a map that is not one is
    given up after two steps instead of running the whole refinement at full resolution.

    ``phi`` (V, K) M-orthonormal. The functional map C of T satisfies ``phi[T] ~ phi @ C``.
    """
    K = phi.shape[1]
    sizes = np.unique(np.linspace(min(k0, K), K, max(iters, 1)).astype(int))
    for step, k in enumerate(sizes):
        sub = phi[:, :k]
        C = sub.T @ (mass[:, None] * sub[T])
        U, _, Vt = np.linalg.svd(C)
        d, T = nearest_rows(sub, sub @ (U @ Vt))
        if step >= 1 and d.mean() / np.linalg.norm(sub, axis=1).mean() > give_up:
            return T.astype(np.int64), float("inf")
    C = phi.T @ (mass[:, None] * phi[T])
    U, _, Vt = np.linalg.svd(C)
    d, _ = nearest_rows(phi, phi @ (U @ Vt))
    resid = float(d.mean() / np.linalg.norm(phi, axis=1).mean())
    return T.astype(np.int64), resid


def _odd_compatible(f: np.ndarray, mass: np.ndarray, tol: float = 0.05) -> bool:
    """Whether ``f`` could be odd under an area-preserving involution: the mass-weighted quantiles
    of ``f`` and ``-f`` agree to ``tol`` of its standard deviation."""
    q = np.linspace(0.02, 0.98, 49)
    order = np.argsort(f)
    cdf = np.cumsum(mass[order]) / mass.sum()
    qf = np.interp(q, cdf, f[order])
    q_neg = -qf[::-1]
    std = float(np.sqrt(np.sum(mass * f**2) / mass.sum())) or 1.0
    return bool(np.abs(qf - q_neg).mean() < tol * std)


def detect_reflections(
    shape: Shape,
    *,
    k: int = 160,
    n_signs: int = 8,
    max_maps: int = 4,
    max_residual: float = 0.05,
    icp_iters: int = 20,
    approximate: bool = True,
    max_orientation: float = 0.55,
    max_descriptor_error: float = 0.4,
    max_commutativity: float = 0.12,
    max_fixed_share: float = MAX_FIXED_SHARE,
    seed: int = 0,
    evals: np.ndarray | None = None,
    evecs: np.ndarray | None = None,
    mass: np.ndarray | None = None,
) -> Reflections:
    """Detect a shape's intrinsic reflective symmetries from its eigenbasis.

    Parameters
    ----------
    shape : Shape
        A mesh or point cloud.
    k : int
        Eigenpairs used for the refinement (the functional map's size). default: 160
    n_signs : int
        Simple (non-degenerate) eigenfunctions whose signs the exact search tries. default: 8
    max_maps : int
        At most this many symmetries are returned, best first. default: 4
    max_residual : float
        The exact search keeps candidates whose relative spectral residual after refinement is
        below this (an exactly symmetric mesh gives ~1e-6). default: 0.05
    icp_iters : int
        Refinement steps of the exact search. default: 20
    approximate : bool
        When the exact search finds nothing, search an approximate reflection (posed, noisy,
        remeshed shapes; see :mod:`meshlearn.geometry.reflection_search`). default: True
    max_orientation : float
        The approximate map is accepted only when its orientation-reversal ratio is below this
        (0 for a reflection, above 1 for an orientation-preserving map). default: 0.55
    max_descriptor_error : float
        ... and its wave kernel signature error (relative to chance) below this. default: 0.4
    max_commutativity : float
        ... and its distortion (commutativity error with the eigenvalues) below this. default: 0.12
    max_fixed_share : float
        ... and the share of the area it leaves in place below this; candidates above it are also
        ranked last in the search. default:
        :data:`~meshlearn.geometry.reflection_search.MAX_FIXED_SHARE` (0.3)
    seed : int
        Seed of the approximate search's vertex sample. default: 0
    evals, evecs, mass : optional
        A precomputed eigenbasis ((K,), (V, K) M-orthonormal, (V,) lumped mass) to reuse.

    Returns
    -------
    Reflections
        A list of :class:`SymmetryMap`, best first; distinct maps only (the identity is never
        returned). Empty when the shape has no detectable reflective symmetry, with ``message``
        giving the best candidate's scores and ``best_candidate`` the map itself.
    """
    from threadpoolctl import threadpool_limits

    if evecs is None or evals is None or mass is None:
        from .laplacian import laplacian
        from .spectral import eigenbasis

        L, M = laplacian(shape)
        evals, evecs = eigenbasis(L, M, k=min(k + 1, shape.n_verts), source=shape.source)
        mass = M.diagonal()
    evals = np.asarray(evals, dtype=np.float64)
    evecs = np.asarray(evecs, dtype=np.float64)
    mass = np.asarray(mass, dtype=np.float64)
    # skip the constant function(s): eigenvalues ~ 0
    n_zero = int(np.sum(evals < 1e-8 * max(evals.max(), 1e-12)))
    with threadpool_limits(1):  # many small products: threads only add overhead
        found = _exact_search(shape, evals, evecs, mass, n_zero, k, n_signs, icp_iters, max_maps, max_residual)
        if found or not approximate:
            msg = (f"found {len(found)} exact reflection(s)" if found else
                   "no exact symmetry found (approximate search off)")
            return Reflections(found, msg, found[0] if found else None)
        limits = (max_orientation, max_descriptor_error, max_commutativity, max_fixed_share)
        return _approximate_search(shape, evals, evecs, mass, n_zero, k, limits, seed)


def _round_trip_score(shape: Shape, T: np.ndarray) -> float:
    back = np.linalg.norm(shape.verts[T[T]] - shape.verts, axis=1)
    return float(np.mean(back <= 0.01 * shape.diameter()))


def _approximate_search(shape, evals, evecs, mass, n_zero, k, limits, seed) -> Reflections:
    from .reflection_search import search_reflection

    keep = slice(n_zero, n_zero + k)
    phi, lam = evecs[:, keep], evals[keep]
    if phi.shape[1] < 2:
        return Reflections([], f"no symmetry found: only {phi.shape[1]} non-constant eigenfunctions", None)
    faces = shape.faces if shape.is_mesh else None
    max_orientation, max_descriptor_error, max_commutativity, max_fixed_share = limits
    cands = search_reflection(lam, phi, mass, verts=shape.verts, faces=faces, seed=seed,
                              max_fixed_share=max_fixed_share)
    best = cands[0]
    sym = SymmetryMap(best.vertex_map, score=_round_trip_score(shape, best.vertex_map), residual=best.residual,
                      descriptor_error=best.descriptor_error, orientation=best.orientation,
                      commutativity=best.commutativity, fixed_share=best.fixed_share)
    scores = (f"descriptor error {best.descriptor_error:.3f} (accepted below {max_descriptor_error}), orientation "
              f"ratio {best.orientation:.3f} (accepted below {max_orientation}), commutativity error "
              f"{best.commutativity:.3f} (accepted below {max_commutativity}), share left in place "
              f"{best.fixed_share:.3f} (accepted below {max_fixed_share}), round-trip score {sym.score:.3f}")
    ok = (best.descriptor_error <= max_descriptor_error and not best.orientation > max_orientation
          and not best.commutativity > max_commutativity and not best.fixed_share > max_fixed_share)
    if not ok:
        msg = f"no symmetry found on {shape.source or 'the shape'}: best candidate's {scores}"
        log.info("%s", msg)
        return Reflections([], msg, sym)
    return Reflections([sym], f"found an approximate reflection: {scores}", sym)


def _exact_search(shape, evals, evecs, mass, n_zero, k, n_signs, icp_iters, max_maps, max_residual) -> list[SymmetryMap]:
    simple = _simple_indices(evals, max(n_zero, 1), n_signs, rtol=1e-3)
    if not simple:
        log.info("%s: no simple eigenvalues in the first %d; no exact reflection", shape.source, len(evals))
        return []
    emb = evecs[:, simple] / np.sqrt(evals[simple])  # global point signature
    tree = cKDTree(emb)
    scale = float(np.linalg.norm(emb, axis=1).mean())
    # An odd eigenfunction (sign -1 under the reflection) has a value distribution symmetric
    # about 0: only those may flip, which prunes the 2**m sign patterns to a few.
    flippable = [j for j, i in enumerate(simple) if _odd_compatible(evecs[:, i], mass)]
    candidates = []
    for flips in itertools.product((1.0, -1.0), repeat=len(flippable)):
        if all(f > 0 for f in flips):
            continue
        s = np.ones(len(simple))
        s[flippable] = flips
        d, T = tree.query(emb * s)
        candidates.append((float(d.mean() / scale), s, T))
    candidates.sort(key=lambda c: c[0])
    return _refine(shape, candidates, evecs, mass, n_zero, k, len(simple), icp_iters, max_maps, max_residual)


def _refine(shape, candidates, evecs, mass, n_zero, k, k0, icp_iters, max_maps, max_residual) -> list[SymmetryMap]:
    V = evecs.shape[0]
    phi = evecs[:, n_zero:][:, :k] if evecs.shape[1] > n_zero else evecs
    diam = shape.diameter()
    found: list[SymmetryMap] = []
    for coarse, s, T in candidates[: 2 * max_maps]:
        T, resid = _icp(phi, mass, T, icp_iters, k0=k0, give_up=2 * max_residual)
        if resid > max_residual or np.mean(T == np.arange(V)) > 0.5:
            continue
        if any(np.mean(T == f.vertex_map) > 0.9 for f in found):
            continue
        back = np.linalg.norm(shape.verts[T[T]] - shape.verts, axis=1)
        score = float(np.mean(back <= 0.01 * diam))
        found.append(SymmetryMap(T, score=score, residual=resid, signs=s.astype(np.int64), exact=True))
        if len(found) == max_maps:
            break
    found.sort(key=lambda f: (-f.score, f.residual))
    return found
