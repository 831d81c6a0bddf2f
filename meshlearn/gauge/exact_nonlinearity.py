"""Exactly gauge-equivariant nonlinearities: the norm nonlinearity and the gated nonlinearity.

Letters: V vertices, C channels, L max irrep order, G gates.

Both act on each irrep copy on its own and never sample angles, so they commute with every frame
rotation exactly (up to rounding: 1e-15 relative in float64), unlike the regular nonlinearity of
:mod:`~meshlearn.gauge.nonlinearity`, which is exact only on its sampling grid.

* :class:`NormNonlinearity`: scalars go through ``activation`` (ReLU); every irrep copy ``v`` of
  order ``n >= 1`` (a 2-vector) is scaled by ``activation(|v| + b) / |v|`` with a learned bias b
  per copy (initially 0: the identity on non-scalars). A rotation changes v's direction only, not
  its norm, so the scale is invariant.
* :class:`GatedNonlinearity` (Weiler et al. 2018): the input carries, after its own scalars, one
  extra scalar (a *gate*) per irrep copy of order ``n >= 1``; scalars go through ``activation``,
  each copy is multiplied by ``sigmoid(gate)``, and the gates are dropped. Its input type is
  :func:`gated_type` of its output type.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import nn

from ..errors import ConfigError
from .feature_type import FeatureType

__all__ = ["NONLINEARITIES", "NormNonlinearity", "GatedNonlinearity", "gated_type", "make_nonlinearity", "n_gates"]

#: Added under the square root of a norm: keeps its gradient finite at zero.
_EPS = 1e-12


def n_gates(ftype: FeatureType) -> int:
    """G: the number of irrep copies of order >= 1 in ``ftype`` (one gate each)."""
    return sum(c for n, c in ftype.multiplicities.items() if n > 0)


def gated_type(ftype: FeatureType) -> FeatureType:
    """``ftype`` with one more scalar per irrep copy of order >= 1: the input of its gated nonlinearity.

    In the order-major layout the gates are the last G of the scalars: components
    ``C_0 .. C_0 + G - 1``.
    """
    mult = ftype.multiplicities
    gates = n_gates(ftype)
    if gates:
        mult[0] = mult.get(0, 0) + gates
    return FeatureType(mult)


def _norm_pairs(x: torch.Tensor, ftype: FeatureType) -> list[tuple[int, int, torch.Tensor, torch.Tensor]]:
    """Per order n >= 1 present: (order, count, cos part, sin part) of x's components."""
    sizes = [c * (1 if n == 0 else 2) for n, _, c in ftype.blocks]
    out = []
    for (n, _, c), xb in zip(ftype.blocks, x.split(sizes, -1)):
        if n:
            a, b = xb.split(c, -1)
            out.append((n, c, a, b))
    return out


class NormNonlinearity(nn.Module):
    """Scale every irrep copy by a function of its norm (exactly equivariant).

    Parameters
    ----------
    ftype : FeatureType
        Any feature type; input and output are (..., D).
    activation : callable, optional
        Applied to the scalars and to ``|v| + b``. default: ReLU
    """

    def __init__(self, ftype: FeatureType, activation: Optional[Callable] = None) -> None:
        super().__init__()
        self.ftype = self.in_type = ftype
        self.activation = activation if activation is not None else torch.relu
        self.bias = nn.Parameter(torch.zeros(n_gates(ftype)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (..., D) -> (..., D)."""
        if x.shape[-1] != self.ftype.dim:
            raise ConfigError(f"features have {x.shape[-1]} components but the feature type {self.ftype} has {self.ftype.dim}")
        c0 = self.ftype.multiplicities.get(0, 0)
        pieces = [self.activation(x[..., :c0])] if c0 else []
        at = 0
        bias = self.bias.to(x.dtype)
        wide = torch.promote_types(x.dtype, torch.float32)  # half precision would lose _EPS
        for _, c, a, b in _norm_pairs(x, self.ftype):
            a2, b2 = a.to(wide), b.to(wide)
            norm = torch.sqrt(a2 * a2 + b2 * b2 + _EPS)
            scale = (self.activation(norm + bias[at : at + c].to(wide)) / norm).to(x.dtype)
            pieces += [a * scale, b * scale]
            at += c
        return torch.cat(pieces, -1)

    def extra_repr(self) -> str:
        return f"{self.ftype}"


class GatedNonlinearity(nn.Module):
    """Gate every irrep copy of order >= 1 by the sigmoid of its own scalar (exactly equivariant).

    Parameters
    ----------
    ftype : FeatureType
        The output type; the input type is :func:`gated_type` ``(ftype)`` (its extra scalars are
        the gates, dropped from the output).
    activation : callable, optional
        Applied to the (non-gate) scalars. default: ReLU
    """

    def __init__(self, ftype: FeatureType, activation: Optional[Callable] = None) -> None:
        super().__init__()
        self.ftype, self.in_type = ftype, gated_type(ftype)
        self.activation = activation if activation is not None else torch.relu
        self.n_gates = n_gates(ftype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (..., D_in) of :func:`gated_type` -> (..., D) of ``ftype``."""
        if x.shape[-1] != self.in_type.dim:
            raise ConfigError(f"features have {x.shape[-1]} components but the gated type {self.in_type} has {self.in_type.dim}")
        c0 = self.ftype.multiplicities.get(0, 0)
        pieces = [self.activation(x[..., :c0])] if c0 else []
        gates = torch.sigmoid(x[..., c0 : c0 + self.n_gates])
        at = 0
        for _, c, a, b in _norm_pairs(x, self.in_type):
            g = gates[..., at : at + c]
            pieces += [a * g, b * g]
            at += c
        return torch.cat(pieces, -1)

    def extra_repr(self) -> str:
        return f"{self.in_type} -> {self.ftype}"


#: The nonlinearities :func:`make_nonlinearity` builds.
NONLINEARITIES = ("regular", "norm", "gated")


def make_nonlinearity(kind: str, ftype: FeatureType, n_samples: Optional[int] = None) -> nn.Module:
    """The nonlinearity ``kind`` with output type ``ftype``; its input type is ``.in_type``.

    ``"regular"``: :class:`~meshlearn.gauge.RegularNonlinearity` (N = ``n_samples`` samples,
    exact only for rotations by multiples of 2 pi / N); ``"norm"``: :class:`NormNonlinearity`;
    ``"gated"``: :class:`GatedNonlinearity` (input ``gated_type(ftype)``). The last two are
    exactly equivariant.
    """
    from .nonlinearity import RegularNonlinearity

    if kind == "regular":
        return RegularNonlinearity(ftype, n_samples)
    if kind == "norm":
        return NormNonlinearity(ftype)
    if kind == "gated":
        return GatedNonlinearity(ftype)
    raise ConfigError(f"nonlinearity must be one of {', '.join(map(repr, NONLINEARITIES))} (got {kind!r})")
