"""ChebNet (Defferrard et al., NeurIPS 2016): Chebyshev polynomial filters, here of the mesh
Laplace-Beltrami operator.

Letters: V vertices, C channels, K polynomial order.

A ChebConv layer computes ``y = sum_{k<K} T_k(L~) x W_k`` with the Chebyshev recurrence
``T_0 x = x``, ``T_1 x = L~ x``, ``T_k x = 2 L~ T_{k-1} x - T_{k-2} x`` and the scaled operator

    ``L~ = 2 M^-1 L / lambda_max - I``

where L is the PSD weak Laplacian and M the lumped mass (so ``M^-1 L`` is the discrete Laplace-Beltrami
operator). Why this normalisation rather than the graph Laplacian's symmetric
``I - D^-1/2 A D^-1/2`` that graph ChebNets use: ``M^-1 L`` carries the surface's metric (cotangent
weights, vertex areas), its low spectrum converges to that of the smooth surface and so hardly depends
on the triangulation, and it is self-adjoint in the mass inner product, so ``p(L~)`` is exactly the
spectral filter ``p`` applied in the Laplace-Beltrami eigenbasis that DiffusionNet and
:class:`SpectralFilterConv` use. The symmetric graph normalisation only sees connectivity.

``lambda_max`` is bounded by Gershgorin's theorem for ``M^-1 L``:
``lambda_max <= max_i (L_ii + sum_{j != i} |L_ij|) / m_i``. The bound needs one pass over the
non-zeros and no eigensolve, it is never below the true value (so the spectrum of ``L~`` stays in
[-1, 1], where Chebyshev polynomials are bounded and the recurrence is stable), and it is at most twice
the true value when off-diagonal weights are non-positive, since the unit spike at vertex i has
Rayleigh quotient ``L_ii / m_i <= lambda_max``.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ._sparse import sparse_op
from .base import MeshNet, check_depth, check_dropout

__all__ = ["ChebConv", "ChebNet", "gershgorin_lambda_max"]


def gershgorin_lambda_max(L: torch.Tensor, mass: torch.Tensor) -> float:
    """Gershgorin upper bound on the largest eigenvalue of ``M^-1 L``.

    Parameters
    ----------
    L : (V, V) torch sparse tensor, the weak Laplacian
    mass : (V,) tensor, lumped mass (positive)

    Returns
    -------
    float, ``max_i sum_j |L_ij| / m_i``
    """
    m = mass.detach().cpu().double().numpy()
    if np.any(m <= 0) or not np.all(np.isfinite(m)):
        raise ConfigError("the mass has non-positive or non-finite entries; load the mesh with clean=True")
    bound = float(np.max(sparse_op(L).abs_row_sums() / m))
    return bound if bound > 0 else 1.0


class ChebConv(nn.Module):
    """Chebyshev spectral convolution with the scaled Laplace-Beltrami operator (see module docstring).

    Parameters
    ----------
    in_channels : int
    out_channels : int
    K : int
        Number of Chebyshev terms (polynomial order K - 1; the filter reaches K - 1 rings). default: 6
    bias : bool
        default: True
    """

    def __init__(self, in_channels: int, out_channels: int, K: int = 6, bias: bool = True) -> None:
        super().__init__()
        if K < 1:
            raise ConfigError(f"K must be >= 1 (got {K})")
        self.K = K
        self.linear = nn.Linear(K * in_channels, out_channels, bias=bias)

    def basis(self, x: torch.Tensor, ops: Any, lambda_max: float | None = None) -> torch.Tensor:
        """The Chebyshev terms ``[T_0 x, ..., T_{K-1} x]`` stacked on channels: (V, K * C)."""
        lam = lambda_max if lambda_max is not None else gershgorin_lambda_max(ops.L, ops.mass)
        Lop = sparse_op(ops.L)
        scale = (2.0 / lam) / ops.mass.to(x.dtype)[:, None]

        def apply(z: torch.Tensor) -> torch.Tensor:
            return scale * (Lop @ z) - z

        terms = [x]
        if self.K > 1:
            terms.append(apply(x))
        for _ in range(2, self.K):
            terms.append(2.0 * apply(terms[-1]) - terms[-2])
        return torch.cat(terms, dim=1)

    def forward(self, x: torch.Tensor, ops: Any, lambda_max: float | None = None) -> torch.Tensor:
        """x (V, C_in) -> (V, C_out). ``lambda_max`` defaults to the Gershgorin bound."""
        return self.linear(self.basis(x, ops, lambda_max))


class ChebNet(MeshNet):
    """A stack of :class:`ChebConv` layers with ReLU (and optional dropout) between them.

    ``in_channels -> width -> ... -> width -> out_channels`` over ``n_layers`` convolutions (the
    same layout as a PyTorch Geometric ChebConv stack, whose graph normalisation differs: see the
    module docstring). Needs only the sparse Laplacian and mass, no eigenbasis.

    Parameters
    ----------
    in_channels : int
    out_channels : int
    width : int
        default: 64
    n_layers : int
        Number of convolutions (>= 1). default: 4
    K : int
        Chebyshev terms per convolution. default: 6
    dropout : float
        default: 0.0
    outputs : {"vertices", "faces", "global", "global_max"}
        default: "vertices"
    last_activation : callable, optional
    device : torch.device or str, optional
    """

    requires: ClassVar[frozenset[str]] = frozenset({"laplacian"})

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 64,
        n_layers: int = 4,
        K: int = 6,
        dropout: float = 0.0,
        outputs: str = "vertices",
        last_activation: Callable[[torch.Tensor], torch.Tensor] | None = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        check_depth(n_layers, width)
        check_dropout(dropout)
        self.set_io(in_channels, outputs, last_activation)
        sizes = [in_channels] + [width] * (n_layers - 1) + [out_channels]
        self.convs = nn.ModuleList(ChebConv(a, b, K=K) for a, b in zip(sizes[:-1], sizes[1:]))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        if device is not None:
            self.to(device)

    def forward_one(self, x: torch.Tensor, ops: Any) -> torch.Tensor:
        lam = gershgorin_lambda_max(ops.L, ops.mass)
        h = x
        for i, conv in enumerate(self.convs):
            h = conv(h, ops, lambda_max=lam)
            if i < len(self.convs) - 1:
                h = self.dropout(torch.relu(h))
        return self.readout(h, ops)
