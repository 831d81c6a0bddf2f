"""MeshNet: the base class of every meshlearn network.

Every net maps per-vertex scalar features ``x : (V, C_in)`` and the shape's :class:`Operators`
(torch tensors, see ``Operators.to``) to per-vertex outputs ``(V, C_out)``::

    y = net(x, ops)

Batches of meshes of different sizes are passed as lists: ``net([x1, x2], [ops1, ops2])`` returns
``[y1, y2]``. A list rather than one concatenated graph because the spectral operators of
different shapes (eigenbases of different sizes) do not concatenate into one tensor without
block-diagonal padding, and per-shape calls keep peak memory at that of the largest shape.

Subclasses set ``requires`` (the operator kinds they read, see ``OperatorSpec``) and implement
``forward_one(x, ops)``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import torch
from torch import nn

from ..errors import ConfigError

__all__ = ["MeshNet"]


class MeshNet(nn.Module):
    """Base class: list dispatch and input checks shared by every net."""

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

    def forward_one(self, x: torch.Tensor, ops: Any) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

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
