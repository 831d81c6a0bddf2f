"""Matching two shapes through a template-method run's per-vertex template probabilities.

Letters: V vertices (``Va``, ``Vb``), T template points, m candidates.

A template run's network gives every vertex a distribution over the template's points;
:func:`match_scores` scores vertex pairs by the probability that both land on the same template
point, :func:`match_pair` takes the best, and :func:`refine_map` smooths the map through its
functional map (the candidates keep the network's local choices). Used by
:func:`meshlearn.train.evaluate.evaluate` for ``--method template`` runs.
"""

from __future__ import annotations

import torch

__all__ = ["match_scores", "match_pair", "refine_map"]


def match_scores(logits_a: torch.Tensor, logits_b: torch.Tensor, top: int = 8) -> torch.Tensor:
    """Scores (Va, Vb): ``S[a, b] = sum_t p_a(t) p_b(t)`` over the ``top`` most likely template
    points t of each vertex a, with ``p = softmax(logits)`` over the template (logits (V, T))."""
    pa = torch.softmax(logits_a.float(), dim=1)
    pb = torch.softmax(logits_b.float(), dim=1)
    vals, idx = pa.topk(min(top, pa.shape[1]), dim=1)
    S = torch.zeros(pa.shape[0], pb.shape[0], dtype=pa.dtype, device=pa.device)
    for j in range(idx.shape[1]):
        S += vals[:, j : j + 1] * pb[:, idx[:, j]].T
    return S


def match_pair(logits_a: torch.Tensor, logits_b: torch.Tensor, top: int = 8) -> torch.Tensor:
    """Vertex of B for each vertex of A, (Va,) int64: the argmax of :func:`match_scores`."""
    return match_scores(logits_a, logits_b, top).argmax(dim=1)


def refine_map(
    T0: torch.Tensor, ops_a, ops_b, k: int, *, candidates: torch.Tensor | None = None, iterations: int = 1
) -> torch.Tensor:
    """Refine a pointwise map A -> B, ``T0 : (Va,)`` into B, through its functional map.

    Each iteration computes the map's functional map ``C = evecs_A^T M_A evecs_B[T]`` on the first
    ``k`` eigenfunctions (:func:`meshlearn.nets.heads.pointwise_to_fmap`) and sends each vertex of A to
    the vertex of B nearest to its image in B's spectral embedding: among ``candidates[a]`` (Va, m)
    when given, else among all of B (ZoomOut's step at a fixed basis size). Returns (Va,) int64.
    """
    from ..nets.heads import fmap_to_pointwise, pointwise_to_fmap

    k = min(k, ops_a.evecs.shape[1], ops_b.evecs.shape[1])
    ea, eb = ops_a.evecs[:, :k], ops_b.evecs[:, :k]
    T = T0
    for _ in range(iterations):
        # heads' convention: a map T : (Vb,) from shape "b" into shape "a"; here "b" is A, "a" is B.
        C = pointwise_to_fmap(T, eb, ea, ops_a.mass)
        if candidates is None:
            T = fmap_to_pointwise(C, eb, ea)
        else:
            query = ea @ C.to(ea.dtype)  # (Va, k): where each vertex of A lands in B's embedding
            d = ((eb[candidates] - query[:, None, :]) ** 2).sum(-1)  # (Va, m)
            T = candidates[torch.arange(candidates.shape[0], device=candidates.device), d.argmin(1)]
    return T
