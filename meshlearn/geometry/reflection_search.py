"""Finding an approximate intrinsic reflection: candidate functional maps, their refinement, their score.

Letters: V vertices, F faces, K eigenfunctions, m eigenfunctions of an initial guess,
q descriptors, S sampled vertices.

A reflective symmetry ``T`` of a shape acts on functions by ``P f = f[T]``; in the eigenbasis
``Phi`` (M-orthonormal, constant left out) it is the functional map ``C = Phi^T M Phi[T]``, with
``Phi[T] ~ Phi C``. For an isometric involution ``C`` is orthogonal, symmetric and commutes with
the eigenvalues. On a real body (posed asymmetrically, noisy, remeshed) only some of the first
eigenfunctions keep a clear sign; others mix, even across eigenvalues that are well apart. The
search therefore:

1. makes initial guesses of ``C`` on the first few eigenfunctions
   (:mod:`meshlearn.geometry.reflection_candidates`: every sign pattern, and the involutions whose
   odd space is orthogonal to the coefficients of symmetric descriptors), turns each into a
   pointwise map and refines it on a sample of vertices by ZoomOut with an orthogonal functional
   map close to commuting with the eigenvalues
   (:mod:`meshlearn.geometry.self_map_refinement`);
2. ranks the refined candidates by two intrinsic tests that any symmetry passes and the identity,
   or a wrong map, fails: how well the map preserves the wave kernel signature (symmetric
   descriptors are unchanged by a symmetry), and whether it reverses orientation (Ren, Poulenard,
   Wonka and Ovsjanikov 2018: for a symmetric descriptor ``f`` the operator
   ``O_f g = <n, grad f x grad g>`` anticommutes with the map of an orientation-reversing
   isometry, ``C O_f = -O_f C``, and commutes with an orientation-preserving one). The
   orientation test uses the first ``orient_k`` eigenfunctions only: higher up, the operators of
   a non-isometric shape no longer anticommute even with its true mirror;
3. refines the best distinct candidates at full resolution and ranks them again: the basis
   grows on the sample up to ``sample_k`` eigenfunctions, then on every vertex. The last
   steps run on every vertex with each functional map projected on the orthogonal involutions
   (``C = C^T = C^-1``), as the map of a reflection (``T o T = id``) is one.

Maps that leave a large share of the area in place (more than ``max_fixed_share``) are ranked
behind every other candidate whatever their scores: a reflection moves everything but a strip
around its fixed curve (about a tenth of a body's area moves by less than 5% of sqrt(area)),
while a map that is the identity on one part of the shape and a flip elsewhere can preserve the
descriptors, reverse orientation and commute with the eigenvalues better than the true mirror.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .reflection_candidates import descriptor_complement_fmaps, initial_map, sign_pattern_fmaps
from .self_map_refinement import basis_sizes, nearest_rows, zoomout_self_map

__all__ = [
    "ReflectionCandidate",
    "orientation_operators",
    "normalised_wks",
    "descriptor_error",
    "orientation_ratio",
    "commutativity_error",
    "fixed_share",
    "COMMUTATIVITY_WEIGHT",
    "MAX_FIXED_SHARE",
    "rank_candidates",
    "search_reflection",
]


#: Weight of the commutativity error in :attr:`ReflectionCandidate.rank_key`: its spread between
#: right and wrong maps is about a quarter of that of the other two terms.
COMMUTATIVITY_WEIGHT = 4.0

#: Default largest share of the area a reflection may leave in place (see :func:`fixed_share`):
#: about three times the strip around the symmetry plane of a body.
MAX_FIXED_SHARE = 0.3


def commutativity_error(phi: np.ndarray, mass: np.ndarray, evals: np.ndarray, T: np.ndarray,
                        rows: np.ndarray | None = None) -> float:
    """``||Lambda C - C Lambda||_F / ||C||_F`` for ``C = Phi^T M Phi[T]`` (see
    :class:`ReflectionCandidate`); on a vertex sample ``rows`` (``T`` then maps rows to vertices
    of the sample, given as vertex indices) with the mass rescaled to the total area.

    Parameters
    ----------
    phi : (V, k) M-orthonormal eigenfunctions; mass : (V,); evals : (k,) their eigenvalues
    T : (S,) int vertex indices, the images of ``rows`` (of every vertex when ``rows`` is None)
    """
    if rows is None:
        C = phi.T @ (mass[:, None] * phi[T])
    else:
        w = mass[rows] * (mass.sum() / mass[rows].sum())
        C = phi[rows].T @ (w[:, None] * phi[T])
    lam = np.asarray(evals, dtype=np.float64) / max(float(evals[-1]), 1e-300)
    return float(np.linalg.norm(C * (lam[None, :] - lam[:, None])) / max(np.linalg.norm(C), 1e-300))


def fixed_share(verts: np.ndarray | None, mass: np.ndarray, T: np.ndarray, rows: np.ndarray | None = None,
                radius: float = 0.05) -> float:
    """Share of the area (of ``rows``, mass-weighted) that ``T`` moves by less than ``radius``
    times sqrt(area) in space; 0 when ``verts`` is None. ``T`` holds the vertex images of
    ``rows`` (of every vertex when ``rows`` is None)."""
    if verts is None:
        return 0.0
    rows = np.arange(len(verts)) if rows is None else rows
    moved = np.linalg.norm(verts[T] - verts[rows], axis=1)
    w = mass[rows]
    return float(w[moved < radius * np.sqrt(mass.sum())].sum() / w.sum())


@dataclass
class ReflectionCandidate:
    """One refined candidate reflection.

    vertex_map : (V,) int64
    fmap : (K, K) float64, the refined functional map of the map (orthogonal)
    start : str, the initial guess it was refined from (a sign pattern such as ``"+--++"``, or
        ``"odd r of m"`` for a descriptor complement; see
        :mod:`~meshlearn.geometry.reflection_candidates`)
    descriptor_error : float
        Mass-weighted mean distance between the normalised wave kernel signatures of ``i`` and
        ``T(i)``, divided by the same mean over random pairs of vertices (0 perfect, ~1 chance).
    orientation : float
        ``sum ||C O + O C|| / sum ||C O - O C||`` over descriptor operators ``O``: near 0 for an
        orientation-reversing map (a reflection), large for an orientation-preserving one;
        ``nan`` without faces.
    residual : float
        Mean distance from ``(Phi C)[i]`` to ``Phi[T(i)]`` relative to the mean row norm of ``Phi``.
    commutativity : float
        How far the map is from an isometry: ``||Lambda C - C Lambda||_F / ||C||_F`` for the
        measured (not regularised) functional map ``C = Phi^T M Phi[T]`` of the map on the first
        eigenfunctions, eigenvalues divided by the largest of them (0 for an isometry).
    fixed_share : float
        Distance from the identity: the share of the area that the map moves by less than 5% of
        sqrt(area) (Euclidean, a lower bound of the geodesic distance; 1 for the identity, the
        strip around the symmetry plane for a reflection); 0 without vertex positions.
    """

    vertex_map: np.ndarray
    fmap: np.ndarray
    start: str
    descriptor_error: float
    orientation: float
    residual: float
    commutativity: float = float("nan")
    fixed_share: float = 0.0

    @property
    def rank_key(self) -> float:
        """Lower is better: descriptor error plus orientation ratio (0 without faces) plus
        ``COMMUTATIVITY_WEIGHT`` times the commutativity error (0 when not measured) plus the
        share of the area the map leaves in place (``fixed_share``). A sum, not
        a product: the identity and maps that are the identity on most of the shape preserve the
        descriptors almost perfectly, and only the orientation ratio tells them apart; maps that
        send a limb to the wrong place reverse orientation as well as the right one, and only
        their distortion (commutativity) tells them apart; maps that are the identity on part of
        the shape and a flip elsewhere are told apart by the area they leave in place."""
        o = self.orientation if np.isfinite(self.orientation) else 0.0
        c = self.commutativity if np.isfinite(self.commutativity) else 0.0
        return self.descriptor_error + o + COMMUTATIVITY_WEIGHT * c + self.fixed_share


def rank_candidates(cands: list["ReflectionCandidate"], max_fixed_share: float = MAX_FIXED_SHARE) -> list["ReflectionCandidate"]:
    """The candidates best first: those leaving at most ``max_fixed_share`` of the area in place
    by :attr:`ReflectionCandidate.rank_key`, then the others by the same key."""
    return sorted(cands, key=lambda c: (c.fixed_share > max_fixed_share, c.rank_key))


# ------------------------------------------------------------------------------ orientation
def _face_gradients(verts: np.ndarray, faces: np.ndarray):
    """Unit face normals (F, 3), face areas (F,) and the gradients (F, 3) of the three corners'
    hat functions on each face."""
    x0, x1, x2 = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    edges = (x2 - x1, x0 - x2, x1 - x0)  # edge opposite each corner
    n = np.cross(x1 - x0, x2 - x0)
    a2 = np.maximum(np.linalg.norm(n, axis=1), 1e-300)
    n = n / a2[:, None]
    grads = [np.cross(n, e) / a2[:, None] for e in edges]
    return n, 0.5 * a2, grads


def orientation_operators(verts: np.ndarray, faces: np.ndarray, phi: np.ndarray, descriptors: np.ndarray) -> list[np.ndarray]:
    """The operators ``g -> <n, grad f x grad g>`` of descriptors ``f``, in the basis ``phi``.

    Parameters
    ----------
    verts : (V, 3), faces : (F, 3) int, consistently oriented
    phi : (V, K) basis functions
    descriptors : (V, q) functions f

    Returns
    -------
    list of q (K, K) arrays ``O[a, b] = sum_faces area * mean(phi_a) * <n, grad f x grad phi_b>``.
    """
    n, area, grads = _face_gradients(np.asarray(verts, float), np.asarray(faces))
    g_phi = sum(grads[c][:, :, None] * phi[faces[:, c]][:, None, :] for c in range(3))  # (F, 3, K)
    phi_face = phi[faces].mean(1) * area[:, None]  # (F, K)
    # <n, a x b> = <b, n x a>: rotate grad f by n once, then one contraction per descriptor
    out = []
    for f in np.asarray(descriptors, float).T:
        g_f = sum(grads[c] * f[faces[:, c]][:, None] for c in range(3))  # (F, 3)
        rot = np.cross(n, g_f)
        out.append(phi_face.T @ (rot[:, :, None] * g_phi).sum(1))
    return out


def orientation_ratio(C: np.ndarray, ops: list[np.ndarray]) -> float:
    """``sum ||C O + O C|| / sum ||C O - O C||``: below 1 when ``C`` reverses orientation."""
    k = min(C.shape[0], ops[0].shape[0]) if ops else 0
    if not ops or k == 0:
        return float("nan")
    C = C[:k, :k]
    anti = sum(np.linalg.norm(C @ O[:k, :k] + O[:k, :k] @ C) for O in ops)
    comm = sum(np.linalg.norm(C @ O[:k, :k] - O[:k, :k] @ C) for O in ops)
    return float(anti / max(comm, 1e-300))


# ------------------------------------------------------------------------------ descriptors
def normalised_wks(evals: np.ndarray, evecs: np.ndarray, mass: np.ndarray, n: int = 32) -> np.ndarray:
    """Wave kernel signatures (V, n), each column scaled to unit mass-weighted RMS."""
    from .spectral import wks, wks_energies

    d = wks(evals, evecs, wks_energies(evals, n))
    rms = np.sqrt((mass[:, None] * d**2).sum(0) / mass.sum())
    return d / np.maximum(rms, 1e-300)


def descriptor_error(desc: np.ndarray, mass: np.ndarray, T: np.ndarray, rows: np.ndarray | None = None,
                     seed: int = 0) -> float:
    """Mean descriptor distance between ``i`` and ``T(i)`` over chance (random pairs); see
    :class:`ReflectionCandidate`."""
    rows = np.arange(desc.shape[0]) if rows is None else rows
    w = mass[rows] / mass[rows].sum()
    err = float(w @ np.linalg.norm(desc[rows] - desc[T], axis=1))
    rnd = np.random.default_rng(seed).permutation(desc.shape[0])[: rows.size]
    chance = float(w @ np.linalg.norm(desc[rows] - desc[rnd], axis=1))
    return err / max(chance, 1e-300)


# ------------------------------------------------------------------------------ search
def search_reflection(
    evals: np.ndarray,
    phi: np.ndarray,
    mass: np.ndarray,
    *,
    verts: np.ndarray | None = None,
    faces: np.ndarray | None = None,
    n_signs: int = 5,
    descriptor_sizes: tuple[int, ...] = (3, 4, 5, 6, 7, 8, 9, 10),
    n_keep: int = 3,
    sample: int = 1000,
    screen_k: int = 40,
    orient_k: int = 20,
    commute_k: int = 30,
    step: int = 5,
    commute: float = 10.0,
    finish_steps: int = 3,
    sample_k: int = 80,
    max_fixed_share: float = MAX_FIXED_SHARE,
    seed: int = 0,
) -> list[ReflectionCandidate]:
    """Search, refine and rank candidate reflections; best first.

    Parameters
    ----------
    evals : (K,) positive eigenvalues; phi : (V, K) their M-orthonormal eigenfunctions
        (constants left out); mass : (V,)
    verts, faces : the mesh, for the orientation test (skipped when ``faces`` is None) and the
        fixed share (skipped when ``verts`` is None)
    n_signs : int
        Eigenfunctions whose signs are searched (``2**n_signs - 1`` guesses). default: 5
    descriptor_sizes : tuple of int
        Numbers ``m`` of eigenfunctions for the descriptor-complement guesses (``m - 1`` each).
        default: (3, 4, ..., 10)
    n_keep : int
        Distinct candidates refined to full resolution and returned. default: 3
    sample : int
        Vertices the screening refinement runs on. default: 1000
    screen_k : int
        Basis size the screening refinement grows to (at most K). default: 40
    orient_k : int
        Eigenfunctions of the orientation test. default: 20
    commute_k : int
        Eigenfunctions of the commutativity error. default: 30
    step : int
        Basis size increment of the refinements. default: 5
    commute : float
        Weight of the commutativity penalty of each refined functional map (see
        :func:`~meshlearn.geometry.self_map_refinement.isometric_fmap`). default: 10.0
    finish_steps : int
        Refinement steps on every vertex at the full basis size, with involutive functional
        maps. default: 3
    sample_k : int
        Basis size the refinement on the vertex sample grows to; beyond it the basis grows on
        every vertex (a sample of ``sample`` vertices pins down too few coefficients of a larger
        functional map). default: 80
    max_fixed_share : float
        Candidates leaving more of the area in place are ranked last (see
        :func:`rank_candidates`). default: ``MAX_FIXED_SHARE``
    seed : int
        Seed of the vertex sample. default: 0
    """
    V, K = phi.shape
    if int(sample_k) < 2:
        raise ConfigError(f"sample_k must be at least 2 eigenfunctions (got {sample_k!r})")
    m = max(1, min(n_signs, K))
    screen_k = min(screen_k, K)
    ck = min(commute_k, screen_k)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(V, size=min(sample, V), replace=False))
    # the descriptors from the first sample_k eigenpairs: the ranking is that of a search on that basis
    desc = normalised_wks(evals[:sample_k], phi[:, :sample_k], mass)
    ops = []
    if faces is not None and verts is not None and len(faces):
        ops = orientation_operators(verts, faces, phi[:, :min(orient_k, K)], desc[:, ::4])
    guesses = sign_pattern_fmaps(m)
    for size in descriptor_sizes:
        if 2 <= size <= K:
            guesses += descriptor_complement_fmaps(phi, mass, desc, size)
    screened = []
    for name, Cm in guesses:
        T0 = initial_map(phi[rows], evals, Cm)
        T, C, resid = zoomout_self_map(phi, mass, T0, basis_sizes(Cm.shape[0], screen_k, step), rows, evals, commute)
        err = descriptor_error(desc, mass, rows[T], rows)
        comm = commutativity_error(phi[:, :ck], mass, evals[:ck], rows[T], rows)
        fixed = fixed_share(verts, mass, rows[T], rows)
        screened.append(ReflectionCandidate(rows[T], C, name, err, orientation_ratio(C, ops), resid, comm, fixed))
    screened = rank_candidates(screened, max_fixed_share)
    distinct: list[ReflectionCandidate] = []
    for cand in screened:
        if all(np.mean(cand.vertex_map != d.vertex_map) > 0.2 for d in distinct):
            distinct.append(cand)
        if len(distinct) == n_keep:
            break
    sizes = (screen_k, max(screen_k, min(sample_k, K)), K)
    out = [_finish(phi, mass, evals, desc, ops, cand, rows, sizes, step, commute, ck, verts, finish_steps)
           for cand in distinct]
    return rank_candidates(out, max_fixed_share)


def _finish(phi, mass, evals, desc, ops, cand, rows, sizes, step, commute, ck, verts, n_steps) -> ReflectionCandidate:
    """Grow the screened candidate's basis from ``sizes[0]`` to ``sizes[1]`` on the sample, then
    to ``sizes[2]`` on every vertex, then ``n_steps`` steps on every vertex with involutive
    functional maps."""
    V, K = phi.shape
    screen_k, sample_k, full_k = sizes
    pos = np.full(V, -1, dtype=np.int64)
    pos[rows] = np.arange(rows.size)
    T = pos[cand.vertex_map]  # sample positions (the screened map lands on the sample)
    T, C, _ = zoomout_self_map(phi, mass, T, basis_sizes(screen_k, sample_k, step), rows, evals, commute)
    # to every vertex: nearest neighbours of Phi C among all rows, then ZoomOut on every vertex
    _, Tf = nearest_rows(phi[:, :C.shape[0]], phi[:, :C.shape[0]] @ C)
    if full_k > sample_k:
        Tf, C, _ = zoomout_self_map(phi, mass, Tf, basis_sizes(sample_k, full_k, 4 * step)[1:], evals=evals,
                                    commute=commute)
    Tf, C, resid = zoomout_self_map(phi, mass, Tf, [full_k] * max(n_steps, 1), evals=evals,
                                    commute=commute, involution=True)
    err = descriptor_error(desc, mass, Tf)
    comm = commutativity_error(phi[:, :ck], mass, evals[:ck], Tf)
    return ReflectionCandidate(Tf, C, cand.start, err, orientation_ratio(C, ops), resid, comm,
                               fixed_share(verts, mass, Tf))
