"""ZoomOut turns a noisy map into the true one on a surface without symmetry."""

from __future__ import annotations

import pytest
import torch

from meshlearn.correspondence import fmap_to_pointwise, pointwise_to_fmap, zoomout, zoomout_from_pointwise
from meshlearn.errors import ConfigError


def _noisy(perm: torch.Tensor, verts_a: torch.Tensor, fraction: float, near: int, seed: int = 0) -> torch.Tensor:
    """``perm`` with ``fraction`` of its entries moved to one of the ``near`` nearest vertices of A."""
    g = torch.Generator().manual_seed(seed)
    knn = torch.cdist(verts_a, verts_a).topk(near + 1, largest=False).indices[:, 1:]  # (Va, near)
    T = perm.clone()
    moved = torch.rand(len(T), generator=g) < fraction
    pick = torch.randint(0, near, (len(T),), generator=g)
    T[moved] = knn[perm[moved], pick[moved]]
    return T


def _error(T: torch.Tensor, p) -> float:
    """Mean distance on A between the predicted and the true vertex (chords of a near-sphere)."""
    return float((p.a.verts[T] - p.a.verts[p.perm]).norm(dim=1).mean())


def test_zoomout_repairs_a_noisy_map(bumpy_pair):
    """90 % of the vertices sent to one of their 60 nearest neighbours; ZoomOut from 6 eigenpairs
    to 60 finds the exact map, which the 6-eigenpair map alone does not."""
    p = bumpy_pair
    k0 = 6
    T0 = _noisy(p.perm, p.a.verts, fraction=0.9, near=60)
    before = _error(T0, p)
    assert (T0 == p.perm).double().mean() < 0.2
    C, T = zoomout_from_pointwise(T0, p.a.evecs, p.b.evecs, p.b.mass, k0=k0, k_final=60, step=2, chunk=100)
    assert C.shape == (60, 60)
    assert _error(T, p) < 0.01 * before
    assert (T == p.perm).double().mean() > 0.99
    ea, eb = p.a.evecs[:, :k0], p.b.evecs[:, :k0]
    T_small = fmap_to_pointwise(pointwise_to_fmap(T0, ea, eb, p.b.mass), ea, eb)
    assert _error(T_small, p) > 0.1 * before


def test_zoomout_on_samples_repairs_a_noisy_map(bumpy_pair):
    """The same repair with the growing iterations between 400 farthest-point samples of each
    shape, then two iterations and the conversion between all 642 vertices; without those two the
    map is off by a fraction of the sample spacing (the true match of a sample of B is rarely a
    sample of A)."""
    from meshlearn.geometry.pooling import farthest_point_sampling

    p = bumpy_pair
    k0 = 6
    T0 = _noisy(p.perm, p.a.verts, fraction=0.9, near=60)
    before = _error(T0, p)
    points = tuple(torch.from_numpy(farthest_point_sampling(o.verts.numpy(), 400)) for o in (p.a, p.b))
    C0 = pointwise_to_fmap(T0, p.a.evecs[:, :k0], p.b.evecs[:, :k0], p.b.mass)
    C, T = zoomout(C0, p.a.evecs, p.b.evecs, p.b.mass, k_final=60, step=2, chunk=100, points=points)
    assert C.shape == (60, 60) and T.shape == (p.b.evecs.shape[0],)
    assert _error(T, p) < 0.01 * before
    assert (T == p.perm).double().mean() > 0.99
    _, T_sampled = zoomout(C0, p.a.evecs, p.b.evecs, p.b.mass, k_final=60, step=2, points=points, full_iterations=0)
    assert _error(T, p) < _error(T_sampled, p) < 0.05 * before
    with pytest.raises(ConfigError, match="ZoomOut on 50 sampled vertices of B cannot fit .* on 60"):
        zoomout(C0, p.a.evecs, p.b.evecs, p.b.mass, k_final=60, points=(points[0], points[1][:50]))


def test_zoomout_errors(bumpy_pair):
    p = bumpy_pair
    C = torch.eye(10, dtype=torch.float64)
    with pytest.raises(ConfigError, match="square"):
        zoomout(C[:, :5], p.a.evecs, p.b.evecs, p.b.mass, 20)
    with pytest.raises(ConfigError, match="eigenvectors"):
        zoomout(C, p.a.evecs, p.b.evecs, p.b.mass, 500)
    with pytest.raises(ConfigError, match="step"):
        zoomout(C, p.a.evecs, p.b.evecs, p.b.mass, 20, step=0)
