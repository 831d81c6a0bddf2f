"""Geodesic patch convolution (GCNN, Masci et al. 2015; MoNet, Monti et al. 2017) with angular max pooling.

Letters: V vertices, P patch entries (centre, neighbour pairs), C channels, A radial bins,
N angular bins.

Every vertex carries a geodesic polar patch (``ops.patches``: radius and angle of each neighbour in the
vertex's tangent frame). A fixed Gaussian mixture on a polar grid of A x N bins, centred at radii
``(a + 1/2) R / A`` and angles ``2 pi n / N`` with standard deviations of half a bin in each
coordinate, interpolates the features at each bin:

    ``s[i, a, n] = sum_p w_an(rho_p, theta_p) x[j_p] / sum_p w_an(rho_p, theta_p)``

(weights below 3 standard deviations are dropped; the centre vertex, whose angle is undefined, weighs
the same in every angular bin). A learned filter ``W : (A, N, C_in, C_out)`` is correlated with ``s``
at every one of the N rotations, and the maximum over rotations is kept.

Why angular max pooling (GCNN) rather than MoNet's learned kernels in the given frame: a surface has no
canonical tangent direction, so the x axis of each vertex's frame is an arbitrary choice of the
preprocessing (it changes with the triangulation and, for frames built from a global reference, with a
rigid motion). A learned kernel read in that frame inherits the arbitrariness; the maximum over all N
rotations makes a layer's output exactly invariant to rotating any frame by a multiple of ``2 pi / N``
and nearly invariant to any rotation, while the patch operator stays a constant sparse matrix (one
sparse product per layer, no gradient through it). The price is N times the dense filter cost.
"""

from __future__ import annotations

import math
from typing import Any, Callable, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from ..errors import ConfigError
from ._sparse import SparseOp, cached_on
from .base import MeshNet, check_depth, check_dropout

__all__ = ["patch_operator", "PatchConv", "PatchConvNet"]


def patch_operator(patches: Any, n_verts: int, n_rho: int = 3, n_theta: int = 8) -> sp.csr_matrix:
    """The fixed interpolation operator from vertex features to polar bins.

    Parameters
    ----------
    patches : PatchData
        ``edge_index (2, P)`` (centre, neighbour), ``radius (P,)``, ``angle (P,)``, ``max_radius``;
        numpy arrays or torch tensors.
    n_verts : int
        V.
    n_rho, n_theta : int
        A radial and N angular bins.

    Returns
    -------
    (V * A * N, V) scipy CSR, float64: row ``(i * A + a) * N + n`` holds the normalised weights of bin
    (a, n) of vertex i's patch; rows of empty bins are zero.
    """
    def arr(v: Any) -> np.ndarray:
        return v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)

    ei = arr(patches.edge_index).astype(np.int64)
    rho = arr(patches.radius).astype(np.float64)
    theta = arr(patches.angle).astype(np.float64)
    if ei.ndim != 2 or ei.shape[0] != 2 or rho.shape != (ei.shape[1],) or theta.shape != (ei.shape[1],):
        raise ConfigError(
            f"patches must have edge_index (2, P), radius (P,) and angle (P,) (got {ei.shape}, {rho.shape}, {theta.shape})"
        )
    if ei.size and (ei.min() < 0 or ei.max() >= n_verts):
        raise ConfigError(f"patches reference vertex {int(ei.max())} but the shape has {n_verts} vertices")
    R = float(patches.max_radius) if float(patches.max_radius) > 0 else float(rho.max(initial=0.0))
    R = R if R > 0 else 1.0
    sig_r = R / (2 * n_rho)
    sig_t = math.pi / n_theta
    rc = (np.arange(n_rho) + 0.5) * R / n_rho  # (A,)
    tc = 2 * math.pi * np.arange(n_theta) / n_theta  # (N,)
    dr = (rho[:, None] - rc[None, :]) / sig_r  # (P, A)
    dt = (np.angle(np.exp(1j * (theta[:, None] - tc[None, :])))) / sig_t  # (P, N), wrapped to (-pi, pi]
    centre = rho <= 1e-9 * R
    dt[centre] = 0.0
    wr = np.where(np.abs(dr) <= 3, np.exp(-0.5 * dr**2), 0.0)
    wt = np.where(np.abs(dt) <= 3, np.exp(-0.5 * dt**2), 0.0)
    w = wr[:, :, None] * wt[:, None, :]  # (P, A, N)
    p, a, n = np.nonzero(w)
    rows = (ei[0, p] * n_rho + a) * n_theta + n
    op = sp.csr_matrix((w[p, a, n], (rows, ei[1, p])), shape=(n_verts * n_rho * n_theta, n_verts))
    sums = np.asarray(op.sum(1)).ravel()
    inv = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sp.diags(inv) @ op


