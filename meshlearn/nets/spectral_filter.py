"""Learned smooth spectral filters in the Laplace-Beltrami eigenbasis.

Letters: V vertices, K eigenpairs, C channels, B spline basis functions.

A filter is a function ``h(lambda)`` applied to the eigen-coefficients of a signal:
``y = evecs (h(evals) * (evecs^T M x))``. Here each input channel has its own filter, a combination of
B cubic B-splines with uniform knots on ``u = lambda / lambda_K`` in [0, 1] (lambda_K the largest
eigenvalue in the basis), followed by a linear channel mix. Smooth filters in frequency are localised
in space (the spectral analogue of a small stencil), and B-splines keep every coefficient's effect
local in frequency. Because ``u`` is relative to the basis, use the same number of eigenpairs K in
training and inference.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import torch
from torch import nn

from ..errors import ConfigError
from .base import MeshNet, check_depth, check_dropout

__all__ = ["cubic_bspline_basis", "SpectralFilterConv", "SpectralFilterNet"]


def _cardinal_cubic(s: torch.Tensor) -> torch.Tensor:
    """The centred cardinal cubic B-spline (support [-2, 2], peak 2/3 at 0)."""
    a = s.abs()
    inner = 2.0 / 3.0 - a**2 + 0.5 * a**3
    outer = (2.0 - a) ** 3 / 6.0
    return torch.where(a < 1, inner, torch.where(a < 2, outer, torch.zeros_like(a)))


def cubic_bspline_basis(u: torch.Tensor, n_basis: int) -> torch.Tensor:
    """Uniform cubic B-splines on [0, 1] that sum to one there.

    Parameters
    ----------
    u : (K,) tensor, values in [0, 1]
    n_basis : int
        B >= 4.

    Returns
    -------
    (K, B) tensor; ``basis[:, b]`` is the spline centred at knot ``(b - 1) / (B - 3)``, so the
    splines cover [0, 1] with one knot interval beyond each end, and every row sums to 1.
    """
    if n_basis < 4:
        raise ConfigError(f"a cubic B-spline basis needs at least 4 functions (got {n_basis})")
    h = 1.0 / (n_basis - 3)
    centres = (torch.arange(n_basis, dtype=u.dtype, device=u.device) - 1.0) * h
    return _cardinal_cubic((u[:, None] - centres[None, :]) / h)


class SpectralFilterConv(nn.Module):
    """Per-channel learned smooth spectral filter, then a linear channel mix.

    ``y = W (evecs (h_c(u) * (evecs^T M x)_c)) + b`` with ``h_c = sum_b a_cb B_b`` (cubic B-splines,
    see :func:`cubic_bspline_basis`) and ``u = evals / evals.max()``.

    Parameters
    ----------
    in_channels : int
    out_channels : int
    n_basis : int
        B-spline functions per filter. default: 8
    """

    requires: ClassVar[frozenset[str]] = frozenset({"spectral"})

    def __init__(self, in_channels: int, out_channels: int, n_basis: int = 8) -> None:
        super().__init__()
        if n_basis < 4:
            raise ConfigError(f"n_basis must be >= 4 (got {n_basis})")
        self.n_basis = n_basis
        # start as low-pass filters of different cut-offs, decaying from 1 at lambda = 0
        knots = torch.linspace(0, 1, n_basis)
        cut = torch.linspace(0.1, 1.0, in_channels)[:, None]
        self.coeffs = nn.Parameter(torch.exp(-((knots[None, :] / cut) ** 2)))
        self.linear = nn.Linear(in_channels, out_channels)

    def response(self, evals: torch.Tensor) -> torch.Tensor:
        """The filters' values at the eigenvalues: (K, C_in)."""
        top = evals.max().clamp_min(torch.finfo(evals.dtype).tiny)
        basis = cubic_bspline_basis((evals / top).clamp(0, 1), self.n_basis).to(self.coeffs.dtype)
        return basis @ self.coeffs.T

    def forward(self, x: torch.Tensor, ops: Any) -> torch.Tensor:
        """x (V, C_in) -> (V, C_out)."""
        evecs, mass = ops.evecs.to(x.dtype), ops.mass.to(x.dtype)
        spec = evecs.T @ (mass[:, None] * x)
        return self.linear(evecs @ (self.response(ops.evals.to(x.dtype)) * spec))


class SpectralFilterNet(MeshNet):
    """Stack of :class:`SpectralFilterConv` with per-vertex residual MLPs.

    Each layer: ``h = h + MLP([h, filter(h)])``; an input and an output linear map.

    Parameters
    ----------
    in_channels, out_channels : int
    width : int
        default: 64
    n_layers : int
        default: 4
    n_basis : int
        default: 8
    dropout : float
        default: 0.0
    outputs : {"vertices", "faces", "global", "global_max"}
        default: "vertices"
    last_activation : callable, optional
    device : torch.device or str, optional
    """

    requires: ClassVar[frozenset[str]] = frozenset({"spectral"})

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 64,
        n_layers: int = 4,
        n_basis: int = 8,
        dropout: float = 0.0,
        outputs: str = "vertices",
        last_activation: Callable[[torch.Tensor], torch.Tensor] | None = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        check_depth(n_layers, width)
        check_dropout(dropout)
        self.set_io(in_channels, outputs, last_activation)
        self.first = nn.Linear(in_channels, width)
        self.filters = nn.ModuleList(SpectralFilterConv(width, width, n_basis) for _ in range(n_layers))
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(2 * width, width), nn.ReLU(), nn.Dropout(dropout), nn.Linear(width, width))
            for _ in range(n_layers)
        )
        self.last = nn.Linear(width, out_channels)
        if device is not None:
            self.to(device)

    def forward_one(self, x: torch.Tensor, ops: Any) -> torch.Tensor:
        h = self.first(x)
        for filt, mlp in zip(self.filters, self.mlps):
            h = h + mlp(torch.cat([h, filt(h, ops)], dim=1))
        return self.readout(self.last(h), ops)
