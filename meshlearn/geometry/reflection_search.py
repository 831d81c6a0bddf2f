"""Finding an approximate intrinsic reflection: candidate functional maps, their refinement, their score.

Letters: V vertices, F faces, K eigenfunctions, m eigenfunctions whose signs are searched,
q descriptors, S sampled vertices.

A reflective symmetry ``T`` of a shape acts on functions by ``P f = f[T]``; in the eigenbasis
``Phi`` (M-orthonormal, constant left out) it is the functional map ``C = Phi^T M Phi[T]``, with
``Phi[T] ~ Phi C``. For an isometric involution ``C`` is orthogonal, symmetric and commutes with
the eigenvalues, so on simple low eigenvalues it is close to a diagonal of signs. On a real body
(posed asymmetrically, noisy, remeshed) only the first few eigenfunctions keep a clear sign; the
higher ones mix within clusters of close eigenvalues. The search therefore:

1. tries every non-trivial sign pattern on the first ``m`` eigenfunctions, turns each into a
   pointwise map (nearest neighbours in the sign-flipped spectral embedding) and refines it by
   ZoomOut (Melzi et al. 2019: alternate ``C`` from the pointwise map and the pointwise map from
   ``C``, growing the basis) on a sample of vertices, with ``C`` kept symmetric (an involution's);
2. ranks the refined candidates by two intrinsic tests that any symmetry passes and the identity,
   or a wrong map, fails: how well the map preserves the wave kernel signature (symmetric
   descriptors are unchanged by a symmetry), and whether it reverses orientation (Ren, Poulenard,
   Wonka and Ovsjanikov 2018: for a symmetric descriptor ``f`` the operator
   ``O_f g = <n, grad f x grad g>`` anticommutes with the map of an orientation-reversing
   isometry, ``C O_f = -O_f C``, and commutes with an orientation-preserving one);
3. refines the best at full resolution and scores it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

__all__ = [
    "ReflectionCandidate",
    "orientation_operators",
    "zoomout_self_map",
    "nearest_rows",
    "descriptor_error",
    "orientation_ratio",
    "search_reflection",
]


@dataclass
class ReflectionCandidate:
    """One refined candidate reflection.

    vertex_map : (V,) int64
    fmap : (K, K) float64, the functional map ``Phi^T M Phi[T]`` of the map (symmetrised)
    signs : (m,) int64, the sign pattern it started from
    descriptor_error : float
        Mass-weighted mean distance between the normalised wave kernel signatures of ``i`` and
        ``T(i)``, divided by the same mean over random pairs of vertices (0 perfect, ~1 chance).
    orientation : float
        ``sum ||C O + O C|| / sum ||C O - O C||`` over descriptor operators ``O``: near 0 for an
        orientation-reversing map (a reflection), large for an orientation-preserving one;
        ``nan`` without faces.
    residual : float
        Mean distance from ``(Phi C)[i]`` to ``Phi[T(i)]`` relative to the mean row norm of ``Phi``.
    """

    vertex_map: np.ndarray
    fmap: np.ndarray
    signs: np.ndarray
    descriptor_error: float
    orientation: float
    residual: float

    @property
    def rank_key(self) -> float:
        """Lower is better: descriptor error times orientation ratio (descriptor error alone
        without faces)."""
        o = self.orientation
        return self.descriptor_error * (o if np.isfinite(o) else 1.0)


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


# ------------------------------------------------------------------------------ refinement
def nearest_rows(points: np.ndarray, query: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Nearest row of ``points`` for each row of ``query``: (distances, indices).

    A KD-tree in a few dimensions; beyond that brute force in chunks, one matrix product each,
    which in the tens of dimensions of a spectral embedding beats tree searches.
    """
    if points.shape[1] <= 8:
        d, j = cKDTree(points).query(query)
        return d, np.asarray(j, dtype=np.int64)
    p2 = np.einsum("ij,ij->i", points, points)
    dist = np.empty(len(query))
    idx = np.empty(len(query), dtype=np.int64)
    for s in range(0, len(query), chunk):
        q = query[s:s + chunk]
        d2 = p2[None, :] - 2.0 * (q @ points.T)
        j = np.argmin(d2, axis=1)
        idx[s:s + chunk] = j
        dist[s:s + chunk] = np.sqrt(np.maximum(d2[np.arange(len(q)), j] + np.einsum("ij,ij->i", q, q), 0.0))
    return dist, idx


