"""Which of a map and its mirror image keeps the surfaces' orientation: left-right flips at test time.

Letters: V vertices (``Va``, ``Vb``), C descriptor channels, P channel pairs.

Intrinsic descriptors (WKS, HKS) cannot tell a near-symmetric shape's left from its right: a map
T : A -> B and its mirror image ``S_B o T`` (``S_B`` the reflection of B) fit them equally well.
The orientation can. For two functions f, g on an oriented surface, the oriented area form of
their gradients, ``chi = n . (grad f x grad g)``, is intrinsic (a rigid motion leaves it unchanged)
but changes sign under an orientation-reversing map: with f, g invariant under the reflection,
``chi o S = -chi``. An orientation-preserving map sends A's ``chi`` onto B's; a flipped map onto
``-chi``. :func:`oriented_descriptor_pairs` computes ``chi`` for pairs of descriptor channels, in
each vertex's tangent frame (rows x, y, n right-handed with n outward: ``chi = gx_f gy_g - gy_f
gx_g``), and :func:`orientation_agreement` is their mass-weighted correlation through a map:
positive when it keeps the orientation, negative when it reverses it.
:func:`choose_orientation` keeps whichever of T and ``S_B o T`` agrees better.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = ["CHANNEL_GAPS", "oriented_descriptor_pairs", "orientation_agreement", "choose_orientation"]

#: channel gaps j - i of the descriptor pairs (i, j), and the stride of i
CHANNEL_GAPS = (8, 24, 48)
CHANNEL_STRIDE = 12


def _pairs(n_channels: int, gaps: tuple[int, ...], stride: int) -> tuple[np.ndarray, np.ndarray]:
    gaps = tuple(g for g in gaps if 0 < g < n_channels) or ((n_channels // 2,) if n_channels > 1 else ())
    pairs = [(i, i + g) for g in gaps for i in range(0, n_channels - g, max(1, stride))]
    if not pairs:
        raise ConfigError(f"oriented descriptors need at least two channels (got {n_channels})")
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def oriented_descriptor_pairs(
    desc: np.ndarray,
    grad_x: Any,
    grad_y: Any,
    mass: np.ndarray,
    *,
    gaps: tuple[int, ...] = CHANNEL_GAPS,
    stride: int = CHANNEL_STRIDE,
) -> np.ndarray:
    """``chi_ij = n . (grad f_i x grad f_j)`` for channel pairs (i, j = i + gap), ``(V, P)``.

    Parameters
    ----------
    desc : (V, C) array, descriptor channels (e.g. WKS), functions on the surface
    grad_x, grad_y : (V, V) sparse matrices, the tangent gradient in each vertex's frame
        (``Operators.grad_x`` / ``grad_y``)
    mass : (V,) array, vertex areas
    gaps, stride : the pairs (i, i + gap) for each gap, i = 0, stride, 2 stride, ...

    Returns
    -------
    (V, P) float64: each pair divided by the RMS gradient norms of its two channels (area
    weighted), so that it does not depend on the descriptors' scale or the shape's size.
    """
    f = np.asarray(desc, dtype=np.float64)
    if f.ndim != 2:
        raise ConfigError(f"expected descriptors (V, C) (got shape {f.shape})")
    gx, gy = np.asarray(grad_x @ f), np.asarray(grad_y @ f)
    w = np.asarray(mass, dtype=np.float64).reshape(-1)
    rms = np.sqrt((w[:, None] * (gx**2 + gy**2)).sum(0) / max(w.sum(), 1e-300))
    rms = np.maximum(rms, 1e-300)
    i, j = _pairs(f.shape[1], tuple(gaps), int(stride))
    return (gx[:, i] * gy[:, j] - gy[:, i] * gx[:, j]) / (rms[i] * rms[j])


def orientation_agreement(chi_a: np.ndarray, chi_b: np.ndarray, T: np.ndarray, mass_a: np.ndarray) -> float:
    """Mean over channel pairs of the area-weighted correlation on A between ``chi_a`` and ``chi_b[T]``.

    Parameters
    ----------
    chi_a : (Va, P), chi_b : (Vb, P) -- :func:`oriented_descriptor_pairs` of A and B
    T : (Va,) int, the map A -> B (a vertex of B for every vertex of A)
    mass_a : (Va,) vertex areas of A

    Returns
    -------
    float in [-1, 1]: about +1 for an orientation-preserving map, -1 for a reversing one.
    """
    T = np.asarray(T, dtype=np.int64)
    if chi_a.shape[1] != chi_b.shape[1] or T.shape != (chi_a.shape[0],):
        raise ConfigError(
            f"expected chi_a (Va, P), chi_b (Vb, P) and T (Va,) (got {chi_a.shape}, {chi_b.shape}, {T.shape})"
        )
    w = np.asarray(mass_a, dtype=np.float64).reshape(-1)
    w = w / w.sum()
    a = chi_a - (w[:, None] * chi_a).sum(0)
    b = chi_b[T]
    b = b - (w[:, None] * b).sum(0)
    den = np.sqrt((w[:, None] * a**2).sum(0) * (w[:, None] * b**2).sum(0))
    corr = (w[:, None] * a * b).sum(0) / np.maximum(den, 1e-300)
    return float(corr.mean())


def choose_orientation(
    T: np.ndarray, reflection_b: np.ndarray, chi_a: np.ndarray, chi_b: np.ndarray, mass_a: np.ndarray
) -> tuple[np.ndarray, bool, float, float]:
    """``T`` or its mirror image ``reflection_b[T]``, whichever agrees better with the orientation.

    Returns
    -------
    (map, flipped, agreement of T, agreement of the mirror image)
    """
    T = np.asarray(T, dtype=np.int64)
    mirrored = np.asarray(reflection_b, dtype=np.int64)[T]
    keep, flip = orientation_agreement(chi_a, chi_b, T, mass_a), orientation_agreement(chi_a, chi_b, mirrored, mass_a)
    return (mirrored, True, keep, flip) if flip > keep else (T, False, keep, flip)
