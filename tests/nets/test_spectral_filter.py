"""Learned spectral filters: the B-spline basis is a partition of unity, and an eigenvector passes
through a filter scaled by the filter's value at its eigenvalue."""

from __future__ import annotations

import pytest
import torch

import meshlearn
from meshlearn.errors import ConfigError
from meshlearn.nets import SpectralFilterConv, SpectralFilterNet
from meshlearn.nets.spectral_filter import cubic_bspline_basis
from meshlearn.testing import bumpy_sphere, random_rigid_motion, sphere_points

def _ops(shape, kinds=frozenset({"spectral"}), k=24, dtype=torch.float32):
    spec = meshlearn.OperatorSpec(operators=kinds, k=k, dtype="float64" if dtype == torch.float64 else "float32")
    return meshlearn.compute_operators(shape, spec).to("cpu", dtype)


@pytest.mark.parametrize("n_basis", [4, 7, 12])
def test_bspline_basis_is_a_smooth_partition_of_unity(n_basis):
    u = torch.linspace(0, 1, 1001, dtype=torch.float64)
    B = cubic_bspline_basis(u, n_basis)
    assert B.shape == (1001, n_basis)
    assert torch.allclose(B.sum(1), torch.ones_like(u), atol=1e-12)
    assert (B >= 0).all()
    # C^2: second differences stay small everywhere (no kinks)
    d2 = (B[2:] - 2 * B[1:-1] + B[:-2]) / (u[1] - u[0]) ** 2
    assert d2.abs().max() < 10 * (n_basis - 3) ** 2


def test_eigenvectors_are_scaled_by_the_filter_response():
    ops = _ops(bumpy_sphere(2), dtype=torch.float64)
    K = ops.evecs.shape[1]
    conv = SpectralFilterConv(K, K, n_basis=6).double()
    with torch.no_grad():
        conv.linear.weight.copy_(torch.eye(K, dtype=torch.float64))
        conv.linear.bias.zero_()
        conv.coeffs.copy_(torch.randn(K, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    y = conv(ops.evecs, ops)  # channel c carries eigenvector c
    h = conv.response(ops.evals)  # (K, C): filter of channel c at eigenvalue k
    expected = ops.evecs * torch.diagonal(h)[None, :]
    assert torch.allclose(y, expected, atol=1e-9)


def test_net_shapes_gradients_and_rigid_motion():
    shape = bumpy_sphere(2, amplitude=0.15)
    kinds = meshlearn.OperatorSpec.for_net(SpectralFilterNet, inputs="hks").operators
    a, b = _ops(shape, kinds), _ops(random_rigid_motion(shape, seed=1), kinds)
    net = SpectralFilterNet(a.hks.shape[1], 3, width=16, n_layers=2)
    ya = net(a.hks, a)
    assert ya.shape == (a.n_verts, 3)
    ya.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())
    with torch.no_grad():
        yb = net(b.hks, b)
    assert (ya.detach() - yb).abs().max() <= 1e-3 * ya.abs().max()
    cloud = _ops(sphere_points(200))
    assert net.eval()(cloud.verts[:, :1].repeat(1, a.hks.shape[1]), cloud).shape == (200, 3)


def test_bad_input():
    with pytest.raises(ConfigError, match="at least 4"):
        cubic_bspline_basis(torch.zeros(3), 3)
    with pytest.raises(ConfigError, match="n_basis"):
        SpectralFilterConv(2, 2, n_basis=2)
    with pytest.raises(ConfigError, match="n_layers and width"):
        SpectralFilterNet(2, 2, n_layers=0)
    with pytest.raises(ConfigError, match="dropout"):
        SpectralFilterNet(2, 2, dropout=1.0)
    a = _ops(bumpy_sphere(1))
    with pytest.raises(ConfigError, match="built for 2 input channels"):
        SpectralFilterNet(2, 2, width=4, n_layers=1)(a.verts, a)
    assert SpectralFilterNet.requires == {"spectral"} and SpectralFilterConv.requires == {"spectral"}