def zoomout_self_map(phi: np.ndarray, mass: np.ndarray, T: np.ndarray, sizes, rows: np.ndarray | None = None,
                     extra: np.ndarray | None = None, extra_weight: float = 1.0):
    """ZoomOut refinement of a self-map restricted to ``rows`` (a vertex sample, or all).

    ``T`` maps ``rows`` into ``rows`` (positions into ``rows``). At each basis size k the
    functional map ``C = Phi_k^T M Phi_k[T]`` (on the sample, mass rescaled to the total area) is
    symmetrised (an involution's map is) and the map recovered by nearest neighbours of
    ``Phi_k C`` among the rows of ``Phi_k``. ``extra`` (V, q), optional: map-invariant features
    (symmetric descriptors) appended to both sides of the nearest-neighbour search, scaled to
    ``extra_weight`` times the embedding's mean row norm.

    Returns
    -------
    T : (S,) int64 positions into ``rows``; C : (k, k) at the last size; residual : float
    """
    rows = np.arange(phi.shape[0]) if rows is None else rows
    ps = phi[rows]
    ms = mass[rows] * (mass.sum() / mass[rows].sum())
    resid = float("nan")
    C = np.zeros((0, 0))
    for k in sizes:
        sub = ps[:, :k]
        C = sub.T @ (ms[:, None] * sub[T])
        C = 0.5 * (C + C.T)
        if extra is None:
            d, T = nearest_rows(sub, sub @ C)
        else:
            ex = extra[rows] * (extra_weight * np.linalg.norm(sub, axis=1).mean() / np.linalg.norm(extra[rows], axis=1).mean())
            d, T = nearest_rows(np.hstack([sub, ex]), np.hstack([sub @ C, ex]))
        resid = float(d.mean() / np.linalg.norm(sub, axis=1).mean())
    return np.asarray(T, dtype=np.int64), C, resid


def _sizes(k0: int, k1: int, step: int) -> list[int]:
    out = list(range(k0, k1 + 1, step))
    if out[-1] != k1:
        out.append(k1)
    return out


def search_reflection(
    evals: np.ndarray,
    phi: np.ndarray,
    mass: np.ndarray,
    *,
    verts: np.ndarray | None = None,
    faces: np.ndarray | None = None,
    n_signs: int = 5,
    n_keep: int = 3,
    sample: int = 1000,
    screen_k: int = 40,
    step: int = 5,
    seed: int = 0,
    descriptor_weight: float = 0.0,
) -> list[ReflectionCandidate]:
    """Search, refine and rank candidate reflections; best first.

    Parameters
    ----------
    evals : (K,) positive eigenvalues; phi : (V, K) their M-orthonormal eigenfunctions
        (constants left out); mass : (V,)
    verts, faces : the mesh, for the orientation test (skipped when ``faces`` is None)
    n_signs : int
        Eigenfunctions whose signs are searched (``2**n_signs - 1`` candidates).
    n_keep : int
        Candidates refined to full resolution and returned.
    sample : int
        Vertices the screening refinement runs on.
    screen_k : int
        Basis size the screening refinement grows to (at most K).
    step : int
        Basis size increment of the refinements.
    seed : int
        Seed of the vertex sample.
    """
    V, K = phi.shape
    m = max(1, min(n_signs, K))
    screen_k = min(screen_k, K)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(V, size=min(sample, V), replace=False))
    desc = normalised_wks(evals, phi, mass)
    ops = []
    if faces is not None and verts is not None and len(faces):
        ops = orientation_operators(verts, faces, phi[:, :screen_k], desc[:, ::4])
    emb = phi[rows, :m] / np.sqrt(evals[:m])
    tree = cKDTree(emb)
    screened = []
    for flips in itertools.product((1.0, -1.0), repeat=m):
        s = np.asarray(flips)
        if np.all(s > 0):
            continue  # the identity
        _, T0 = tree.query(emb * s)
        T, C, resid = zoomout_self_map(phi, mass, T0, _sizes(m, screen_k, step), rows)
        err = descriptor_error(desc, mass, rows[T], rows)
        screened.append(ReflectionCandidate(rows[T], C, s.astype(np.int64), err, orientation_ratio(C, ops), resid))
    screened.sort(key=lambda c: c.rank_key)
    out = []
    for cand in screened[:n_keep]:
        out.append(_finish(phi, mass, evals, desc, ops, cand, rows, screen_k, step, descriptor_weight))
    out.sort(key=lambda c: c.rank_key)
    return out


def _finish(phi, mass, evals, desc, ops, cand, rows, screen_k, step, descriptor_weight) -> ReflectionCandidate:
    """Grow the screened candidate's basis to K on the sample, then finish on every vertex."""
    V, K = phi.shape
    pos = np.full(V, -1, dtype=np.int64)
    pos[rows] = np.arange(rows.size)
    T = pos[cand.vertex_map]  # sample positions (the screened map lands on the sample)
    extra = desc if descriptor_weight > 0 else None
    T, C, _ = zoomout_self_map(phi, mass, T, _sizes(screen_k, K, step), rows, extra, descriptor_weight)
    # to every vertex: nearest neighbours of Phi C among all rows, then two full-resolution steps
    full = phi @ C
    _, Tf = nearest_rows(phi, full)
    Tf, C, resid = zoomout_self_map(phi, mass, Tf, [K], extra=extra, extra_weight=descriptor_weight)
    err = descriptor_error(desc, mass, Tf)
    return ReflectionCandidate(Tf, C, cand.signs, err, orientation_ratio(C, ops), resid)
