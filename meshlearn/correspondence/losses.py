"""Losses of deep functional maps: each a small ``nn.Module`` that holds its weight and has a name.

Letters: B pairs, K eigenpairs (``Ka``, ``Kb``), V vertices. Conventions as in
:mod:`meshlearn.correspondence.conversions` (``C_ab : (Kb, Ka)`` takes coefficients on A to B).

Every loss reads what it needs from one :class:`PairMaps` (what a deep functional-map model
computed for a batch of pairs) and returns its weighted value, a scalar averaged over the pairs.
Squared Frobenius norms are summed over the matrix entries (as in SURFMNet and ULRSSM).

Unsupervised: :class:`Bijectivity` (``C_ab C_ba = I`` and ``C_ba C_ab = I``), :class:`Orthogonality`
(``C^T C = I``: the map preserves areas), :class:`LaplacianCommutativity` (``C Lambda_a = Lambda_b C``:
it preserves frequencies, as an isometry does), :class:`Coupling` (ULRSSM: the solver's C equals the
functional map of the soft pointwise map from the same descriptors).
Supervised: :class:`FmapSupervised` (C against the ground-truth functional map) and
:class:`PointwiseSupervised` (negative log-likelihood of the ground-truth vertex under the soft map).
:class:`CombinedLoss` sums a list of them and reports every term by name.
"""

from __future__ import annotations

import abc

from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch import nn

from ..errors import ConfigError
from .conversions import DEFAULT_CHUNK, soft_map_log_likelihood

__all__ = [
    "PairMaps",
    "squared_frobenius",
    "FmapLoss",
    "Bijectivity",
    "Orthogonality",
    "LaplacianCommutativity",
    "Coupling",
    "FmapSupervised",
    "PointwiseSupervised",
    "CombinedLoss",
    "LOSSES",
    "unsupervised_loss",
]


@dataclass
class PairMaps:
    """What a deep functional-map model computed for a batch of B pairs (A_i, B_i).

    C_ab : (B, Kb, Ka) tensor
    C_ba : (B, Ka, Kb) tensor or None
    evals_a : (B, Ka) tensor, evals_b : (B, Kb) tensor
    C_ab_soft, C_ba_soft : tensors like C_ab, C_ba, or None
        Functional maps of the soft pointwise maps (:func:`~meshlearn.correspondence.conversions.soft_fmap`).
    C_ab_gt : (B, Kb, Ka) tensor or None
        Ground-truth functional maps.
    feat_a, feat_b : lists of (Va_i, D), (Vb_i, D) tensors, or None
        The descriptors (for losses on the soft pointwise map).
    corr : list of (idx_a, idx_b) int64 tensor pairs, or None
        Ground-truth correspondences: vertex ``idx_b[j]`` of B_i corresponds to ``idx_a[j]`` of A_i.
    tau : float
        The soft map's temperature.
    """

    C_ab: torch.Tensor
    C_ba: torch.Tensor | None = None
    evals_a: torch.Tensor | None = None
    evals_b: torch.Tensor | None = None
    C_ab_soft: torch.Tensor | None = None
    C_ba_soft: torch.Tensor | None = None
    C_ab_gt: torch.Tensor | None = None
    feat_a: Sequence[torch.Tensor] | None = None
    feat_b: Sequence[torch.Tensor] | None = None
    corr: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None
    tau: float = 0.07


def squared_frobenius(X: torch.Tensor) -> torch.Tensor:
    """``||X_i||_F^2`` averaged over the batch: X (B, m, n) -> scalar."""
    return (X * X).sum(dim=(-2, -1)).mean()


def _eye_like(C: torch.Tensor, n: int) -> torch.Tensor:
    return torch.eye(n, dtype=C.dtype, device=C.device).expand(C.shape[0], n, n)


class FmapLoss(nn.Module, abc.ABC):
    """Base class: a named loss term with a non-negative weight. ``forward(maps)`` -> weighted scalar.

    Subclasses define :meth:`value`, the unweighted term."""

    name = "loss"

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        if not weight >= 0:
            raise ConfigError(f"{type(self).__name__} weight must be >= 0 (got {weight!r})")
        self.weight = float(weight)

    def extra_repr(self) -> str:
        return f"weight={self.weight}"

    @abc.abstractmethod
    def value(self, maps: PairMaps) -> torch.Tensor:
        """The unweighted loss term on ``maps``, a scalar tensor."""

    def forward(self, maps: PairMaps) -> torch.Tensor:
        return self.weight * self.value(maps)

    def _need(self, maps: PairMaps, *fields: str) -> None:
        missing = [f for f in fields if getattr(maps, f) is None]
        if missing:
            raise ConfigError(
                f"the {self.name} loss needs {', '.join(missing)} in its PairMaps; compute them "
                f"(e.g. a bidirectional solver, soft maps or ground truth) or drop this loss"
            )


class Bijectivity(FmapLoss):
    """``||C_ab C_ba - I||^2 + ||C_ba C_ab - I||^2``: the two directions invert each other."""

    name = "bijectivity"

    def value(self, maps: PairMaps) -> torch.Tensor:
        self._need(maps, "C_ba")
        a, b = maps.C_ab, maps.C_ba
        return squared_frobenius(a @ b - _eye_like(a, a.shape[1])) + squared_frobenius(b @ a - _eye_like(a, a.shape[2]))


class Orthogonality(FmapLoss):
    """``||C_ab^T C_ab - I||^2`` (+ the same for ``C_ba`` when present): area preservation."""

    name = "orthogonality"

    def value(self, maps: PairMaps) -> torch.Tensor:
        total = 0
        for C in (maps.C_ab, maps.C_ba):
            if C is not None:
                total = total + squared_frobenius(C.transpose(-1, -2) @ C - _eye_like(C, C.shape[2]))
        return total


