"""MeshNet: the base class of every meshlearn network.

Every net maps per-vertex scalar features ``x : (V, C_in)`` and the shape's :class:`Operators`
(torch tensors, see ``Operators.to``) to per-vertex outputs ``(V, C_out)``::

    y = net(x, ops)

Batches of meshes of different sizes are passed as lists: ``net([x1, x2], [ops1, ops2])`` returns
``[y1, y2]``. A list rather than one concatenated graph because the spectral operators of
different shapes (eigenbases of different sizes) do not concatenate into one tensor without
block-diagonal padding, and per-shape calls keep peak memory at that of the largest shape.

Subclasses set ``requires`` (the operator kinds they read, see ``OperatorSpec``) and implement
``forward_one(x, ops)``. A subclass that calls :meth:`MeshNet.set_io` in its constructor gets the
input width checked before ``forward_one`` and ends ``forward_one`` with :meth:`MeshNet.readout`
(pooling to ``outputs``, then ``last_activation``). ``outputs`` is one of
:data:`meshlearn.nets.readout.OUTPUTS`: per vertex, per face, or one vector per shape
(``"global"``, the area-weighted mean; ``"global_max"``, the maximum) for classification.
"""

from __future__ import annotations

import abc
from typing import Any, Callable, ClassVar, Sequence

import torch
from torch import nn

from ..errors import ConfigError
from .readout import check_outputs, pool_outputs

__all__ = ["MeshNet", "check_depth", "check_dropout"]


def check_depth(n_layers: int, width: int) -> None:
    """Refuse a stack of no layers or of no channels (ConfigError)."""
    if n_layers < 1 or width < 1:
        raise ConfigError(f"n_layers and width must be positive (got {n_layers}, {width})")


def check_dropout(dropout: float) -> None:
    """Refuse a dropout probability outside [0, 1) (ConfigError)."""
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1) (got {dropout!r})")


class MeshNet(nn.Module, abc.ABC):
    """Base class: list dispatch and input checks shared by every net (abstract: subclasses
    implement :meth:`forward_one`)."""

    requires: ClassVar[frozenset[str]] = frozenset()

    def forward(self, x: Any, ops: Any) -> Any:
        if isinstance(x, (list, tuple)):
            if not isinstance(ops, (list, tuple)) or len(ops) != len(x):
                raise ConfigError(
                    f"a batch of {len(x)} feature tensors needs a list of as many Operators (got {type(ops).__name__})"
                )
            return [self.forward(xi, oi) for xi, oi in zip(x, ops)]
        self._check(x, ops)
        return self.forward_one(x, ops)

    @abc.abstractmethod
    def forward_one(self, x: torch.Tensor, ops: Any) -> torch.Tensor:
        """One shape: features ``x`` (V, C_in) and its torch Operators -> outputs."""

    def set_io(
        self, in_channels: int, outputs: str, last_activation: Callable[[torch.Tensor], torch.Tensor] | None
    ) -> None:
        """Record the input width (checked on every call), where outputs live and the final activation."""
        self.in_channels = int(in_channels)
        self.outputs = check_outputs(outputs)
        self.last_activation = last_activation

    def readout(self, y: torch.Tensor, ops: Any) -> torch.Tensor:
        """Per-vertex ``y : (V, C)`` pooled to ``self.outputs``, then ``self.last_activation`` if set."""
        y = pool_outputs(y, ops, self.outputs)
        return self.last_activation(y) if self.last_activation is not None else y

    def _check(self, x: torch.Tensor, ops: Any) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 2:
            raise ConfigError(f"expected features of shape (V, C) as a torch tensor (got {getattr(x, 'shape', type(x))})")
        n = ops.verts.shape[0]
        if x.shape[0] != n:
            raise ConfigError(f"features have {x.shape[0]} rows but the shape has {n} vertices")
        missing = [k for k in self._required_fields() if getattr(ops, k, None) is None]
        if missing:
            raise ConfigError(
                f"{type(self).__name__} needs operators {sorted(self.requires)}; missing fields {missing}: "
                f"compute them with OperatorSpec.for_net({type(self).__name__})"
            )
        n_in = getattr(self, "in_channels", None)
        if n_in is not None and x.shape[1] != n_in:
            raise ConfigError(f"{type(self).__name__} was built for {n_in} input channels (got {x.shape[1]})")

    def _required_fields(self) -> Sequence[str]:
        fields = {
            "laplacian": ("L", "mass"),
            "spectral": ("evals", "evecs", "mass"),
            "gradients": ("grad_x", "grad_y"),
            "gauge": ("gauge",),
            "patches": ("patches",),
            "hks": ("hks",),
        }
        out: list[str] = []
        for kind in self.requires:
            out.extend(fields.get(kind, ()))
        return out
