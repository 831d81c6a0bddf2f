"""DiffusionNet (Sharp et al., ACM TOG 2022): learned heat diffusion + spatial gradient features + per-vertex MLPs.

Letters: V vertices, F faces, C channels.

The net is intrinsic: it reads the shape only through its Laplacian (or eigenbasis), mass and tangent
gradient operators, so with intrinsic inputs (HKS, WKS) its outputs do not change under rigid motions,
and because heat diffusion converges under refinement they change little when the same surface is
triangulated differently. With ``xyz`` inputs it is as invariant as the inputs are.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import torch
from torch import nn

from ..errors import ConfigError
from .base import MeshNet, check_dropout
from .diffusion_block import DIFFUSION_METHODS, DiffusionBlock

__all__ = ["DiffusionNet"]


class DiffusionNet(MeshNet):
    """DiffusionNet on meshes and point clouds.

    ``y = net(x, ops)`` maps features ``x : (V, in_channels)`` (e.g. xyz or HKS) to
    ``(V, out_channels)`` per vertex, ``(F, out_channels)`` per face (mean of the face's vertices) or
    ``(out_channels,)`` globally (mass-weighted mean), according to ``outputs``. Lists of features and
    operators give lists of outputs (see :class:`MeshNet`).

    Parameters
    ----------
    in_channels : int
    out_channels : int
    width : int
        Channels inside the blocks. default: 128
    n_blocks : int
        Number of :class:`DiffusionBlock`. default: 4
    dropout : float
        Dropout inside each block's MLP (active in training mode only). default: 0.5
    outputs : {"vertices", "faces", "global", "global_max"}
        default: "vertices"
    diffusion : {"spectral", "implicit"}
        ``spectral`` uses the eigenbasis (operators ``spectral``); ``implicit`` a sparse solve with the
        Laplacian (operators ``laplacian``; slower, exact). default: "spectral"
    with_gradient_features : bool
        Use tangent gradients (operators ``gradients``). default: True
    last_activation : callable, optional
        Applied to the output, e.g. ``lambda y: torch.log_softmax(y, dim=-1)``. default: None
    device : torch.device or str, optional
        Where the parameters are created. default: None (torch's default device)

    Attributes
    ----------
    requires : frozenset of str
        The operator kinds this configuration reads; the class attribute is that of the defaults.

    Examples
    --------
    >>> import meshlearn
    >>> from meshlearn.testing import icosphere
    >>> net = DiffusionNet(3, 4, width=16, n_blocks=2)
    >>> spec = meshlearn.OperatorSpec.for_net(net, k=16)
    >>> ops = meshlearn.compute_operators(icosphere(1), spec).to("cpu")
    >>> net(ops.verts, ops).shape
    torch.Size([42, 4])
    """

    requires: ClassVar[frozenset[str]] = frozenset({"spectral", "gradients"})

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 128,
        n_blocks: int = 4,
        dropout: float = 0.5,
        outputs: str = "vertices",
        diffusion: str = "spectral",
        with_gradient_features: bool = True,
        last_activation: Callable[[torch.Tensor], torch.Tensor] | None = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("width", width), ("n_blocks", n_blocks)):
            if int(value) < 1:
                raise ConfigError(f"{name} must be a positive integer (got {value!r})")
        check_dropout(dropout)
        if diffusion not in DIFFUSION_METHODS:
            raise ConfigError(f"diffusion must be one of {', '.join(DIFFUSION_METHODS)} (got {diffusion!r})")
        self.set_io(in_channels, outputs, last_activation)
        self.out_channels = int(out_channels)
        kinds = {"spectral"} if diffusion == "spectral" else {"laplacian"}
        if with_gradient_features:
            kinds.add("gradients")
        self.requires = frozenset(kinds)  # type: ignore[misc]
        self.first = nn.Linear(in_channels, width)
        self.blocks = nn.ModuleList(
            DiffusionBlock(width, dropout=dropout, diffusion=diffusion, with_gradient_features=with_gradient_features)
            for _ in range(n_blocks)
        )
        self.last = nn.Linear(width, out_channels)
        if device is not None:
            self.to(device)

    def forward_one(self, x: torch.Tensor, ops: Any) -> torch.Tensor:
        h = self.first(x)
        for block in self.blocks:
            h = block(h, ops)
        return self.readout(self.last(h), ops)
