"""SymmetryProjection: project per-vertex network features onto (anti-)invariant functions.

Letters: V vertices, C channels, G generators.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError

__all__ = ["SymmetryProjection"]


class SymmetryProjection(nn.Module):
    """Exact projection of per-vertex features onto the functions fixed by a symmetry group.

    For each generator ``T`` (a vertex permutation) and channel sign ``s`` (+1 invariant, -1
    anti-invariant) the features are averaged ``x <- (x + s x[T]) / 2``, sweeping over the
    generators. For commuting generators (independent reflections) one sweep is the exact group
    average (the Reynolds operator), at a cost linear in the number of generators; otherwise
    ``sweeps`` sweeps approach it (alternating projections).

    Parameters
    ----------
    anti_channels : sequence of int, optional
        Channels projected onto anti-invariant functions (``x[T] = -x``), e.g. a left-right
        indicator under a left-right reflection. default: none
    sweeps : int
        Sweeps over the generators. default: 1

    Forward
    -------
    x : (V, C) features
    maps : (G, V) long tensor of vertex permutations (or a list of (V,) tensors)
    returns (V, C)
    """

    def __init__(self, anti_channels=(), sweeps: int = 1) -> None:
        super().__init__()
        self.anti_channels = tuple(int(c) for c in anti_channels)
        self.sweeps = int(sweeps)

    def forward(self, x: torch.Tensor, maps) -> torch.Tensor:
        if isinstance(maps, (list, tuple)):
            maps = torch.stack([torch.as_tensor(m) for m in maps]) if len(maps) else torch.zeros(0, x.shape[0])
        maps = maps.to(device=x.device, dtype=torch.long)
        if maps.dim() != 2 or maps.shape[1] != x.shape[0]:
            raise ConfigError(f"maps must be (G, V) with V = {x.shape[0]} (got {tuple(maps.shape)})")
        sign = torch.ones(x.shape[1], dtype=x.dtype, device=x.device)
        if self.anti_channels:
            if max(self.anti_channels) >= x.shape[1]:
                raise ConfigError(f"anti channel {max(self.anti_channels)} out of range for {x.shape[1]} channels")
            sign[list(self.anti_channels)] = -1
        for _ in range(self.sweeps):
            for T in maps:
                x = 0.5 * (x + sign * x[T])
        return x
