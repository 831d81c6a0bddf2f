"""GemCNN: a residual gauge-equivariant mesh CNN (de Haan, Weiler, Cohen, Welling, ICLR 2021).

Letters: V vertices, F faces, E directed edges, C channels, L max irrep order, N angle samples.

The net takes scalar (order-0) per-vertex features ``x : (V, in_channels)`` and returns scalar
outputs, like every meshlearn net (``y = net(x, ops)``). Inside, features are regular feature types
``FeatureType.regular(width, L)`` (per channel a band-limited function on the circle of directions,
orders 0..L) and every layer is gauge equivariant:

* block 1 lifts the scalar input to the regular type, the middle blocks keep it, the last block
  maps back to ``width`` scalars (the layout of the paper's FAUST model: 3 blocks, width 16, L = 2,
  N = 7);
* a block is ``GemConv -> regular nonlinearity -> GemConv``, plus a residual (the identity, or the
  equivariant 1x1 map :class:`~meshlearn.gauge.SelfKernel` when the types differ), then a regular
  nonlinearity;
* a per-vertex MLP head (``width -> hidden -> out_channels``) acts on the invariant scalars.

Invariance. The outputs are gauge invariant, exactly for frame rotations by multiples of 2 pi / N
and up to the regular nonlinearity's sampling error otherwise (the convolutions themselves are
exactly equivariant). The net reads the shape only through ``ops.gauge`` (intrinsic angles and
transport), so with intrinsic inputs (HKS, WKS, constants) the outputs do not change under a rigid
motion of the shape. Feeding xyz coordinates as scalars, as the paper does on FAUST, is the user's
explicit choice to break that invariance: the coordinates themselves change under the motion.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Optional

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint as _checkpoint

from ..errors import ConfigError
from ..gauge.conv import GemConv, mean_edge_weight
from ..gauge.feature_type import FeatureType
from ..gauge.kernels import SelfKernel
from ..gauge.nonlinearity import RegularNonlinearity
from ..gauge.transport import as_gauge_tensors
from .base import MeshNet
from .readout import check_outputs, pool_outputs

__all__ = ["GemCNN", "GemResBlock"]


class GemResBlock(nn.Module):
    """``act(conv2(act(conv1(x))) + residual(x))`` with gauge-equivariant convolutions.

    Parameters
    ----------
    in_type, mid_type, out_type : FeatureType
        ``mid_type`` and ``out_type`` must be regular types (scalars count as regular with L = 0).
    n_samples : int or None
        Angles sampled by the regular nonlinearities. default: 2 L + 3
    band_limit : int, optional
        Passed to :class:`GemConv`.
    """

    def __init__(
        self,
        in_type: FeatureType,
        mid_type: FeatureType,
        out_type: FeatureType,
        n_samples: Optional[int] = None,
        band_limit: Optional[int] = None,
    ) -> None:
        super().__init__()
        self.conv1 = GemConv(in_type, mid_type, band_limit)
        self.act1 = RegularNonlinearity(mid_type, n_samples)
        self.conv2 = GemConv(mid_type, out_type, band_limit)
        self.act2 = RegularNonlinearity(out_type, n_samples)
        self.residual = None if in_type == out_type else SelfKernel(in_type, out_type)

    def forward(self, x: torch.Tensor, gauge: Any, edge_weight: torch.Tensor, use_checkpoint: bool = False) -> torch.Tensor:
        """x: (V, D_in) -> (V, D_out). ``gauge`` holds torch tensors whose indices were checked."""
        if use_checkpoint and torch.is_grad_enabled():
            y = _checkpoint(self._convs, x, gauge, edge_weight, use_reentrant=False)
        else:
            y = self._convs(x, gauge, edge_weight)
        skip = x if self.residual is None else x @ self.residual().to(x.dtype).T
        return self.act2(y + skip)

    def _convs(self, x: torch.Tensor, gauge: Any, edge_weight: torch.Tensor) -> torch.Tensor:
        h = self.act1(self.conv1(x, gauge, edge_weight, validate=False))
        return self.conv2(h, gauge, edge_weight, validate=False)


class GemCNN(MeshNet):
    """Gauge-equivariant mesh CNN for per-vertex tasks (segmentation, correspondence).

    ``y = net(x, ops)`` maps scalar features ``x : (V, in_channels)`` to ``(V, out_channels)`` per
    vertex, ``(F, out_channels)`` per face or ``(out_channels,)`` globally, according to ``outputs``.
    Lists of features and operators give lists of outputs (see :class:`MeshNet`).

    Parameters
    ----------
    in_channels : int
        Scalar input channels (HKS, WKS, constants; or xyz, which breaks rigid-motion invariance).
    out_channels : int
    width : int
        Channels of the regular features inside. default: 16 (the paper's FAUST model)
    n_blocks : int
        Residual blocks (two convolutions each). default: 3
    max_order : int
        L, the highest irrep order of the hidden features. default: 2
    n_samples : int
        N, angles sampled by the regular nonlinearity (>= 2 L + 1; odd is customary). default: 7
    hidden : int
        Width of the head's hidden layer; 0 for a single linear layer. default: 256
    dropout : float
        Dropout in the head (training mode only). default: 0.0
    band_limit : int, optional
        Highest kernel frequency. default: none
    outputs : {"vertices", "faces", "global", "global_max"}
        default: "vertices"
    last_activation : callable, optional
        Applied to the output, e.g. ``lambda y: torch.log_softmax(y, -1)``. default: None
    checkpoint : bool
        Recompute each block's convolutions in the backward pass instead of storing them (less
        memory, about a third more time). default: False
    seed : int, optional
        Seed for the initial weights (the global torch RNG is left untouched). default: None
    device : torch.device or str, optional
        Where the parameters are created. default: None

    Examples
    --------
    >>> import meshlearn
    >>> from meshlearn.testing import bumpy_sphere
    >>> net = GemCNN(3, 8, width=8, n_blocks=2)
    >>> ops = meshlearn.compute_operators(bumpy_sphere(2), meshlearn.OperatorSpec.for_net(net)).to("cpu")
    >>> net(ops.verts, ops).shape
    torch.Size([162, 8])
    """

    requires: ClassVar[frozenset[str]] = frozenset({"gauge"})

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 16,
        n_blocks: int = 3,
        max_order: int = 2,
        n_samples: int = 7,
        hidden: int = 256,
        dropout: float = 0.0,
        band_limit: Optional[int] = None,
        outputs: str = "vertices",
        last_activation: Callable[[torch.Tensor], torch.Tensor] | None = None,
        checkpoint: bool = False,
        seed: Optional[int] = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("width", width), ("n_blocks", n_blocks)):
            if isinstance(value, bool) or int(value) != value or int(value) < 1:
                raise ConfigError(f"{name} must be a positive integer (got {value!r})")
        if isinstance(max_order, bool) or int(max_order) != max_order or int(max_order) < 0:
            raise ConfigError(f"max_order must be a non-negative integer (got {max_order!r})")
        if int(n_samples) < 2 * int(max_order) + 1:
            raise ConfigError(f"n_samples must be at least 2 * max_order + 1 = {2 * int(max_order) + 1} (got {n_samples!r})")
        if int(hidden) < 0:
            raise ConfigError(f"hidden must be >= 0 (got {hidden!r})")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1) (got {dropout!r})")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.width, self.n_blocks, self.max_order, self.n_samples = int(width), int(n_blocks), int(max_order), int(n_samples)
        self.outputs = check_outputs(outputs)
        self.last_activation = last_activation
        self.checkpoint = bool(checkpoint)
        if seed is None:
            self._build(band_limit, int(hidden), float(dropout))
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seed))
                self._build(band_limit, int(hidden), float(dropout))
        if device is not None:
            self.to(device)

    def _build(self, band_limit: Optional[int], hidden: int, dropout: float) -> None:
        scalar_in = FeatureType.scalar(self.in_channels)
        regular = FeatureType.regular(self.width, self.max_order)
        scalar_out = FeatureType.scalar(self.width)
        types = [scalar_in] + [regular] * (self.n_blocks - 1) + [scalar_out]
        self.blocks = nn.ModuleList(
            GemResBlock(types[i], regular, types[i + 1], self.n_samples, band_limit) for i in range(self.n_blocks)
        )
        if hidden:
            self.head = nn.Sequential(
                nn.Linear(self.width, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, self.out_channels)
            )
        else:
            self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.width, self.out_channels))

    @property
    def in_type(self) -> FeatureType:
        return FeatureType.scalar(self.in_channels)

    def features(self, x: torch.Tensor, gauge: Any) -> torch.Tensor:
        """The backbone: scalar inputs (V, in_channels) -> invariant scalars (V, width)."""
        ei, angle, transport = as_gauge_tensors(gauge, x.shape[0], x.device, x.dtype)
        from ..geometry.types import GaugeData

        gauge = GaugeData(ei, angle, transport)
        edge_weight = mean_edge_weight(ei[0], x.shape[0], x.dtype)
        h = x
        for block in self.blocks:
            h = block(h, gauge, edge_weight, self.checkpoint)
        return h

    def forward_one(self, x: torch.Tensor, ops: Any) -> torch.Tensor:
        y = pool_outputs(self.head(self.features(x, ops.gauge)), ops, self.outputs)
        return self.last_activation(y) if self.last_activation is not None else y

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, out_channels={self.out_channels}, width={self.width}, "
            f"n_blocks={self.n_blocks}, max_order={self.max_order}, n_samples={self.n_samples}"
        )
