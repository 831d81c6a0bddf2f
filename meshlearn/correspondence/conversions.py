"""Functional maps <-> pointwise maps, and soft pointwise maps that never hold a (Vb, Va) matrix.

Letters: V vertices (``Va``, ``Vb``), D descriptor channels, K eigenpairs (``Ka``, ``Kb``),
X any number of channels carried through a map.

Conventions
-----------
* A pointwise map from shape B to shape A is an index array ``T : (Vb,) int64``: vertex ``y`` of B
  corresponds to vertex ``T[y]`` of A. As a matrix it is ``Pi : (Vb, Va)`` with ``Pi[y, T[y]] = 1``;
  it pulls functions back from A to B: ``g = Pi f``.
* A functional map ``C : (Kb, Ka)`` takes coefficients on A to coefficients on B. A pointwise map
  induces ``C = evecs_b^T M_b Pi evecs_a`` (:func:`pointwise_to_fmap`); conversely
  ``Pi evecs_a ~ evecs_b C`` row by row, so ``T[y]`` is the vertex of A whose spectral embedding
  ``evecs_a[x]`` is nearest to ``(evecs_b C)[y]`` (:func:`fmap_to_pointwise`).
* A soft pointwise map ``Pi : (Vb, Va)`` is row-stochastic: row y is a distribution over the
  vertices of A, ``softmax_x(<d_b[y], d_a[x]> / tau)`` from descriptor similarity, or the
  doubly-normalised Sinkhorn version. Its functional map is ``evecs_b^T M_b (Pi evecs_a)``
  (:func:`soft_fmap`), the map ULRSSM couples to the solver's C.

Memory
------
Every function here works on blocks of ``chunk`` rows of B against all of A, so it holds at most
``chunk * Va`` similarities at a time and ``O((Va + Vb) (K + D))`` otherwise (Magnet and Ovsjanikov
2024, "Memory-scalable and simplified functional map learning"). With gradients on, each block is
recomputed in the backward pass (activation checkpointing) instead of being stored, so training is
O(V K) in memory too. Only :func:`dense_soft_map` forms the whole matrix (for tests on small shapes).
"""

from __future__ import annotations

import torch
from torch.utils.checkpoint import checkpoint

from ..errors import ConfigError

__all__ = [
    "nearest_neighbors",
    "match_descriptors",
    "fmap_to_pointwise",
    "fmap_from_correspondences",
    "pointwise_to_fmap",
    "similarity",
    "dense_soft_map",
    "sinkhorn_potentials",
    "soft_map_product",
    "soft_fmap",
    "soft_map_log_likelihood",
]

#: Rows of B handled at once by default (a 4096 x 50000 float32 block is 800 MB; x 5000 it is 80 MB).
DEFAULT_CHUNK = 2048


def _check_pair(x_a: torch.Tensor, x_b: torch.Tensor, what: str) -> None:
    if x_a.dim() != 2 or x_b.dim() != 2 or x_a.shape[1] != x_b.shape[1]:
        raise ConfigError(
            f"expected {what} (Va, D) and (Vb, D) with the same D (got {tuple(x_a.shape)} and {tuple(x_b.shape)})"
        )


def _check_chunk(chunk: int) -> int:
    if int(chunk) < 1:
        raise ConfigError(f"chunk must be a positive number of rows (got {chunk!r})")
    return int(chunk)


def nearest_neighbors(x_a: torch.Tensor, x_b: torch.Tensor, chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
    """For every row of ``x_b : (Vb, D)``, the index of the nearest (Euclidean) row of ``x_a : (Va, D)``.

    Computed ``chunk`` rows of B at a time (memory ``chunk * Va``); not differentiable.

    Returns
    -------
    T : (Vb,) int64 tensor
    """
    _check_pair(x_a, x_b, "embeddings")
    chunk = _check_chunk(chunk)
    a = x_a.detach()
    a2 = (a * a).sum(1)
    out = []
    for start in range(0, x_b.shape[0], chunk):
        b = x_b[start : start + chunk].detach().to(a.dtype)
        # |b - a|^2 = |a|^2 - 2 <b, a> + |b|^2; the last term does not change the argmin.
        out.append((a2[None, :] - 2 * (b @ a.T)).argmin(dim=1))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=x_a.device)


