"""Real irreducible representations of SO(2), the rotations of a tangent plane.

Order 0 is the trivial (scalar) representation, ``rho_0(g) = [1]``. Order ``n >= 1`` is the 2x2
rotation by ``n * g``::

    rho_n(g) = [[cos(n g), -sin(n g)],
                [sin(n g),  cos(n g)]]

Angles are in radians, counter-clockwise about the vertex normal. These are all the real irreps of
SO(2) (up to equivalence); ``rho_n(g + h) = rho_n(g) rho_n(h)`` and ``rho_n(-g) = rho_n(g)^T``.

Gauge convention used throughout :mod:`meshlearn.gauge`: when the tangent frame at a vertex is
rotated by ``g`` (counter-clockwise), the coefficients of a feature of order ``n`` become
``rho_n(-g) x``. A feature of order ``n`` is read as the band-limited function
``f(phi) = x_1 cos(n phi) + x_2 sin(n phi)`` of a tangent direction ``phi``; rotating the frame by
``g`` turns ``f`` into ``f(phi' + g)`` in the new angles ``phi' = phi - g``, whose coefficients are
exactly ``rho_n(-g) x``.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError

__all__ = ["irrep_dim", "irrep_matrix", "irrep_matrix_np", "check_order"]


def check_order(order: int, name: str = "order") -> int:
    """``order`` as an int, or ConfigError when it is not a non-negative integer."""
    if isinstance(order, bool) or int(order) != order or int(order) < 0:
        raise ConfigError(f"{name} must be a non-negative integer (got {order!r})")
    return int(order)


def irrep_dim(order: int) -> int:
    """Dimension of the irrep of ``order``: 1 for order 0, else 2."""
    return 1 if check_order(order) == 0 else 2


def irrep_matrix(order: int, angle: torch.Tensor) -> torch.Tensor:
    """``rho_order(angle)`` for a tensor of angles.

    Parameters
    ----------
    order : int
        Irrep order n >= 0.
    angle : (...,) tensor
        Rotation angles, radians, counter-clockwise.

    Returns
    -------
    (..., d, d) tensor
        d = 1 for order 0, else 2; same dtype and device as ``angle``.
    """
    order = check_order(order)
    angle = torch.as_tensor(angle)
    if order == 0:
        return torch.ones(*angle.shape, 1, 1, dtype=angle.dtype, device=angle.device)
    c, s = torch.cos(order * angle), torch.sin(order * angle)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def irrep_matrix_np(order: int, angle: float | np.ndarray) -> np.ndarray:
    """numpy float64 version of :func:`irrep_matrix`: (..., d, d)."""
    order = check_order(order)
    angle = np.asarray(angle, dtype=np.float64)
    if order == 0:
        return np.ones(angle.shape + (1, 1))
    c, s = np.cos(order * angle), np.sin(order * angle)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
