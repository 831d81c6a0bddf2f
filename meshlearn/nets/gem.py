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

Gauges. The net reads the shape only through ``ops.gauge`` (neighbour angles and transport) and,
with ``scales > 1``, ``ops.pool``. The frames they are measured in take their x axis from a
reference neighbour of each vertex (:func:`~meshlearn.geometry.tangent_frames`), not from world
axes, so a rigid motion of the shape changes no angle (beyond rounding) and the outputs for
intrinsic inputs (HKS, WKS, constants) do not change: with ``x = 1`` on spot, bunny_small and fox
in float64 the relative change is below 1e-14 for every nonlinearity and scale (with world-axis
frames it was 2e-2 for the regular nonlinearity: every gauge changed, and with it the
nonlinearity's equivariance error). Feeding xyz coordinates as scalars, as the paper does on
FAUST, is the user's explicit choice to break that invariance.

Nonlinearities and their equivariance error. The convolutions and the poolings are exactly
equivariant; the nonlinearity decides the rest (``nonlinearity=``):

* ``"regular"`` (the paper's; default): sample N angles, ReLU, back to Fourier coefficients.
  Exact for frame rotations by multiples of 2 pi / N; for other rotations the outputs of the
  default net (width 16, 3 blocks, L = 2) on spot change under a random gauge change by
  (relative, Frobenius norm, 3 seeds) 2.8e-2 for N = 5, 9.7e-3 for N = 7, 1.8e-3 for N = 15 and
  4e-4 for N = 31: about N^-2.
* ``"norm"``: scalars through ReLU, every irrep copy scaled by ``relu(|v| + b) / |v|``;
  ``"gated"``: every irrep copy times the sigmoid of a scalar gate the convolution also produces.
  Both exactly equivariant: 5e-16 under the same test.

Multi-scale (``scales = S > 1``), as in the paper's FAUST model with pooling: a U-net over the S
levels of ``ops.pool`` (:func:`~meshlearn.geometry.gauge_pooling`: farthest-point sampling to a
quarter of the vertices per level, clusters along the edges, area-weighted parallel-transport
pooling into each cluster vertex's gauge and unpooling back), ``blocks_per_scale`` blocks per
stack, the way up concatenating each level's features from the way down.
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
from ..gauge.exact_nonlinearity import NONLINEARITIES, make_nonlinearity
from ..gauge.pooling import transport_pool, transport_unpool
from ..gauge.transport import as_gauge_tensors
from ..geometry.types import GaugeData
from .base import MeshNet
from .readout import check_outputs, pool_outputs

__all__ = ["GemCNN", "GemResBlock", "concat_regular"]


class GemResBlock(nn.Module):
    """``act(conv2(act(conv1(x))) + residual(x))`` with gauge-equivariant convolutions.

    Parameters
    ----------
    in_type, mid_type, out_type : FeatureType
        ``mid_type`` and ``out_type`` must be regular types (scalars count as regular with L = 0)
        for the regular nonlinearity; the norm and gated ones take any type.
    n_samples : int or None
        Angles sampled by the regular nonlinearities. default: 2 L + 3
    band_limit : int, optional
        Passed to :class:`GemConv`.
    nonlinearity : {"regular", "norm", "gated"}
        See :func:`~meshlearn.gauge.make_nonlinearity`. With ``"gated"`` the convolutions also
        produce the gates (one scalar per irrep copy of order >= 1). default: "regular"
    """

    def __init__(
        self,
        in_type: FeatureType,
        mid_type: FeatureType,
        out_type: FeatureType,
        n_samples: Optional[int] = None,
        band_limit: Optional[int] = None,
        nonlinearity: str = "regular",
    ) -> None:
        super().__init__()
        self.act1 = make_nonlinearity(nonlinearity, mid_type, n_samples)
        self.act2 = make_nonlinearity(nonlinearity, out_type, n_samples)
        self.conv1 = GemConv(in_type, self.act1.in_type, band_limit)
        self.conv2 = GemConv(mid_type, self.act2.in_type, band_limit)
        self.residual = None if in_type == out_type else SelfKernel(in_type, out_type)
        if self.act2.in_type != out_type:  # the gates sit after the scalars: skip them when adding
            c0, gates = out_type.multiplicities.get(0, 0), self.act2.in_type.dim - out_type.dim
            idx = torch.arange(out_type.dim)
            self.register_buffer("skip_index", torch.where(idx < c0, idx, idx + gates), persistent=False)
        else:
            self.skip_index = None

    def forward(self, x: torch.Tensor, gauge: Any, edge_weight: torch.Tensor, use_checkpoint: bool = False) -> torch.Tensor:
        """x: (V, D_in) -> (V, D_out). ``gauge`` holds torch tensors whose indices were checked."""
        if use_checkpoint and torch.is_grad_enabled():
            y = _checkpoint(self._convs, x, gauge, edge_weight, use_reentrant=False)
        else:
            y = self._convs(x, gauge, edge_weight)
        skip = x if self.residual is None else x @ self.residual().to(x.dtype).T
        if self.skip_index is None:
            return self.act2(y + skip)
        return self.act2(y.index_add(1, self.skip_index, skip.to(y.dtype)))

    def _convs(self, x: torch.Tensor, gauge: Any, edge_weight: torch.Tensor) -> torch.Tensor:
        h = self.act1(self.conv1(x, gauge, edge_weight, validate=False))
        return self.conv2(h, gauge, edge_weight, validate=False)


def concat_regular(a: torch.Tensor, b: torch.Tensor, max_order: int) -> torch.Tensor:
    """Two regular features (V, (2 L + 1) C_a) and (V, (2 L + 1) C_b) as one regular feature of
    C_a + C_b channels (the order-major layout interleaves them per Fourier row)."""
    d = 2 * max_order + 1
    return torch.cat([a.reshape(a.shape[0], d, -1), b.reshape(b.shape[0], d, -1)], 2).reshape(a.shape[0], -1)


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
    nonlinearity : {"regular", "norm", "gated"}
        ``"regular"`` (the paper's): sample N angles, ReLU, back to Fourier coefficients; exact
        for frame rotations by multiples of 2 pi / N only (see the module docstring for the
        measured error). ``"norm"`` and ``"gated"``: exactly equivariant (rounding only).
        default: "regular"
    scales : int
        1: one stack of ``n_blocks`` blocks on the shape. S > 1: the paper's multi-scale U-net on
        S levels (``ops.pool``, operator kind ``gauge_pool`` with ``pool_levels >= S - 1``): on
        each level down ``blocks_per_scale`` blocks then parallel-transport pooling to the next;
        on each level up unpooling, concatenation with that level's features from the way down,
        and ``blocks_per_scale`` blocks. ``n_blocks`` is then unused. default: 1
    blocks_per_scale : int
        Blocks per stack when ``scales > 1``. default: 2 (the paper's)
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
        nonlinearity: str = "regular",
        scales: int = 1,
        blocks_per_scale: int = 2,
    ) -> None:
        super().__init__()
        if nonlinearity not in NONLINEARITIES:
            raise ConfigError(f"nonlinearity must be one of {', '.join(map(repr, NONLINEARITIES))} (got {nonlinearity!r})")
        for name, value in (("scales", scales), ("blocks_per_scale", blocks_per_scale)):
            if isinstance(value, bool) or int(value) != value or int(value) < 1:
                raise ConfigError(f"{name} must be a positive integer (got {value!r})")
        self.nonlinearity, self.scales, self.blocks_per_scale = nonlinearity, int(scales), int(blocks_per_scale)
        if self.scales > 1:
            # an instance needs the coarser levels too (OperatorSpec.for_net reads both)
            self.requires = frozenset({"gauge", "gauge_pool"})  # type: ignore[misc]
            self.operator_params = {"pool_levels": self.scales - 1}
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
        nl = self.nonlinearity

        def block(t_in: FeatureType, t_out: FeatureType) -> GemResBlock:
            return GemResBlock(t_in, regular, t_out, self.n_samples, band_limit, nl)

        if self.scales == 1:
            types = [scalar_in] + [regular] * (self.n_blocks - 1) + [scalar_out]
            self.blocks = nn.ModuleList(block(types[i], types[i + 1]) for i in range(self.n_blocks))
        else:
            B = self.blocks_per_scale
            self.down = nn.ModuleList(
                nn.ModuleList(block(scalar_in if (k == 0 and i == 0) else regular, regular) for i in range(B))
                for k in range(self.scales)
            )
            double = FeatureType.regular(2 * self.width, self.max_order)
            self.up = nn.ModuleList(  # up[k] works on level k (k = S - 2 .. 0)
                nn.ModuleList(
                    block(double if i == 0 else regular, scalar_out if (k == 0 and i == B - 1) else regular)
                    for i in range(B)
                )
                for k in range(self.scales - 1)
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
        gauge, edge_weight = self._level_gauge(gauge, x.shape[0], x)
        h = x
        for block in self.blocks:
            h = block(h, gauge, edge_weight, self.checkpoint)
        return h

    @staticmethod
    def _level_gauge(gauge: Any, n: int, x: torch.Tensor) -> tuple[GaugeData, torch.Tensor]:
        ei, angle, transport = as_gauge_tensors(gauge, n, x.device, x.dtype)
        return GaugeData(ei, angle, transport), mean_edge_weight(ei[0], n, x.dtype)

    def multiscale_features(self, x: torch.Tensor, gauge: Any, pool: Any) -> torch.Tensor:
        """The multi-scale backbone (``scales > 1``): scalar inputs (V, in_channels) -> invariant
        scalars (V, width), through the levels of ``pool`` (a :class:`GaugePoolData`)."""
        if pool is None:
            raise ConfigError(
                f"GemCNN(scales={self.scales}) needs the coarser levels (ops.pool): compute the operators "
                "with compute_operators(shape, OperatorSpec.for_net(net)) (operator kind 'gauge_pool')"
            )
        if pool.n_levels < self.scales - 1:
            raise ConfigError(
                f"GemCNN(scales={self.scales}) needs {self.scales - 1} coarser levels but ops.pool has "
                f"{pool.n_levels}: compute the operators with OperatorSpec(..., pool_levels={self.scales - 1})"
            )
        regular = FeatureType.regular(self.width, self.max_order)
        n_verts = [int(n) for n in pool.n_verts]
        if n_verts[0] != x.shape[0]:
            raise ConfigError(
                f"ops.pool is for a shape of {n_verts[0]} vertices but the features have {x.shape[0]} rows: "
                "were the operators computed for another shape?"
            )
        levels = [self._level_gauge(gauge, n_verts[0], x)]
        pools = []
        for k in range(1, self.scales):
            _, cluster, pt, w, g = pool.level(k)
            levels.append(self._level_gauge(g, n_verts[k], x))
            pools.append((torch.as_tensor(cluster, device=x.device).long(), torch.as_tensor(pt, device=x.device, dtype=x.dtype),
                          torch.as_tensor(w, device=x.device, dtype=x.dtype), n_verts[k]))
        h, skips = x, []
        for k, stack in enumerate(self.down):
            for block in stack:
                h = block(h, *levels[k], self.checkpoint)
            if k < self.scales - 1:
                skips.append(h)
                cluster, pt, w, n = pools[k]
                h = transport_pool(h, cluster, pt, w, n, regular)
        for k in range(self.scales - 2, -1, -1):
            cluster, pt, _, _ = pools[k]
            h = concat_regular(transport_unpool(h, cluster, pt, regular), skips[k], self.max_order)
            for block in self.up[k]:
                h = block(h, *levels[k], self.checkpoint)
        return h

    def forward_one(self, x: torch.Tensor, ops: Any) -> torch.Tensor:
        if self.scales == 1:
            h = self.features(x, ops.gauge)
        else:
            h = self.multiscale_features(x, ops.gauge, getattr(ops, "pool", None))
        y = pool_outputs(self.head(h), ops, self.outputs)
        return self.last_activation(y) if self.last_activation is not None else y

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, out_channels={self.out_channels}, width={self.width}, "
            f"n_blocks={self.n_blocks}, max_order={self.max_order}, n_samples={self.n_samples}, "
            f"nonlinearity={self.nonlinearity!r}, scales={self.scales}"
        )
