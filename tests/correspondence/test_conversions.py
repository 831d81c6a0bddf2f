"""Pointwise <-> functional maps and soft maps: the blocked computations equal the dense formulas."""

from __future__ import annotations

import pytest
import torch

from meshlearn.correspondence import (
    dense_soft_map,
    fmap_from_correspondences,
    match_descriptors,
    nearest_neighbors,
    pointwise_to_fmap,
    sinkhorn_potentials,
    soft_fmap,
    soft_map_log_likelihood,
    soft_map_product,
)
from meshlearn.errors import ConfigError


def _feats(Va=37, Vb=29, D=5, X=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    fa = torch.nn.functional.normalize(torch.randn(Va, D, generator=g, dtype=torch.float64), dim=1)
    fb = torch.nn.functional.normalize(torch.randn(Vb, D, generator=g, dtype=torch.float64), dim=1)
    return fa, fb, torch.randn(Va, X, generator=g, dtype=torch.float64)


def test_dense_soft_map_is_a_row_softmax():
    fa, fb, _ = _feats()
    P = dense_soft_map(fa, fb, tau=0.2)
    S = fb @ fa.T / 0.2
    assert torch.allclose(P, torch.exp(S) / torch.exp(S).sum(1, keepdim=True), atol=1e-14)


@pytest.mark.parametrize("chunk", [1, 7, 1000])
@pytest.mark.parametrize("sinkhorn", [0, 5])
def test_chunked_product_equals_dense(chunk, sinkhorn):
    fa, fb, X = _feats()
    dense = dense_soft_map(fa, fb, tau=0.1, sinkhorn=sinkhorn) @ X
    got = soft_map_product(fa, fb, X, tau=0.1, sinkhorn=sinkhorn, chunk=chunk)
    assert torch.allclose(got, dense, atol=1e-13)


def test_chunked_gradients_equal_dense():
    """Checkpointed blocks give the gradients of the dense formula."""
    fa, fb, X = _feats()
    W = torch.randn(fb.shape[0], X.shape[1], dtype=torch.float64)
    grads = []
    for f in (lambda a, b, x: dense_soft_map(a, b, 0.1) @ x, lambda a, b, x: soft_map_product(a, b, x, 0.1, chunk=6)):
        a, b, x = (t.clone().requires_grad_(True) for t in (fa, fb, X))
        (f(a, b, x) * W).sum().backward()
        grads.append((a.grad, b.grad, x.grad))
    for g_dense, g_chunk in zip(*grads):
        assert torch.allclose(g_dense, g_chunk, atol=1e-12)


def test_gradcheck_soft_product():
    fa, fb, X = _feats(Va=6, Vb=5, D=3, X=2)
    args = tuple(t.requires_grad_(True) for t in (fa, fb, X))
    assert torch.autograd.gradcheck(lambda a, b, x: soft_map_product(a, b, x, 0.3, chunk=2), args)


def test_sinkhorn_balances_rows_and_columns():
    fa, fb, _ = _feats(Va=30, Vb=30)
    P = dense_soft_map(fa, fb, tau=0.1, sinkhorn=200)
    assert torch.allclose(P.sum(1), torch.ones(30, dtype=P.dtype), atol=1e-12)
    assert torch.allclose(P.sum(0), torch.ones(30, dtype=P.dtype), atol=1e-6)
    f, g = sinkhorn_potentials(fa, fb, 0.1, n_iter=200, chunk=4)
    assert torch.allclose(torch.exp(fb @ fa.T / 0.1 + f[:, None] + g[None, :]), P, atol=1e-12)


def test_soft_fmap_and_log_likelihood_equal_dense():
    fa, fb, _ = _feats()
    ea = torch.randn(fa.shape[0], 6, dtype=torch.float64)
    eb = torch.randn(fb.shape[0], 5, dtype=torch.float64)
    mb = torch.rand(fb.shape[0], dtype=torch.float64)
    P = dense_soft_map(fa, fb, tau=0.1)
    assert torch.allclose(soft_fmap(fa, fb, ea, eb, mb, 0.1, chunk=4), eb.T @ (mb[:, None] * (P @ ea)), atol=1e-13)
    T = torch.randint(0, fa.shape[0], (fb.shape[0],))
    ll = soft_map_log_likelihood(fa, fb, T, 0.1, chunk=3)
    assert torch.allclose(ll, torch.log(P[torch.arange(fb.shape[0]), T]), atol=1e-12)


def test_cold_soft_map_is_the_nearest_neighbour_map():
    fa, fb, X = _feats()
    T = nearest_neighbors(fa, fb, chunk=4)
    assert torch.allclose(soft_map_product(fa, fb, X, tau=1e-5), X[T], atol=1e-8)


def test_nearest_neighbors_is_brute_force():
    fa, fb, _ = _feats(D=3)
    assert torch.equal(nearest_neighbors(fa, fb, chunk=5), torch.cdist(fb, fa).argmin(1))
    assert torch.equal(match_descriptors(fa, fb), torch.cdist(fb, fa).argmin(1))


def test_fmap_from_correspondences(bumpy_pair):
    """From every vertex's correspondence, the least-squares map is the pointwise map's."""
    p, k = bumpy_pair, 20
    ea, eb = p.a.evecs[:, :k], p.b.evecs[:, :k]
    C = pointwise_to_fmap(p.perm, ea, eb, p.b.mass)
    C_ls = fmap_from_correspondences(p.perm, torch.arange(len(p.perm)), ea, eb)
    assert torch.allclose(C, C_ls, atol=1e-10)
    # a sparse subset (every fourth vertex of B) still pins the low-frequency map down
    sub = torch.arange(0, len(p.perm), 4)
    assert (fmap_from_correspondences(p.perm[sub], sub, ea, eb) - C).abs().max() < 0.05


def test_errors():
    fa, fb, X = _feats()
    with pytest.raises(ConfigError, match="temperature"):
        soft_map_product(fa, fb, X, tau=0.0)
    with pytest.raises(ConfigError, match="same D"):
        soft_map_product(fa, fb[:, :3], X)
    with pytest.raises(ConfigError, match="chunk"):
        nearest_neighbors(fa, fb, chunk=0)
    with pytest.raises(ConfigError, match="cannot determine"):
        fmap_from_correspondences(torch.arange(3), torch.arange(3), X, X)