class LaplacianCommutativity(FmapLoss):
    """``||C_ab Lambda_a - Lambda_b C_ab||^2`` (+ the same for ``C_ba``).

    With ``normalize`` (default) the eigenvalues of each pair are first divided by the largest of
    both spectra, so the term does not depend on the shapes' scale.
    """

    name = "laplacian_commutativity"

    def __init__(self, weight: float = 1e-3, normalize: bool = True) -> None:
        super().__init__(weight)
        self.normalize = bool(normalize)

    def value(self, maps: PairMaps) -> torch.Tensor:
        self._need(maps, "evals_a", "evals_b")
        la, lb = maps.evals_a.to(maps.C_ab.dtype), maps.evals_b.to(maps.C_ab.dtype)
        if self.normalize:
            top = torch.cat([la.abs(), lb.abs()], dim=-1).amax(-1, keepdim=True).clamp_min(torch.finfo(la.dtype).tiny)
            la, lb = la / top, lb / top
        Kb, Ka = maps.C_ab.shape[1:]
        la, lb = la[:, :Ka], lb[:, :Kb]
        total = squared_frobenius(maps.C_ab * la[:, None, :] - lb[:, :, None] * maps.C_ab)
        if maps.C_ba is not None:
            total = total + squared_frobenius(maps.C_ba * lb[:, None, :] - la[:, :, None] * maps.C_ba)
        return total


class Coupling(FmapLoss):
    """ULRSSM's coupling ``||C_ab - C_ab_soft||^2`` (+ ``||C_ba - C_ba_soft||^2``): the solver's map
    and the soft pointwise map of the same descriptors must agree."""

    name = "coupling"

    def value(self, maps: PairMaps) -> torch.Tensor:
        self._need(maps, "C_ab_soft")
        total = squared_frobenius(maps.C_ab - maps.C_ab_soft)
        if maps.C_ba is not None and maps.C_ba_soft is not None:
            total = total + squared_frobenius(maps.C_ba - maps.C_ba_soft)
        return total


class FmapSupervised(FmapLoss):
    """``||C_ab - C_ab_gt||^2``: the functional map against the ground truth's (GeomFmaps, FMNet)."""

    name = "fmap_supervised"

    def value(self, maps: PairMaps) -> torch.Tensor:
        self._need(maps, "C_ab_gt")
        return squared_frobenius(maps.C_ab - maps.C_ab_gt.to(maps.C_ab.dtype))


class PointwiseSupervised(FmapLoss):
    """Mean negative log-likelihood of the ground-truth vertex of A under the soft map B -> A,
    over the ground-truth correspondences (computed in blocks, never a (Vb, Va) matrix)."""

    name = "pointwise_supervised"

    def __init__(self, weight: float = 1.0, chunk: int = DEFAULT_CHUNK) -> None:
        super().__init__(weight)
        self.chunk = int(chunk)

    def value(self, maps: PairMaps) -> torch.Tensor:
        self._need(maps, "feat_a", "feat_b", "corr")
        terms = []
        for fa, fb, (idx_a, idx_b) in zip(maps.feat_a, maps.feat_b, maps.corr):
            ll = soft_map_log_likelihood(fa, fb[idx_b.long()], idx_a, maps.tau, chunk=self.chunk)
            terms.append(-ll.mean())
        return torch.stack(terms).mean()


#: Config name -> loss class (a plain dict next to the classes).
LOSSES: dict[str, type[FmapLoss]] = {
    cls.name: cls
    for cls in (Bijectivity, Orthogonality, LaplacianCommutativity, Coupling, FmapSupervised, PointwiseSupervised)
}


class CombinedLoss(nn.Module):
    """A sum of named, weighted loss terms.

    ``total, terms = loss(maps)``: ``terms`` maps each term's name to its weighted value
    (detached), so a run's log shows them one by one. Terms of weight 0 are skipped.

    Parameters
    ----------
    losses : iterable of FmapLoss
    """

    def __init__(self, losses: Iterable[FmapLoss]) -> None:
        super().__init__()
        self.losses = nn.ModuleList(losses)
        names = [l.name for l in self.losses]
        if len(set(names)) != len(names):
            raise ConfigError(f"each loss term may appear once (got {names})")
        if not names:
            raise ConfigError("CombinedLoss needs at least one loss term")

    @classmethod
    def from_weights(cls, weights: dict[str, float]) -> "CombinedLoss":
        """From ``{name: weight}``, names as in :data:`LOSSES`."""
        unknown = sorted(set(weights) - set(LOSSES))
        if unknown:
            raise ConfigError(f"unknown loss term(s) {', '.join(unknown)}; known: {', '.join(LOSSES)}")
        return cls(LOSSES[n](weight=w) for n, w in weights.items())

    def forward(self, maps: PairMaps) -> tuple[torch.Tensor, dict[str, float]]:
        total = maps.C_ab.new_zeros(())
        terms: dict[str, float] = {}
        for loss in self.losses:
            if loss.weight == 0:
                continue
            v = loss(maps)
            total = total + v
            terms[loss.name] = float(v.detach())
        return total, terms


def unsupervised_loss(
    bijectivity: float = 1.0, orthogonality: float = 1.0, laplacian: float = 0.0, coupling: float = 1.0
) -> CombinedLoss:
    """ULRSSM's unsupervised objective (its defaults: bijectivity 1, orthogonality 1, coupling 1)."""
    return CombinedLoss([
        Bijectivity(bijectivity), Orthogonality(orthogonality),
        LaplacianCommutativity(laplacian), Coupling(coupling),
    ])
