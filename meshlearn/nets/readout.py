"""Readouts: from per-vertex values to where a net's outputs live (vertices, faces, one global vector).

Letters: V vertices, F faces, C channels.

Conventions
-----------
* ``outputs="vertices"``: the per-vertex values ``(V, C)`` as they are.
* ``outputs="faces"``: a face's value is the plain mean of its three vertices' values ``(F, C)``.
* ``outputs="global"``: the area-weighted mean over vertices, ``sum_i m_i y_i / sum_i m_i`` with
  ``m`` the lumped mass (the vertex areas): an integral over the surface divided by its area, so
  it does not depend on how finely or how evenly the surface is sampled. ``(C,)``
* ``outputs="global_max"``: the channel-wise maximum over vertices ``(C,)``: invariant to the
  vertex order too, and to the sampling as long as every part of the surface is sampled.

Both global readouts are invariant to any permutation of the vertices. Shape classification
(DiffusionNet, MeshCNN, SubdivNet) reads per-vertex class logits out this way: one logit vector
per shape, trained with cross-entropy.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import ConfigError

__all__ = [
    "OUTPUTS",
    "READOUTS",
    "check_outputs",
    "global_outputs",
    "vertices_to_faces",
    "global_mean",
    "global_max",
    "pool_outputs",
    "GlobalReadout",
]

#: Where a net's outputs live.
OUTPUTS = ("vertices", "faces", "global", "global_max")
#: Global readouts by name -> the ``outputs`` value that selects them.
READOUTS = {"mean": "global", "max": "global_max"}


def check_outputs(outputs: str) -> str:
    """Validate an ``outputs`` option (one of :data:`OUTPUTS`); returns it."""
    if outputs not in OUTPUTS:
        raise ConfigError(f"outputs must be one of {', '.join(OUTPUTS)} (got {outputs!r})")
    return outputs


def global_outputs(readout: str) -> str:
    """The ``outputs`` value of a global readout named ``"mean"`` or ``"max"``."""
    if readout not in READOUTS:
        raise ConfigError(f"readout must be one of {', '.join(READOUTS)} (got {readout!r})")
    return READOUTS[readout]


def vertices_to_faces(y: torch.Tensor, faces: torch.Tensor | None) -> torch.Tensor:
    """Per-face values ``(F, C)`` as the mean of each face's vertex values ``y : (V, C)``;
    ``faces : (F, 3)`` int64."""
    if faces is None:
        raise ConfigError("per-face outputs need a mesh, but these operators have no faces (a point cloud?); "
                          "use outputs='vertices'")
    return y[faces.long()].mean(dim=1)


def global_mean(y: torch.Tensor, mass: torch.Tensor | None) -> torch.Tensor:
    """Area-weighted mean over vertices ``sum_i m_i y_i / sum_i m_i``: ``y : (V, C)``, ``mass :
    (V,)`` (None: the plain mean) -> ``(C,)``."""
    if mass is None:
        return y.mean(dim=0)
    w = mass.to(y.dtype)
    return (w[:, None] * y).sum(0) / w.sum()


def global_max(y: torch.Tensor) -> torch.Tensor:
    """Channel-wise maximum over vertices: ``y : (V, C)`` -> ``(C,)``."""
    return y.max(dim=0).values


def pool_outputs(y: torch.Tensor, ops: Any, outputs: str) -> torch.Tensor:
    """Per-vertex ``y : (V, C)`` to ``outputs``: (V, C), (F, C) or (C,) (see the module docstring)."""
    if outputs == "vertices":
        return y
    if outputs == "faces":
        return vertices_to_faces(y, ops.faces)
    if outputs == "global_max":
        return global_max(y)
    if outputs == "global":
        return global_mean(y, getattr(ops, "mass", None))
    raise ConfigError(f"outputs must be one of {', '.join(OUTPUTS)} (got {outputs!r})")


class GlobalReadout(nn.Module):
    """One vector per shape from per-vertex features: ``readout(y, ops)`` -> ``(C,)``.

    Parameters
    ----------
    readout : {"mean", "max"}
        Area-weighted mean (with ``ops.mass``) or channel-wise maximum. default: "mean"

    Examples
    --------
    >>> import torch
    >>> from types import SimpleNamespace
    >>> ops = SimpleNamespace(mass=torch.tensor([1.0, 3.0]))
    >>> GlobalReadout("mean")(torch.tensor([[0.0], [4.0]]), ops)
    tensor([3.])
    """

    def __init__(self, readout: str = "mean") -> None:
        super().__init__()
        self.outputs = global_outputs(readout)
        self.readout = readout

    def forward(self, y: torch.Tensor, ops: Any) -> torch.Tensor:
        return pool_outputs(y, ops, self.outputs)

    def extra_repr(self) -> str:
        return f"readout={self.readout!r}"
