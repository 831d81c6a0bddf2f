"""ZoomOut (Melzi et al. 2019): refine a functional map by growing the spectral basis.

Letters and conventions as in :mod:`meshlearn.correspondence.conversions`: ``C : (Kb, Ka)``,
``T : (Vb,)`` a map from B into A.

Starting from a small map ``C : (k0, k0)``, each step converts C to a pointwise map (nearest
neighbour in the spectral embedding, in blocks of rows) and the pointwise map back to a functional
map with ``step`` more eigenfunctions on each side, until ``k1``. A near-isometric map's high
frequencies are recovered from its low ones, and the pointwise map improves at each size.
Memory is O((Va + Vb) K) plus one ``chunk * Va`` block.

The iterations cost ``Va Vb K`` each; with ``points`` (vertex samples of both shapes, e.g. a few
thousand by farthest-point sampling) they run between the samples only, each map's functional map
being the least-squares fit on the sampled rows (:func:`fmap_from_correspondences`), and only the
last ``full_iterations`` and conversion are between all vertices: ``Na Nb K`` per step instead of
``Va Vb K`` (Magnet and Ovsjanikov's fast variant of ZoomOut on subsamples).
"""

from __future__ import annotations

import torch

from ..errors import ConfigError
from .conversions import DEFAULT_CHUNK, fmap_from_correspondences, fmap_to_pointwise, nearest_neighbors, pointwise_to_fmap

__all__ = ["zoomout", "zoomout_from_pointwise"]


def zoomout(
    C: torch.Tensor,
    evecs_a: torch.Tensor,
    evecs_b: torch.Tensor,
    mass_b: torch.Tensor,
    k_final: int,
    step: int = 1,
    chunk: int = DEFAULT_CHUNK,
    points: tuple[torch.Tensor, torch.Tensor] | None = None,
    full_iterations: int = 2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ZoomOut from ``C : (k0, k0)`` to ``(k_final, k_final)``.

    Parameters
    ----------
    C : (K0, K0) tensor
    evecs_a : (Va, K) tensor, K >= k_final, M_a-orthonormal
    evecs_b : (Vb, K) tensor, K >= k_final, M_b-orthonormal
    mass_b : (Vb,) tensor
    k_final : int
    step : int
        Eigenfunctions added per iteration. default: 1
    chunk : int
        Rows of B per nearest-neighbour block. default: 2048
    points : (idx_a (Na,), idx_b (Nb,)) int64 tensors, optional
        Vertices of A and of B the iterations run on (Nb >= k_final); the returned map still
        covers every vertex of B. default: None (all vertices)
    full_iterations : int
        With ``points``: iterations at ``k_final`` between all vertices after the sampled ones
        (the true match of a sampled vertex of B is rarely among A's samples, so the sampled
        maps are off by up to the sample spacing; these iterations remove most of it). default: 2

    Returns
    -------
    C : (k_final, k_final) tensor
    T : (Vb,) int64 tensor, the pointwise map B -> A of the final C
    """
    if C.dim() != 2 or C.shape[0] != C.shape[1]:
        raise ConfigError(f"zoomout expects one square functional map (got {tuple(C.shape)})")
    if int(step) < 1:
        raise ConfigError(f"step must be >= 1 (got {step})")
    if min(evecs_a.shape[1], evecs_b.shape[1]) < k_final:
        raise ConfigError(
            f"k_final={k_final} needs at least that many eigenvectors on both shapes "
            f"(got {evecs_a.shape[1]} and {evecs_b.shape[1]})"
        )
    C = C.detach()
    k = C.shape[0]
    if points is not None:
        idx_a, idx_b = (torch.as_tensor(p, dtype=torch.long, device=evecs_a.device) for p in points)
        if idx_b.shape[0] < k_final:
            raise ConfigError(
                f"ZoomOut on {idx_b.shape[0]} sampled vertices of B cannot fit a functional map on "
                f"{k_final} eigenfunctions; sample at least {k_final}"
            )
        sub_a, sub_b = evecs_a[idx_a], evecs_b[idx_b]
        while k < k_final:
            T = idx_a[nearest_neighbors(sub_a[:, : C.shape[1]], sub_b[:, : C.shape[0]] @ C.to(sub_b.dtype), chunk=chunk)]
            k = min(k + int(step), k_final)
            C = fmap_from_correspondences(T, idx_b, evecs_a[:, :k], evecs_b[:, :k])
        for _ in range(int(full_iterations)):
            T = fmap_to_pointwise(C, evecs_a, evecs_b, chunk=chunk)
            C = pointwise_to_fmap(T, evecs_a[:, :k], evecs_b[:, :k], mass_b)
        return C, fmap_to_pointwise(C, evecs_a, evecs_b, chunk=chunk)
    while k < k_final:
        T = fmap_to_pointwise(C, evecs_a, evecs_b, chunk=chunk)
        k = min(k + int(step), k_final)
        C = pointwise_to_fmap(T, evecs_a[:, :k], evecs_b[:, :k], mass_b)
    return C, fmap_to_pointwise(C, evecs_a, evecs_b, chunk=chunk)


def zoomout_from_pointwise(
    T: torch.Tensor,
    evecs_a: torch.Tensor,
    evecs_b: torch.Tensor,
    mass_b: torch.Tensor,
    k0: int,
    k_final: int,
    step: int = 1,
    chunk: int = DEFAULT_CHUNK,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ZoomOut started from a pointwise map ``T : (Vb,)``: its ``(k0, k0)`` functional map, then
    :func:`zoomout` to ``k_final``. Returns ``(C, T)`` as :func:`zoomout` does."""
    if not 1 <= k0 <= k_final:
        raise ConfigError(f"expected 1 <= k0 <= k_final (got k0={k0}, k_final={k_final})")
    C0 = pointwise_to_fmap(T, evecs_a[:, :k0], evecs_b[:, :k0], mass_b)
    return zoomout(C0, evecs_a, evecs_b, mass_b, k_final, step=step, chunk=chunk)
