"""GemConv: the gauge-equivariant mesh convolution (de Haan, Weiler, Cohen, Welling, ICLR 2021).

Letters: V vertices, E directed edges, D_in / D_out feature dimensions.

For every vertex p, with directed edges e = (p, q) to its neighbours q::

    out_p = K_self x_p + sum_q w_pq K(theta_pq) rho_in(g_{q -> p}) x_q + bias

where ``theta_pq = gauge.angle[e]`` is the direction of q in p's frame, ``g_{q -> p} =
gauge.transport[e]`` carries q's feature into p's frame, K and K_self are the learned equivariant
kernels of :mod:`meshlearn.gauge.kernels`, and the bias acts on the output's scalar (order-0)
components only (a bias on a rotating component would break equivariance).

Computation. An equivariant kernel satisfies ``K(theta) = rho_out(theta) K(0) rho_in(-theta)``, so a
message is ``rho_out(theta) K(0) rho_in(g - theta) x_q``: rotate the gathered neighbour features by
``g - theta`` (O(E D_in)), multiply by the one shared (D_out, D_in) matrix ``K(0)`` (a single GEMM
over the edges), rotate by theta and weight in the same pass (O(E D_out)), and scatter-add into p.
The cos / sin of ``n * angle`` are computed once per edge and order. No (E, D_out, D_in) per-edge
kernel and no dense (V, V) matrix is ever formed: time and memory are linear in E.

Edge weights. By default ``w_pq = 1 / deg(p)`` (the mean over the neighbours), which keeps feature magnitudes independent of the vertex degree; pass
``edge_weight`` to use others (e.g. area weights).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from ..errors import ConfigError
from .feature_type import FeatureType
from .kernels import NeighbourKernel, SelfKernel
from .transport import as_gauge_tensors, rotate

__all__ = ["GemConv", "mean_edge_weight"]


def mean_edge_weight(receivers: torch.Tensor, n_verts: int, dtype: torch.dtype) -> torch.Tensor:
    """``1 / deg(p)`` for every edge e = (p, q): (E,). ``receivers`` is ``edge_index[0]`` (E,)."""
    deg = torch.bincount(receivers, minlength=n_verts).clamp(min=1).to(dtype)
    return deg.reciprocal().index_select(0, receivers)


class GemConv(nn.Module):
    """Gauge-equivariant convolution from ``in_type`` features to ``out_type`` features.

    Parameters
    ----------
    in_type, out_type : FeatureType
        Input and output feature types (e.g. ``FeatureType.scalar(3)`` for xyz input,
        ``FeatureType.regular(16, 2)`` inside a GEM-CNN).
    band_limit : int, optional
        Highest angular frequency of the neighbour kernel. default: no limit (``m + n`` per pair)
    bias : bool
        Learn a bias on the scalar output components. default: True

    Examples
    --------
    >>> import torch
    >>> from meshlearn.gauge.testing import synthetic_gauge
    >>> conv = GemConv(FeatureType.scalar(3), FeatureType.regular(8, 2))
    >>> conv(torch.randn(10, 3), synthetic_gauge(10, degree=4, dtype=torch.float32)).shape
    torch.Size([10, 40])
    """

    def __init__(self, in_type: FeatureType, out_type: FeatureType, band_limit: Optional[int] = None, bias: bool = True):
        super().__init__()
        self.in_type, self.out_type = in_type, out_type
        self.kernel = NeighbourKernel(in_type, out_type, band_limit)
        self.self_kernel = SelfKernel(in_type, out_type)
        self.register_buffer("scalar_index", torch.nonzero(out_type.scalar_mask).flatten(), persistent=False)
        n_scalar = int(out_type.scalar_mask.sum())
        self.bias = nn.Parameter(torch.zeros(n_scalar)) if bias and n_scalar else None

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-draw the kernel coefficients (from ``generator`` when given) and zero the bias."""
        self.kernel.reset_parameters(generator)
        self.self_kernel.reset_parameters(generator)
        if self.bias is not None:
            with torch.no_grad():
                self.bias.zero_()

    def forward(
        self, x: torch.Tensor, gauge: Any, edge_weight: Optional[torch.Tensor] = None, validate: bool = True
    ) -> torch.Tensor:
        """Convolve.

        Parameters
        ----------
        x : (V, D_in) tensor
            Features of ``in_type``, each in its own vertex's frame.
        gauge : GaugeData
            ``edge_index`` (2, E), ``angle`` (E,), ``transport`` (E,) (see the module docstring).
        edge_weight : (E,) tensor, optional
            ``w_pq``. default: ``1 / deg(p)``
        validate : bool
            Check that the edge indices are within ``0 .. V - 1`` (one pass over the edges, and a
            device synchronisation on GPUs). :class:`~meshlearn.nets.GemCNN` checks once per
            forward and turns it off for its layers. default: True

        Returns
        -------
        (V, D_out) tensor
        """
        if x.dim() != 2 or x.shape[1] != self.in_type.dim:
            raise ConfigError(
                f"GemConv expected features of shape (V, {self.in_type.dim}) for {self.in_type} (got {tuple(x.shape)})"
            )
        n = x.shape[0]
        ei, angle, transport = as_gauge_tensors(gauge, n if validate else None, x.device, x.dtype)
        p, q = ei[0], ei[1]
        if edge_weight is None:
            edge_weight = mean_edge_weight(p, n, x.dtype)
        elif edge_weight.shape != angle.shape:
            raise ConfigError(f"edge_weight must have shape ({angle.shape[0]},) (got {tuple(edge_weight.shape)})")
        k0 = self.kernel.at_zero().to(x.dtype)  # (D_out, D_in)
        y = rotate(x.index_select(0, q), transport - angle, self.in_type)  # rho_in(g - theta) x_q
        msg = rotate(y @ k0.T, angle, self.out_type, scale=edge_weight)  # w_pq rho_out(theta) K(0) y
        # scatter_add rather than index_add: its backward keeps only the index, not the (E, D_out) messages.
        # Under autocast the products are in low precision and the rest float32: sum in the products' type.
        out = x @ self.self_kernel().to(x.dtype).T
        out = out.scatter_add(0, p[:, None].expand_as(msg), msg.to(out.dtype))
        if self.bias is not None:
            out = out.index_add(1, self.scalar_index, self.bias.to(out.dtype).expand(n, -1))
        return out

    def extra_repr(self) -> str:
        return f"{self.in_type} -> {self.out_type}, coefficients={self.kernel.n_basis + self.self_kernel.n_basis}"