class PatchConv(nn.Module):
    """Geodesic patch convolution with Gaussian polar bins and angular max pooling (module docstring).

    ``y_i = max_r sum_{a,n} s[i, a, (n + r) mod N] W[a, n] + x_i W_self + b``

    Parameters
    ----------
    in_channels, out_channels : int
    n_rho : int
        A, radial bins. default: 3
    n_theta : int
        N, angular bins (and rotations). default: 8
    """

    def __init__(self, in_channels: int, out_channels: int, n_rho: int = 3, n_theta: int = 8) -> None:
        super().__init__()
        if n_rho < 1 or n_theta < 1:
            raise ConfigError(f"n_rho and n_theta must be positive (got {n_rho}, {n_theta})")
        self.n_rho, self.n_theta = n_rho, n_theta
        self.in_channels, self.out_channels = in_channels, out_channels
        fan_in = n_rho * n_theta * in_channels
        self.weight = nn.Parameter(torch.randn(n_rho, n_theta, in_channels, out_channels) / math.sqrt(fan_in))
        self.self_weight = nn.Linear(in_channels, out_channels)

    def operator(self, ops: Any) -> SparseOp:
        """The patch operator of ``ops`` (built once per ``ops.patches`` and bin layout)."""
        patches = ops.patches
        device, dtype = ops.verts.device, ops.verts.dtype
        dtype = dtype if dtype.is_floating_point else torch.float32
        return cached_on(
            patches.edge_index,
            ("patch_operator", self.n_rho, self.n_theta, str(device), dtype),
            lambda: SparseOp(patch_operator(patches, ops.n_verts, self.n_rho, self.n_theta), device=device, dtype=dtype),
        )

    def rotated_weights(self) -> torch.Tensor:
        """The filter at all N rotations: (A * N * C_in, N * C_out)."""
        W = self.weight
        rolled = torch.stack([torch.roll(W, shifts=r, dims=1) for r in range(self.n_theta)], dim=-2)  # (A,N,Ci,N,Co)
        return rolled.reshape(-1, self.n_theta * self.out_channels)

    def forward(self, x: torch.Tensor, ops: Any) -> torch.Tensor:
        """x (V, C_in) -> (V, C_out)."""
        V = x.shape[0]
        s = (self.operator(ops) @ x).reshape(V, -1)  # (V, A*N*C_in)
        y = (s @ self.rotated_weights()).reshape(V, self.n_theta, self.out_channels)
        return y.max(dim=1).values + self.self_weight(x)


class PatchConvNet(MeshNet):
    """Geodesic patch CNN: input linear map, residual :class:`PatchConv` layers with ReLU, output map.

    Parameters
    ----------
    in_channels, out_channels : int
    width : int
        default: 32
    n_layers : int
        default: 4
    n_rho, n_theta : int
        Polar bins of every layer. default: 3, 8
    dropout : float
        default: 0.0
    outputs : {"vertices", "faces", "global", "global_max"}
        default: "vertices"
    last_activation : callable, optional
    device : torch.device or str, optional
    """

    requires: ClassVar[frozenset[str]] = frozenset({"patches"})

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 32,
        n_layers: int = 4,
        n_rho: int = 3,
        n_theta: int = 8,
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
        self.convs = nn.ModuleList(PatchConv(width, width, n_rho, n_theta) for _ in range(n_layers))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.last = nn.Linear(width, out_channels)
        if device is not None:
            self.to(device)

    def forward_one(self, x: torch.Tensor, ops: Any) -> torch.Tensor:
        h = self.first(x)
        for conv in self.convs:
            h = h + self.dropout(torch.relu(conv(h, ops)))
        return self.readout(self.last(h), ops)
