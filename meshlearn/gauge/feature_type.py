"""Feature types: which SO(2) irreps a per-vertex feature vector is made of, and how they are laid out.

A :class:`FeatureType` is an ordered sequence of irrep orders, one entry per irrep copy. A feature
vector of that type is the concatenation of the irreps' coefficients in that sequence: an order-0
entry takes one number, an order ``n >= 1`` entry takes two (the cos and the sin coefficient).
Features of a shape are stored as a ``(V, D)`` tensor with D the type's total dimension.

The types a GEM-CNN uses are *regular* types: ``C`` channels, each a band-limited function on the
circle with orders ``0, 1, ..., L`` (dimension ``2 L + 1`` per channel), laid out channel after
channel, so ``x.view(V, C, 2 L + 1)`` gives per-channel Fourier coefficients
``[a_0, a_1, b_1, ..., a_L, b_L]`` of ``f(phi) = a_0 + sum_n a_n cos(n phi) + b_n sin(n phi)``.

Under a rotation of the vertex frame by ``g`` a feature of the type transforms by the block-diagonal
``rho(-g)`` (see :mod:`meshlearn.gauge.irreps`).
"""

from __future__ import annotations

from functools import cached_property
from typing import Iterable, Mapping

import torch

from ..errors import ConfigError
from .irreps import check_order, irrep_dim, irrep_matrix

__all__ = ["FeatureType"]


class FeatureType:
    """An ordered sequence of SO(2) irreps (see the module docstring for the layout).

    Parameters
    ----------
    orders : iterable of int
        The order of each irrep copy, in layout order, e.g. ``(0, 0, 1, 2)``: two scalars, a
        vector (order 1) and an order-2 feature; dimension 1 + 1 + 2 + 2 = 6.

    Examples
    --------
    >>> FeatureType.regular(channels=4, max_order=2).dim
    20
    >>> FeatureType.from_multiplicities({0: 3, 1: 1}).orders
    (0, 0, 0, 1)
    """

    def __init__(self, orders: Iterable[int]):
        orders = tuple(check_order(n, "irrep order") for n in orders)
        if not orders:
            raise ConfigError("a feature type needs at least one irrep (got an empty list of orders)")
        self.orders: tuple[int, ...] = orders

    # -- constructors ---------------------------------------------------------------------------
    @classmethod
    def scalar(cls, channels: int) -> "FeatureType":
        """``channels`` scalars (order 0): invariant features such as xyz or HKS inputs."""
        return cls((0,) * _positive(channels, "channels"))

    @classmethod
    def regular(cls, channels: int, max_order: int) -> "FeatureType":
        """``channels`` band-limited circle functions with orders ``0..max_order`` each."""
        max_order = check_order(max_order, "max_order")
        return cls(tuple(range(max_order + 1)) * _positive(channels, "channels"))

    @classmethod
    def from_multiplicities(cls, multiplicities: Mapping[int, int]) -> "FeatureType":
        """Irreps grouped by order, ascending: ``{0: 2, 1: 3}`` gives ``(0, 0, 1, 1, 1)``."""
        orders: list[int] = []
        for n in sorted(multiplicities):
            orders.extend([check_order(n, "irrep order")] * int(multiplicities[n]))
        return cls(orders)

    # -- structure ------------------------------------------------------------------------------
    @cached_property
    def dim(self) -> int:
        """Total dimension D = sum of the irreps' dimensions."""
        return sum(irrep_dim(n) for n in self.orders)

    @property
    def max_order(self) -> int:
        return max(self.orders)

    @property
    def multiplicities(self) -> dict[int, int]:
        """``{order: number of copies}``."""
        out: dict[int, int] = {}
        for n in self.orders:
            out[n] = out.get(n, 0) + 1
        return dict(sorted(out.items()))

    @cached_property
    def offsets(self) -> tuple[int, ...]:
        """Start index of each irrep copy in the flat layout."""
        out, at = [], 0
        for n in self.orders:
            out.append(at)
            at += irrep_dim(n)
        return tuple(out)

    def component_indices(self, order: int) -> torch.Tensor:
        """Flat indices of every component of every irrep of ``order``, in layout order: (C_n * d_n,)."""
        idx = [o + k for n, o in zip(self.orders, self.offsets) if n == order for k in range(irrep_dim(n))]
        return torch.tensor(idx, dtype=torch.long)

    @cached_property
    def unit(self) -> tuple[tuple[int, ...], int]:
        """``(orders of the shortest repeating unit, number of repeats)``: ``((0, 1, 2), C)`` for a
        regular type. Rotations are computed on the unit and broadcast over the repeats."""
        n = len(self.orders)
        for size in range(1, n + 1):
            if n % size == 0 and self.orders == self.orders[:size] * (n // size):
                return self.orders[:size], n // size
        return self.orders, 1  # pragma: no cover - size == n always matches

    @cached_property
    def scalar_mask(self) -> torch.Tensor:
        """(D,) bool: True at the order-0 components (the gauge-invariant part)."""
        mask = torch.zeros(self.dim, dtype=torch.bool)
        for n, o in zip(self.orders, self.offsets):
            if n == 0:
                mask[o] = True
        return mask

    def rho(self, angle: torch.Tensor) -> torch.Tensor:
        """The block-diagonal representation ``rho(angle)``: (..., D, D) for angles (...,).

        Dense; meant for tests and small examples. Layers use :func:`meshlearn.gauge.rotate`.
        """
        angle = torch.as_tensor(angle)
        out = torch.zeros(*angle.shape, self.dim, self.dim, dtype=angle.dtype, device=angle.device)
        for n, o in zip(self.orders, self.offsets):
            d = irrep_dim(n)
            out[..., o : o + d, o : o + d] = irrep_matrix(n, angle)
        return out

    # -- value semantics ------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return isinstance(other, FeatureType) and other.orders == self.orders

    def __hash__(self) -> int:
        return hash(self.orders)

    def __repr__(self) -> str:
        unit, reps = self.unit
        if reps > 1:
            return f"FeatureType({reps} x {unit}, dim={self.dim})"
        return f"FeatureType({self.orders}, dim={self.dim})"


def _positive(value: int, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ConfigError(f"{name} must be a positive integer (got {value!r})")
    return int(value)
