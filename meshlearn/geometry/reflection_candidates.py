"""Initial guesses for a reflective self-map: the functional map on the first few eigenfunctions.

Letters: V vertices, S sampled vertices, m eigenfunctions of the guess, q descriptors.

A reflection ``T`` (an involution) acts on the span of the first ``m`` eigenfunctions, when that
span is nearly invariant, by an orthogonal symmetric matrix ``C_m = I - 2 P_odd``: plus one on its
even functions, minus one on its odd ones. Two families of guesses for ``C_m``:

- sign patterns (Ovsjanikov, Sun and Guibas 2008): ``C_m = diag(s)``, right when each of the first
  eigenfunctions is even or odd, as on an exactly symmetric shape;
- descriptor complements: a symmetric descriptor ``d`` (``d[T] = d``, e.g. the wave kernel
  signature) has coefficients ``a = Phi_m^T M d`` with ``C_m a = a``, so the even space contains
  the span of the coefficients and the odd space lies in its orthogonal complement. For each odd
  dimension ``r`` the guess takes the ``r`` left singular vectors of ``A = Phi_m^T M D`` with the
  smallest singular values as the odd space. This is the nearest involution preserving the
  descriptors, and it holds when the shape's pose mixes the first eigenfunctions (the even and odd
  combinations of a left and a right limb mode split into a left and a right one), which no
  sign pattern expresses.

Each guess becomes a pointwise map by nearest neighbours of the rows of ``Phi_m C_m`` among the
rows of ``Phi_m`` (scaled by ``1 / sqrt(lambda)``, the global point signature's weights).
"""

from __future__ import annotations

import itertools

import numpy as np

from .self_map_refinement import nearest_rows

__all__ = ["sign_pattern_fmaps", "descriptor_complement_fmaps", "initial_map"]


def sign_pattern_fmaps(m: int) -> list[tuple[str, np.ndarray]]:
    """Every sign pattern on ``m`` eigenfunctions but all plus (the identity): ``2**m - 1`` pairs
    (name such as ``"+--+"``, (m, m) diagonal)."""
    out = []
    for flips in itertools.product((1.0, -1.0), repeat=m):
        s = np.asarray(flips)
        if np.all(s > 0):
            continue
        out.append(("".join("+" if x > 0 else "-" for x in s), np.diag(s)))
    return out


def descriptor_complement_fmaps(phi: np.ndarray, mass: np.ndarray, desc: np.ndarray, m: int) -> list[tuple[str, np.ndarray]]:
    """Involutions ``I - 2 U_r U_r^T`` on the first ``m`` eigenfunctions, for ``r = 1 .. m-1``,
    with ``U_r`` the left singular vectors of the descriptors' coefficients with the ``r`` smallest
    singular values.

    Parameters
    ----------
    phi : (V, >=m) M-orthonormal eigenfunctions; mass : (V,)
    desc : (V, q) descriptors unchanged by the symmetry
    m : int

    Returns
    -------
    list of (name ``"odd r of m"``, (m, m) symmetric orthogonal)
    """
    A = phi[:, :m].T @ (mass[:, None] * desc)
    U, _, _ = np.linalg.svd(A, full_matrices=True)
    out = []
    for r in range(1, m):
        odd = U[:, m - r:]
        out.append((f"odd {r} of {m}", np.eye(m) - 2.0 * odd @ odd.T))
    return out


def initial_map(phi_rows: np.ndarray, evals: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Pointwise map of the rows from an (m, m) functional map ``C`` (``Phi[T] ~ Phi C``):
    nearest neighbours of the rows of ``(Phi C) W`` among the rows of ``Phi W``, with
    ``Phi = phi_rows[:, :m]`` and the weights ``W = diag(evals[:m] ** -0.5)``.

    Returns
    -------
    (S,) int64 positions into the rows
    """
    m = C.shape[0]
    w = 1.0 / np.sqrt(evals[:m])
    emb = phi_rows[:, :m] * w
    query = (phi_rows[:, :m] @ C) * w
    _, T = nearest_rows(emb, query)
    return T
