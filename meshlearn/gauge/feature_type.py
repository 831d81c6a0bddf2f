"""Feature types: how many SO(2) irreps of each order a per-vertex feature vector holds, and its layout.

A :class:`FeatureType` is a multiset of irrep orders, ``{order: multiplicity}``. Features of a
shape are stored as a ``(V, D)`` tensor, D the type's total dimension, laid out *order-major*:

* first the ``C_0`` scalars (order 0);
* then, for each order ``n = 1, 2, ...`` present, the ``C_n`` cos components of its irrep copies,
  followed by their ``C_n`` sin components.

So copy ``i`` of order ``n`` (block start ``s``) has components ``(x[s + i], x[s + C_n + i])``,
which rotate together by ``rho_n``. This layout keeps every rotation an elementwise operation on
contiguous runs of C numbers (fast), and it makes the *regular* type ``C x (0, 1, ..., L)`` (every
channel a band-limited function on the circle) exactly ``x.view(V, 2 L + 1, C)`` with rows
``[1, cos phi, sin phi, ..., cos L phi, sin L phi]``: row j of channel c is the coefficient of
that Fourier mode in ``f_c(phi) = a_0 + sum_n a_n cos(n phi) + b_n sin(n phi)``.

Under a rotation of the vertex frame by ``g`` a feature of the type transforms by the
block-diagonal (up to this permutation) ``rho(-g)`` (see :mod:`meshlearn.gauge.irreps`).
"""

from __future__ import annotations

from functools import cached_property
from typing import Iterable, Mapping, Union

import torch

from ..errors import ConfigError
from .irreps import check_order, irrep_dim, irrep_matrix

__all__ = ["FeatureType"]


class FeatureType:
    """A multiset of SO(2) irreps with the order-major layout of the module docstring.

    Parameters
    ----------
    multiplicities : mapping ``{order: count}`` or iterable of orders
        ``{0: 2, 1: 3}`` (or ``(0, 0, 1, 1, 1)``, in any order): two scalars and three order-1
        irreps; dimension 2 + 3 * 2 = 8.

    Examples
    --------
    >>> FeatureType.regular(channels=4, max_order=2).dim
    20
    >>> FeatureType({0: 3, 1: 1}).orders
    (0, 0, 0, 1)
    """

    def __init__(self, multiplicities: Union[Mapping[int, int], Iterable[int]]):
        if isinstance(multiplicities, FeatureType):
            multiplicities = multiplicities.multiplicities
        if not isinstance(multiplicities, Mapping):
            counts: dict[int, int] = {}
            for n in multiplicities:
                n = check_order(n, "irrep order")
                counts[n] = counts.get(n, 0) + 1
            multiplicities = counts
        mult: dict[int, int] = {}
        for n, c in multiplicities.items():
            n = check_order(n, "irrep order")
            if isinstance(c, bool) or int(c) != c or int(c) < 0:
                raise ConfigError(f"the multiplicity of order {n} must be a non-negative integer (got {c!r})")
            if int(c):
                mult[n] = int(c)
        if not mult:
            raise ConfigError("a feature type needs at least one irrep (got none)")
        self._mult = dict(sorted(mult.items()))

    # -- constructors ---------------------------------------------------------------------------
    @classmethod
    def scalar(cls, channels: int) -> "FeatureType":
        """``channels`` scalars (order 0): invariant features such as xyz or HKS inputs."""
        return cls({0: _positive(channels, "channels")})

    @classmethod
    def regular(cls, channels: int, max_order: int) -> "FeatureType":
        """``channels`` band-limited circle functions with orders ``0..max_order`` each."""
        channels = _positive(channels, "channels")
        return cls({n: channels for n in range(check_order(max_order, "max_order") + 1)})

    @classmethod
    def from_multiplicities(cls, multiplicities: Mapping[int, int]) -> "FeatureType":
        """``FeatureType(multiplicities)``, spelled out: ``{order: count}``."""
        return cls(dict(multiplicities))

    # -- structure ------------------------------------------------------------------------------
    @property
    def multiplicities(self) -> dict[int, int]:
        """``{order: number of copies}``, ascending orders."""
        return dict(self._mult)

    @property
    def orders(self) -> tuple[int, ...]:
        """Every irrep copy's order, ascending."""
        return tuple(n for n, c in self._mult.items() for _ in range(c))

    @cached_property
    def dim(self) -> int:
        """Total dimension D."""
        return sum(c * irrep_dim(n) for n, c in self._mult.items())

    @property
    def max_order(self) -> int:
        return max(self._mult)

    @cached_property
    def blocks(self) -> tuple[tuple[int, int, int], ...]:
        """``(order, start, count)`` per order present: the layout's runs."""
        out, at = [], 0
        for n, c in self._mult.items():
            out.append((n, at, c))
            at += c * irrep_dim(n)
        return tuple(out)

    @property
    def is_regular(self) -> bool:
        """True for ``C x (0, 1, ..., L)`` (scalars only count, with L = 0)."""
        counts = set(self._mult.values())
        return len(counts) == 1 and tuple(self._mult) == tuple(range(self.max_order + 1))

    def component_indices(self, order: int) -> torch.Tensor:
        """Flat indices of the irreps of ``order``, copy after copy (copy i: its d components):
        (C_n * d_n,) int64. Empty when the order is absent."""
        for n, s, c in self.blocks:
            if n == order:
                d = irrep_dim(n)
                return torch.tensor([s + k * c + i for i in range(c) for k in range(d)], dtype=torch.long)
        return torch.zeros(0, dtype=torch.long)

    @cached_property
    def scalar_mask(self) -> torch.Tensor:
        """(D,) bool: True at the order-0 components (the gauge-invariant part)."""
        mask = torch.zeros(self.dim, dtype=torch.bool)
        mask[: self._mult.get(0, 0)] = True
        return mask

    def rho(self, angle: torch.Tensor) -> torch.Tensor:
        """The representation ``rho(angle)`` as dense matrices: (..., D, D) for angles (...,).

        Meant for tests and small examples; layers use :func:`meshlearn.gauge.rotate`.
        """
        angle = torch.as_tensor(angle)
        out = torch.zeros(*angle.shape, self.dim, self.dim, dtype=angle.dtype, device=angle.device)
        for n in self._mult:
            idx = self.component_indices(n).view(-1, irrep_dim(n))
            R = irrep_matrix(n, angle)
            for comps in idx.tolist():
                for a, ia in enumerate(comps):
                    for b, ib in enumerate(comps):
                        out[..., ia, ib] = R[..., a, b]
        return out

    # -- value semantics ------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return isinstance(other, FeatureType) and other._mult == self._mult

    def __hash__(self) -> int:
        return hash(tuple(self._mult.items()))

    def __repr__(self) -> str:
        return f"FeatureType({self._mult}, dim={self.dim})"


def _positive(value: int, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ConfigError(f"{name} must be a positive integer (got {value!r})")
    return int(value)
