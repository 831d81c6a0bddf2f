"""Quadrature on a subset of vertices: sums over a shape's vertices estimated from a few of them.

The coupling term of the unsupervised loss needs the functional map of a soft pointwise map,
``evecs_b^T M_b (Pi evecs_a)``: a mass-weighted sum over every vertex of B of rows of the soft
map, each a softmax over every vertex of A. Those rows are most of a training step's cost
(about three quarters at 5k vertices). The sum is an integral over B of a product of smooth
functions (eigenfunctions, and eigenfunctions of A pulled back through a soft map), so a
quadrature on n well-spread points estimates it: farthest-point samples, each weighted by the
mass of the vertices nearest to it (its Voronoi cell), the weights summing to the area. Unlike a
random sample the points are the same at every step and cover the surface evenly, so the loss
gains no noise, only a small, fixed quadrature error.

Letters: V vertices, n points.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError
from ..geometry.pooling import farthest_point_sampling

__all__ = ["quadrature_points"]


def quadrature_points(verts: torch.Tensor, mass: torch.Tensor, n: int, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """``(idx (n,) int64, weights (n,))``: n farthest-point samples of ``verts`` (V, 3) and the mass
    of each one's Voronoi cell (every vertex counted at its nearest sample, in Euclidean distance),
    on ``mass``'s device and in its dtype; all V vertices, weighted by ``mass``, when n >= V.

    ``sum_i weights[i] f(verts[idx[i]])`` estimates ``sum_v mass[v] f(verts[v])``, exactly for
    constant f.
    """
    n = int(n)
    if n < 1:
        raise ConfigError(f"the number of quadrature points must be positive (got {n})")
    V = int(verts.shape[0])
    if mass.shape != (V,):
        raise ConfigError(f"expected a mass per vertex ({V}), got shape {tuple(mass.shape)}")
    if n >= V:
        return torch.arange(V, device=mass.device), mass
    points = verts.detach().to("cpu", torch.float64)
    idx = torch.from_numpy(farthest_point_sampling(points.numpy(), n))
    samples = points[idx]
    nearest = torch.cat([torch.cdist(points[s : s + chunk], samples).argmin(1) for s in range(0, V, chunk)])
    weights = torch.zeros(n, dtype=torch.float64).index_add_(0, nearest, mass.detach().to("cpu", torch.float64))
    return idx.to(mass.device), weights.to(device=mass.device, dtype=mass.dtype)