def match_descriptors(desc_a: torch.Tensor, desc_b: torch.Tensor, chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
    """Nearest neighbour in descriptor space: ``T : (Vb,)``, for every vertex of B the closest vertex
    of A (:func:`nearest_neighbors` under the name the descriptor heads use)."""
    if desc_a.dim() != 2 or desc_b.dim() != 2 or desc_a.shape[1] != desc_b.shape[1]:
        raise ConfigError(
            f"expected descriptors (Va, D) and (Vb, D) with the same D (got {tuple(desc_a.shape)} and {tuple(desc_b.shape)})"
        )
    return nearest_neighbors(desc_a, desc_b, chunk=chunk)


def fmap_to_pointwise(C: torch.Tensor, evecs_a: torch.Tensor, evecs_b: torch.Tensor, chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
    """Pointwise map ``T : B -> A`` from a functional map ``C : (Kb, Ka)``.

    Vertex ``y`` of B goes to the vertex ``x`` of A whose embedding ``evecs_a[x]`` is nearest to
    ``(evecs_b C)[y]``.

    Parameters
    ----------
    C : (Kb, Ka) tensor
    evecs_a : (Va, Ka') tensor with Ka' >= Ka (the first Ka columns are used)
    evecs_b : (Vb, Kb') tensor with Kb' >= Kb
    chunk : int
        Rows of B compared at once. default: 2048

    Returns
    -------
    T : (Vb,) int64 tensor
    """
    if C.dim() != 2:
        raise ConfigError(f"expected one functional map (Kb, Ka) (got {tuple(C.shape)})")
    Kb, Ka = C.shape
    if evecs_a.shape[1] < Ka or evecs_b.shape[1] < Kb:
        raise ConfigError(
            f"a ({Kb}, {Ka}) functional map needs at least {Ka} and {Kb} eigenvectors "
            f"(got {evecs_a.shape[1]} and {evecs_b.shape[1]})"
        )
    query = evecs_b[:, :Kb] @ C.detach().to(evecs_b.dtype)
    return nearest_neighbors(evecs_a[:, :Ka], query, chunk=chunk)


def pointwise_to_fmap(T: torch.Tensor, evecs_a: torch.Tensor, evecs_b: torch.Tensor, mass_b: torch.Tensor) -> torch.Tensor:
    """Functional map ``C = evecs_b^T M_b evecs_a[T] : (Kb, Ka)`` of a pointwise map ``T : (Vb,)`` into A."""
    if T.dim() != 1 or T.shape[0] != evecs_b.shape[0]:
        raise ConfigError(f"expected a map T : (Vb,) with Vb = {evecs_b.shape[0]} (got {tuple(T.shape)})")
    return evecs_b.T @ (mass_b[:, None].to(evecs_b.dtype) * evecs_a[T.long()])


def fmap_from_correspondences(
    idx_a: torch.Tensor, idx_b: torch.Tensor, evecs_a: torch.Tensor, evecs_b: torch.Tensor
) -> torch.Tensor:
    """Ground-truth functional map ``C : (Kb, Ka)`` from sparse correspondences.

    Vertex ``idx_b[j]`` of B corresponds to ``idx_a[j]`` of A (e.g. both shapes' ``.vts`` files:
    the vertex of each nearest to template vertex j). C is the least-squares solution of
    ``evecs_b[idx_b] C = evecs_a[idx_a]`` (as in FMNet and GeomFmaps), which equals
    :func:`pointwise_to_fmap` when the correspondences cover every vertex of B exactly once.
    """
    idx_a, idx_b = idx_a.long(), idx_b.long()
    if idx_a.shape != idx_b.shape or idx_a.dim() != 1:
        raise ConfigError(f"expected two index arrays (N,) of the same length (got {tuple(idx_a.shape)} and {tuple(idx_b.shape)})")
    if idx_a.shape[0] < evecs_b.shape[1]:
        raise ConfigError(
            f"{idx_a.shape[0]} correspondences cannot determine a functional map on {evecs_b.shape[1]} "
            f"eigenfunctions of B; use fewer eigenpairs or more correspondences"
        )
    return torch.linalg.lstsq(evecs_b[idx_b], evecs_a[idx_a].to(evecs_b.dtype)).solution


def similarity(feat_a: torch.Tensor, feat_b: torch.Tensor, tau: float) -> torch.Tensor:
    """Logits ``<feat_b[y], feat_a[x]> / tau : (Vb, Va)`` (dense; use on blocks of rows of B)."""
    return (feat_b @ feat_a.T) / tau


def _check_tau(tau: float) -> float:
    if not tau > 0:
        raise ConfigError(f"the soft map's temperature tau must be positive (got {tau!r})")
    return float(tau)


def sinkhorn_potentials(
    feat_a: torch.Tensor, feat_b: torch.Tensor, tau: float, n_iter: int = 10, chunk: int = DEFAULT_CHUNK
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-domain Sinkhorn potentials ``f : (Vb,)`` and ``g : (Va,)`` for the logits ``S / tau``.

    ``Pi[y, x] = exp(S[y, x] / tau + f[y] + g[x])`` has rows summing to 1 after the last
    iteration (each iteration first balances the columns to ``Vb / Va``, then the rows), so it is a
    soft pointwise map B -> A that also spreads B evenly over A. Computed in blocks of rows;
    the potentials are not differentiated through (the soft map's gradient treats them as fixed).
    """
    _check_pair(feat_a, feat_b, "descriptors")
    tau, chunk = _check_tau(tau), _check_chunk(chunk)
    if n_iter < 0:
        raise ConfigError(f"n_iter must be >= 0 (got {n_iter!r})")
    Va, Vb = feat_a.shape[0], feat_b.shape[0]
    with torch.no_grad():
        a, b = feat_a.detach(), feat_b.detach()
        f = torch.zeros(Vb, dtype=a.dtype, device=a.device)
        g = torch.zeros(Va, dtype=a.dtype, device=a.device)
        log_col = torch.log(torch.tensor(Vb / Va, dtype=a.dtype, device=a.device))

        def row_pass() -> torch.Tensor:
            out = torch.empty_like(f)
            for s in range(0, Vb, chunk):
                out[s : s + chunk] = -torch.logsumexp(similarity(a, b[s : s + chunk], tau) + g[None, :], dim=1)
            return out

        f = row_pass()
        for _ in range(n_iter):
            col = torch.full_like(g, -float("inf"))
            for s in range(0, Vb, chunk):
                block = similarity(a, b[s : s + chunk], tau) + f[s : s + chunk, None]
                col = torch.logaddexp(col, torch.logsumexp(block, dim=0))
            g = log_col - col
            f = row_pass()
    return f, g


def _block_product(fa: torch.Tensor, fb: torch.Tensor, X: torch.Tensor, g: torch.Tensor | None, tau: float) -> torch.Tensor:
    logits = similarity(fa, fb, tau)
    if g is not None:
        logits = logits + g[None, :]
    return torch.softmax(logits, dim=1) @ X


def dense_soft_map(
    feat_a: torch.Tensor, feat_b: torch.Tensor, tau: float = 0.07, *, sinkhorn: int = 0
) -> torch.Tensor:
    """The whole soft pointwise map ``Pi : (Vb, Va)`` (rows sum to 1). Small shapes only.

    ``sinkhorn`` > 0 applies that many Sinkhorn iterations (see :func:`sinkhorn_potentials`).
    """
    _check_pair(feat_a, feat_b, "descriptors")
    tau = _check_tau(tau)
    logits = similarity(feat_a, feat_b, tau)
    if sinkhorn:
        _, g = sinkhorn_potentials(feat_a, feat_b, tau, n_iter=sinkhorn, chunk=max(1, feat_b.shape[0]))
        logits = logits + g[None, :]
    return torch.softmax(logits, dim=1)


def soft_map_product(
    feat_a: torch.Tensor,
    feat_b: torch.Tensor,
    X: torch.Tensor,
    tau: float = 0.07,
    *,
    sinkhorn: int = 0,
    chunk: int = DEFAULT_CHUNK,
    checkpointed: bool | None = None,
) -> torch.Tensor:
    """``Pi X : (Vb, X)`` for the soft pointwise map B -> A, without forming ``Pi : (Vb, Va)``.

    Parameters
    ----------
    feat_a : (Va, D) tensor
    feat_b : (Vb, D) tensor
        Descriptors, usually L2-normalised per vertex (then ``tau`` is a cosine temperature).
    X : (Va, X) tensor
        Functions on A to pull back to B (e.g. ``evecs_a``, or the vertex positions).
    tau : float
        Softmax temperature. default: 0.07 (ULRSSM's)
    sinkhorn : int
        Sinkhorn iterations; 0 is a plain row softmax. default: 0
    chunk : int
        Rows of B per block. default: 2048
    checkpointed : bool, optional
        Recompute each block in the backward pass instead of storing its (chunk, Va) softmax.
        default: whenever gradients are being recorded

    Returns
    -------
    (Vb, X) tensor, differentiable in ``feat_a``, ``feat_b`` and ``X``.
    """
    _check_pair(feat_a, feat_b, "descriptors")
    tau, chunk = _check_tau(tau), _check_chunk(chunk)
    if X.dim() != 2 or X.shape[0] != feat_a.shape[0]:
        raise ConfigError(f"expected X (Va, X) with Va = {feat_a.shape[0]} (got {tuple(X.shape)})")
    g = sinkhorn_potentials(feat_a, feat_b, tau, n_iter=sinkhorn, chunk=chunk)[1] if sinkhorn else None
    X = X.to(feat_a.dtype)
    if checkpointed is None:
        checkpointed = torch.is_grad_enabled() and (feat_a.requires_grad or feat_b.requires_grad or X.requires_grad)
    out = []
    for s in range(0, feat_b.shape[0], chunk):
        fb = feat_b[s : s + chunk]
        if checkpointed:
            out.append(checkpoint(_block_product, feat_a, fb, X, g, tau, use_reentrant=False))
        else:
            out.append(_block_product(feat_a, fb, X, g, tau))
    return torch.cat(out) if out else X.new_zeros(0, X.shape[1])


def soft_fmap(
    feat_a: torch.Tensor,
    feat_b: torch.Tensor,
    evecs_a: torch.Tensor,
    evecs_b: torch.Tensor,
    mass_b: torch.Tensor,
    tau: float = 0.07,
    *,
    sinkhorn: int = 0,
    chunk: int = DEFAULT_CHUNK,
    rows: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Functional map ``evecs_b^T M_b (Pi evecs_a) : (Kb, Ka)`` of the soft pointwise map B -> A.

    ``rows`` (n,) and ``weights`` (n,): the sum over the vertices of B taken on those rows only,
    with those weights instead of ``mass_b`` (a quadrature, see
    :func:`~meshlearn.correspondence.quadrature.quadrature_points`): the soft map's rows are
    computed for n vertices of B instead of all. Row softmax only (``sinkhorn`` 0), since
    Sinkhorn's column sums need every row.
    """
    if rows is None:
        pulled = soft_map_product(feat_a, feat_b, evecs_a, tau, sinkhorn=sinkhorn, chunk=chunk)
        return evecs_b.T.to(pulled.dtype) @ (mass_b[:, None].to(pulled.dtype) * pulled)
    if sinkhorn:
        raise ConfigError("a soft map on some rows is a row softmax: use sinkhorn 0 with rows")
    if weights is None or weights.shape != rows.shape:
        raise ConfigError(f"rows need a weight each (got {None if weights is None else tuple(weights.shape)} for {tuple(rows.shape)})")
    pulled = soft_map_product(feat_a, feat_b[rows], evecs_a, tau, chunk=chunk)
    return evecs_b[rows].T.to(pulled.dtype) @ (weights[:, None].to(pulled.dtype) * pulled)


def soft_map_log_likelihood(
    feat_a: torch.Tensor, feat_b: torch.Tensor, T: torch.Tensor, tau: float = 0.07, *, chunk: int = DEFAULT_CHUNK
) -> torch.Tensor:
    """``log Pi[y, T[y]] : (Vb,)``, the log-probability of a pointwise map ``T : B -> A`` under the
    (softmax) soft map, computed in blocks of rows of B (checkpointed when differentiated)."""
    _check_pair(feat_a, feat_b, "descriptors")
    tau, chunk = _check_tau(tau), _check_chunk(chunk)
    if T.dim() != 1 or T.shape[0] != feat_b.shape[0]:
        raise ConfigError(f"expected a map T : (Vb,) with Vb = {feat_b.shape[0]} (got {tuple(T.shape)})")
    T = T.long()

    def block(fa: torch.Tensor, fb: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        logits = similarity(fa, fb, tau)
        return logits.gather(1, t[:, None])[:, 0] - torch.logsumexp(logits, dim=1)

    grad = torch.is_grad_enabled() and (feat_a.requires_grad or feat_b.requires_grad)
    out = []
    for s in range(0, feat_b.shape[0], chunk):
        args = (feat_a, feat_b[s : s + chunk], T[s : s + chunk])
        out.append(checkpoint(block, *args, use_reentrant=False) if grad else block(*args))
    return torch.cat(out) if out else feat_a.new_zeros(0)
