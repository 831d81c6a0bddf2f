"""How a group of symmetries acts on the Laplacian's eigenspaces, and its invariant functions.

Letters: V vertices, K eigenpairs, G generators, D dimension of the invariant subspace.

An isometry ``T`` commutes with the Laplace-Beltrami operator, so (once ``L`` and ``M`` are exactly
invariant, see :func:`~meshlearn.geometry.symmetry.symmetrize_operators`) it maps each eigenspace
to itself. On the eigenspace of a cluster ``c`` with M-orthonormal basis ``Phi_c`` (V, d_c) it
acts by the orthogonal matrix ``A_T^c = Phi_c^T M Phi_c[T]`` (d_c, d_c). A function
``f = Phi_c b`` is invariant under the whole group exactly when ``A_T^c b = b`` for every
*generator* ``T``: the invariant subspace is the common fixed space of the generators, found per
eigenspace from a null space of size d_c, so the cost grows with the number of generators and not
with the size of the group (Soleymani, Tahmasebi, Jegelka and Jaillet, ICML 2025).

More generally each generator may be given a sign ``s_T`` in {+1, -1}: the functions with
``f[T] = s_T f`` (anti-invariant for ``s_T = -1``) are found the same way from ``A_T^c - s_T I``.

On a shape that is only approximately symmetric (a detected map on a posed or remeshed body) the
eigenspaces are not invariant and ``A_T^c`` is not orthogonal; ``approximate=True`` (chosen by
default whenever the measured actions are not orthogonal) replaces it by the estimate of
:func:`~meshlearn.geometry.approximate_action.estimate_action` (orthogonal blocks on the clusters
the map mixes). In both cases the basis is finished by the exact projection
:func:`~meshlearn.geometry.approximate_action.orbit_projection` onto the functions fixed by the
given vertex maps, so invariance under those maps holds to rounding; how far the maps are from a
true isometry is then the approximation error, reported by ``estimate_action``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .approximate_action import action_clusters, nearest_orthogonal, orbit_labels, orbit_projection
from .symmetry import as_symmetry_map

__all__ = ["cluster_eigenvalues", "eigenspace_actions", "invariant_basis", "reynolds_average", "group_elements"]


def cluster_eigenvalues(evals: np.ndarray, rtol: float = 1e-6, atol: float = 1e-9) -> list[np.ndarray]:
    """Group (near-)degenerate eigenvalues.

    Consecutive eigenvalues ``a <= b`` share a cluster when ``b - a <= atol + rtol * |b|``.

    Returns
    -------
    list of (d_c,) int arrays
        Indices into ``evals`` (ascending order assumed), one array per cluster.
    """
    evals = np.asarray(evals, dtype=np.float64)
    if evals.size == 0:
        return []
    scale = max(float(np.abs(evals).max()), 1.0)
    breaks = np.flatnonzero(np.diff(evals) > atol * scale + rtol * np.abs(evals[1:])) + 1
    return [np.asarray(c, dtype=np.int64) for c in np.split(np.arange(evals.size), breaks)]


def eigenspace_actions(evecs: np.ndarray, mass: np.ndarray, maps, clusters: list[np.ndarray]) -> list[list[np.ndarray]]:
    """The matrix of each generator on each eigenspace.

    Parameters
    ----------
    evecs : (V, K) M-orthonormal eigenvectors
    mass : (V,) lumped mass
    maps : sequence of G vertex maps ((V,) int arrays or SymmetryMap)
    clusters : list of index arrays (see :func:`cluster_eigenvalues`)

    Returns
    -------
    actions : list over clusters of lists over generators of (d_c, d_c) arrays
        ``A[c][g] = Phi_c^T M Phi_c[T_g]``; orthogonal when the eigenspace is invariant.
    """
    evecs = np.asarray(evecs, dtype=np.float64)
    mass = np.asarray(mass, dtype=np.float64)
    maps = [as_symmetry_map(m, evecs.shape[0]).vertex_map for m in maps]
    out = []
    for idx in clusters:
        phi = evecs[:, idx]
        out.append([phi.T @ (mass[:, None] * phi[T]) for T in maps])
    return out


def _null_space(A: np.ndarray, tol: float) -> np.ndarray:
    if A.shape[0] == 0:
        return np.eye(A.shape[1])
    _, s, Vt = np.linalg.svd(A)
    rank = int(np.sum(s > tol))
    return Vt[rank:].T


def invariant_basis(
    evecs: np.ndarray,
    mass: np.ndarray,
    maps,
    *,
    evals: np.ndarray | None = None,
    clusters: list[np.ndarray] | None = None,
    signs=None,
    tol: float = 1e-6,
    polish: bool = True,
    approximate: bool | str = "auto",
) -> np.ndarray:
    """An M-orthonormal basis of the functions in ``span(evecs)`` fixed by every generator.

    Parameters
    ----------
    evecs : (V, K) M-orthonormal eigenvectors of symmetry-invariant operators
    mass : (V,) lumped mass
    maps : sequence of G generators (vertex maps)
    evals : (K,) optional
        Used to cluster degenerate eigenvalues; needed unless ``clusters`` is given.
    clusters : list of index arrays, optional
        Eigenspace clusters (see :func:`cluster_eigenvalues`).
    signs : sequence of G values in {+1, -1}, optional
        ``f[T_g] = signs[g] * f``; default all +1 (invariant). -1 asks for anti-invariance.
    tol : float
        Singular values of ``A - sI`` below this count as zero. default: 1e-6
    polish : bool
        Finish with the exact projection onto the functions fixed by the maps
        (:func:`~meshlearn.geometry.approximate_action.orbit_projection`), then M-orthonormalise,
        so that invariance holds to rounding. default: True
    approximate : bool or "auto"
        Estimate the actions of approximate symmetries (see the module docstring); "auto" does
        so when a measured action is not orthogonal to ``tol``. default: "auto"

    Returns
    -------
    basis : (V, D) float64, M-orthonormal, ordered by eigenvalue.
    """
    evecs = np.asarray(evecs, dtype=np.float64)
    mass = np.asarray(mass, dtype=np.float64)
    V = evecs.shape[0]
    maps = [as_symmetry_map(m, V).vertex_map for m in maps]
    signs = np.ones(len(maps)) if signs is None else np.asarray(signs, dtype=np.float64)
    if signs.shape != (len(maps),) or not np.all(np.isin(signs, (-1.0, 1.0))):
        raise ConfigError(f"signs must hold one +1 or -1 per generator ({len(maps)}) (got {signs!r})")
    if clusters is None:
        if evals is None:
            raise ConfigError("invariant_basis needs evals (to cluster degenerate eigenvalues) or clusters")
        clusters = cluster_eigenvalues(evals)
    if not maps:
        return evecs.copy()
    actions = eigenspace_actions(evecs, mass, maps, clusters)
    if approximate == "auto":
        approximate = any(np.abs(A.T @ A - np.eye(A.shape[0])).max() > tol for acts in actions for A in acts)
    if approximate:
        if evals is None:
            evals = np.concatenate([np.full(len(c), float(i)) for i, c in enumerate(clusters)])
        raw = [evecs.T @ (mass[:, None] * evecs[T]) for T in maps]
        coupled = np.max(np.abs(np.stack(raw)), axis=0)
        clusters = action_clusters(np.asarray(evals, dtype=np.float64), coupled)
        actions = [[nearest_orthogonal(R[np.ix_(idx, idx)], involution=True) for R in raw] for idx in clusters]
    cols = []
    for idx, acts in zip(clusters, actions):
        d = len(idx)
        stacked = np.concatenate([A - s * np.eye(d) for A, s in zip(acts, signs)], axis=0)
        N = _null_space(stacked, tol)
        if N.size:
            cols.append(evecs[:, idx] @ N)
    if not cols:
        return np.zeros((V, 0))
    basis = np.concatenate(cols, axis=1)
    if polish:
        basis = _polish(basis, mass, maps, signs)
    return basis


def _polish(basis: np.ndarray, mass: np.ndarray, maps: list[np.ndarray], signs: np.ndarray) -> np.ndarray:
    basis = orbit_projection(basis, mass, maps, signs, labels=orbit_labels(maps, signs, basis.shape[0]))
    # M-orthonormalise (invariance is kept: it is linear)
    G = basis.T @ (mass[:, None] * basis)
    w, U = np.linalg.eigh(G)
    keep = w > 1e-10 * max(w.max(), 1e-300)
    return basis @ (U[:, keep] / np.sqrt(w[keep]))


def group_elements(maps, max_size: int = 1 << 16) -> list[np.ndarray]:
    """Every element of the group generated by ``maps`` (permutations), by closure.

    Exponential in the number of independent generators: meant for checks on small groups.
    """
    maps = [as_symmetry_map(m).vertex_map for m in maps]
    if not maps:
        return []
    identity = np.arange(maps[0].size)
    seen = {identity.tobytes(): identity}
    frontier = [identity]
    while frontier:
        nxt = []
        for g in frontier:
            for T in maps:
                h = g[T]
                key = h.tobytes()
                if key not in seen:
                    seen[key] = h
                    nxt.append(h)
                    if len(seen) > max_size:
                        raise ConfigError(f"the group has more than {max_size} elements")
        frontier = nxt
    return list(seen.values())


def reynolds_average(f: np.ndarray, elements: list[np.ndarray]) -> np.ndarray:
    """The group average ``(1/|G|) sum_g f[g]`` of per-vertex functions f (V,) or (V, C)."""
    return sum(f[g] for g in elements) / len(elements)
