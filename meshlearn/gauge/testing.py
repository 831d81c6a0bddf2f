"""Helpers to test gauge equivariance: transform the input, transform the output, compare.

Letters: V vertices, E directed edges, D feature dimension.

:func:`assert_gauge_equivariant` draws a random frame rotation ``g_v`` per vertex, changes the
gauge data accordingly (:func:`meshlearn.gauge.change_gauge`), transforms the input features by
``rho_in(-g_v)`` and checks that the function's output equals ``rho_out(-g_v)`` applied to the
original output. :func:`synthetic_gauge` makes random gauge data on random edges: the equivariance
of a layer is algebraic and does not need real geometry.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import torch

from ..errors import ConfigError
from ..geometry.types import GaugeData
from .feature_type import FeatureType
from .transport import change_gauge, rotate

__all__ = ["assert_gauge_equivariant", "synthetic_gauge", "random_angles", "default_tolerance"]


def default_tolerance(dtype: torch.dtype) -> float:
    """Maximum relative error accepted for an exactly equivariant map: 1e-9 in float64, 1e-4 in float32."""
    return 1e-9 if dtype == torch.float64 else 1e-4


def random_angles(n: int, seed: int = 0, dtype: torch.dtype = torch.float64, device: Any = None) -> torch.Tensor:
    """(n,) angles uniform in [-pi, pi), reproducible from ``seed``."""
    gen = torch.Generator().manual_seed(int(seed))
    return ((torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1) * math.pi).to(dtype=dtype, device=device)


def synthetic_gauge(n_verts: int, degree: int = 6, seed: int = 0, dtype: torch.dtype = torch.float64, device: Any = None):
    """Random gauge data: every vertex receives from ``degree`` random other vertices, with random
    angles and transports. GaugeData with edge_index (2, V * degree)."""
    if n_verts < 2 or degree < 1:
        raise ConfigError(f"synthetic_gauge needs n_verts >= 2 and degree >= 1 (got {n_verts}, {degree})")
    gen = torch.Generator().manual_seed(int(seed))
    p = torch.arange(n_verts).repeat_interleave(degree)
    q = (p + torch.randint(1, n_verts, (p.numel(),), generator=gen)) % n_verts
    angle = (torch.rand(p.numel(), generator=gen, dtype=torch.float64) * 2 - 1) * math.pi
    transport = (torch.rand(p.numel(), generator=gen, dtype=torch.float64) * 2 - 1) * math.pi
    ei = torch.stack([p, q]).to(device)
    return GaugeData(ei, angle.to(dtype=dtype, device=device), transport.to(dtype=dtype, device=device))


def assert_gauge_equivariant(
    fn: Callable[[torch.Tensor, Any], torch.Tensor],
    x: torch.Tensor,
    gauge: Any,
    in_type: FeatureType,
    out_type: FeatureType,
    *,
    g: Optional[torch.Tensor] = None,
    seed: int = 0,
    tol: Optional[float] = None,
) -> float:
    """Check ``fn(rho_in(-g) x, gauge') == rho_out(-g) fn(x, gauge)`` for a random gauge change g.

    Parameters
    ----------
    fn : callable ``(x (V, D_in), gauge) -> (V, D_out)``
        A layer or network (e.g. a :class:`GemConv`).
    x : (V, D_in) tensor
        Input features of ``in_type``.
    gauge : GaugeData
    in_type, out_type : FeatureType
    g : (V,) tensor, optional
        The frame rotations. default: uniform random angles from ``seed``
    tol : float, optional
        Largest accepted ``max |difference| / max(1, max |output|)``.
        default: :func:`default_tolerance` of x's dtype

    Returns
    -------
    float
        The relative error measured.

    Raises
    ------
    AssertionError
        With the error, the tolerance and the component where the mismatch is largest.
    """
    if g is None:
        g = random_angles(x.shape[0], seed, x.dtype, x.device)
    g = g.to(dtype=x.dtype, device=x.device)
    tol = default_tolerance(x.dtype) if tol is None else tol
    with torch.no_grad():
        y = fn(x, gauge)
        y_moved = fn(rotate(x, -g, in_type), change_gauge(gauge, g))
        expected = rotate(y, -g, out_type)
    diff = (y_moved - expected).abs()
    err = float(diff.max()) / max(1.0, float(expected.abs().max()))
    if not err <= tol:
        v, c = divmod(int(diff.argmax()), diff.shape[1])
        raise AssertionError(
            f"not gauge equivariant: relative error {err:.3g} > tolerance {tol:.3g} "
            f"(largest at vertex {v}, component {c})"
        )
    return err
