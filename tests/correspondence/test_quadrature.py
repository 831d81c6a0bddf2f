"""Soft maps on farthest-point quadrature: sums over a shape estimated from a few of its vertices,
and the coupling's functional maps computed that way in training."""

from __future__ import annotations

import pytest
import torch

from meshlearn.correspondence import DeepFunctionalMap, soft_fmap
from meshlearn.correspondence.quadrature import quadrature_points
from meshlearn.errors import ConfigError


class _Identity(torch.nn.Module):
    def forward(self, x, ops):
        return x


def test_weights_are_voronoi_masses(bumpy_pair):
    ops = bumpy_pair.a
    idx, w = quadrature_points(ops.verts, ops.mass, 100)
    assert idx.shape == w.shape == (100,) and len(set(idx.tolist())) == 100
    torch.testing.assert_close(w.sum(), ops.mass.sum())  # constants integrate exactly
    assert bool((w > 0).all())
    every, mass = quadrature_points(ops.verts, ops.mass, ops.mass.shape[0])
    assert every.tolist() == list(range(ops.mass.shape[0])) and mass is ops.mass


def test_quadrature_integrates_low_eigenfunctions(bumpy_pair):
    """Phi^T M Phi = I on the lowest 10 eigenfunctions, from 300 of the 642 vertices."""
    ops = bumpy_pair.a
    idx, w = quadrature_points(ops.verts, ops.mass, 300)
    phi = ops.evecs[idx, :10]
    gram = phi.T @ (w[:, None] * phi)
    assert float((gram - torch.eye(10, dtype=gram.dtype)).abs().max()) < 0.05


def test_soft_fmap_on_rows(bumpy_pair):
    a, b = bumpy_pair.a, bumpy_pair.b
    fa, fb = torch.nn.functional.normalize(a.wks, dim=1), torch.nn.functional.normalize(b.wks, dim=1)
    ea, eb = a.evecs[:, :12], b.evecs[:, :12]
    exact = soft_fmap(fa, fb, ea, eb, b.mass, tau=0.1)
    all_rows = torch.arange(b.mass.shape[0])
    torch.testing.assert_close(soft_fmap(fa, fb, ea, eb, b.mass, tau=0.1, rows=all_rows, weights=b.mass), exact)
    rows, w = quadrature_points(b.verts, b.mass, 320)
    approx = soft_fmap(fa, fb, ea, eb, b.mass, tau=0.1, rows=rows, weights=w)
    assert float((approx - exact).norm() / exact.norm()) < 0.1
    with pytest.raises(ConfigError, match="row softmax"):
        soft_fmap(fa, fb, ea, eb, b.mass, tau=0.1, sinkhorn=3, rows=rows, weights=w)
    with pytest.raises(ConfigError, match="weight each"):
        soft_fmap(fa, fb, ea, eb, b.mass, tau=0.1, rows=rows)


def test_model_uses_the_quadrature_in_training_only(bumpy_pair):
    a, b = bumpy_pair.a, bumpy_pair.b
    exact = DeepFunctionalMap(_Identity(), k=12)
    sampled = DeepFunctionalMap(_Identity(), k=12, soft_points=320)
    sampled.train()
    exact.train()
    m_exact, m_sampled = exact(a.wks, a, b.wks, b), sampled(a.wks, a, b.wks, b)
    torch.testing.assert_close(m_sampled.C_ab, m_exact.C_ab)  # the solver sees every vertex
    for soft in ("C_ab_soft", "C_ba_soft"):
        e, s = getattr(m_exact, soft), getattr(m_sampled, soft)
        assert 0.0 < float((s - e).norm() / e.norm()) < 0.1
    sampled.eval()
    torch.testing.assert_close(sampled(a.wks, a, b.wks, b).C_ab_soft, m_exact.C_ab_soft)
    sinkhorn = DeepFunctionalMap(_Identity(), k=12, soft_points=320, sinkhorn=3)
    exact_sinkhorn = DeepFunctionalMap(_Identity(), k=12, sinkhorn=3)
    torch.testing.assert_close(sinkhorn(a.wks, a, b.wks, b).C_ab_soft, exact_sinkhorn(a.wks, a, b.wks, b).C_ab_soft)
    with pytest.raises(ConfigError, match="soft_points"):
        DeepFunctionalMap(_Identity(), k=12, soft_points=-1)
