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
        Sweeps over the generators (the averaging method). default: 1
    method : {"auto", "average", "orbit"}
        "average" is the sweep above; "orbit" the exact projection onto ``{x : x[T] = s x}`` for
        any vertex maps, e.g. a reflection detected on a posed or remeshed shape, which is neither
        a permutation nor an involution (mean over the components of the graph joining each
        vertex to its images, see :func:`~meshlearn.geometry.approximate_action.orbit_projection`;
        weighted by ``mass`` when given). "auto" averages for involutive permutations and
        projects otherwise. default: "auto"

    Forward
    -------
    x : (V, C) features
    maps : (G, V) long tensor of vertex maps (or a list of (V,) tensors)
    mass : (V,) optional vertex weights of the orbit projection
    returns (V, C)
    """

    def __init__(self, anti_channels=(), sweeps: int = 1, method: str = "auto") -> None:
        super().__init__()
        if method not in ("auto", "average", "orbit"):
            raise ConfigError(f"SymmetryProjection method must be 'auto', 'average' or 'orbit' (got {method!r})")
        self.anti_channels = tuple(int(c) for c in anti_channels)
        self.sweeps = int(sweeps)
        self.method = method

    def forward(self, x: torch.Tensor, maps, mass: torch.Tensor | None = None) -> torch.Tensor:
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
        method = self.method
        if method == "auto":
            V = x.shape[0]
            ar = torch.arange(V, device=maps.device)
            involutive = all(bool((T[T] == ar).all()) for T in maps)
            method = "average" if involutive else "orbit"
        if method == "orbit":
            return self._orbit(x, maps, sign, mass)
        for _ in range(self.sweeps):
            for T in maps:
                x = 0.5 * (x + sign * x[T])
        return x

    @staticmethod
    def _orbit(x: torch.Tensor, maps: torch.Tensor, sign: torch.Tensor, mass: torch.Tensor | None) -> torch.Tensor:
        from ..geometry.approximate_action import orbit_labels

        V = x.shape[0]
        w = torch.ones(V, dtype=x.dtype, device=x.device) if mass is None else mass.to(x.device, x.dtype)
        T_np = maps.cpu().numpy()
        out = torch.empty_like(x)
        # one labelling per channel sign (+1 invariant, -1 anti-invariant)
        for s in (1.0, -1.0):
            cols = (sign == s).nonzero().flatten()
            if cols.numel() == 0:
                continue
            lab = torch.as_tensor(orbit_labels(list(T_np), [s] * len(T_np), V), device=x.device)
            n = int(lab.max()) + 1
            xc = x[:, cols] * w[:, None]
            num = torch.zeros(n, cols.numel(), dtype=x.dtype, device=x.device)
            num = num.index_add(0, lab[0], xc).index_add(0, lab[1], -xc)
            den = torch.zeros(n, dtype=x.dtype, device=x.device).index_add(0, lab[0], w).index_add(0, lab[1], w)
            out[:, cols] = (num / den[:, None])[lab[0]]
        return out
