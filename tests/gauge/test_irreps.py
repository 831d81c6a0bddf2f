"""SO(2) irreps and feature types: group laws and layout."""

import math

import numpy as np
import pytest
import torch

from meshlearn.errors import ConfigError
from meshlearn.gauge import FeatureType, irrep_dim, irrep_matrix, rotate
from meshlearn.gauge.irreps import irrep_matrix_np


@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_irrep_is_a_representation(order):
    g, h = torch.tensor([0.3, -2.0, 5.0], dtype=torch.float64), torch.tensor([1.1, 0.7, -4.0], dtype=torch.float64)
    Rg, Rh, Rgh = irrep_matrix(order, g), irrep_matrix(order, h), irrep_matrix(order, g + h)
    assert Rg.shape == (3, irrep_dim(order), irrep_dim(order))
    torch.testing.assert_close(Rg @ Rh, Rgh, atol=1e-12, rtol=0)
    torch.testing.assert_close(irrep_matrix(order, -g), Rg.transpose(-1, -2), atol=1e-12, rtol=0)
    # periodic with period 2 pi / order: rho_n(g + 2 pi / n) = rho_n(g)
    if order:
        torch.testing.assert_close(irrep_matrix(order, g + 2 * math.pi / order), Rg, atol=1e-12, rtol=0)
    np.testing.assert_allclose(irrep_matrix_np(order, g.numpy()), Rg.numpy(), atol=1e-14)


def test_order_one_is_the_rotation_matrix():
    R = irrep_matrix(1, torch.tensor(math.pi / 2, dtype=torch.float64))
    torch.testing.assert_close(R @ torch.tensor([1.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 1.0], dtype=torch.float64))


def test_feature_type_layout():
    t = FeatureType.regular(3, 2)
    assert t.dim == 15 and t.orders == (0, 0, 0, 1, 1, 1, 2, 2, 2) and t.is_regular
    assert t.multiplicities == {0: 3, 1: 3, 2: 3}
    assert t.blocks == ((0, 0, 3), (1, 3, 3), (2, 9, 3))
    # order-major: copy i of order 1 has its cos at 3 + i and its sin at 6 + i
    assert t.component_indices(1).tolist() == [3, 6, 4, 7, 5, 8]
    assert t.component_indices(5).numel() == 0
    assert t.scalar_mask.nonzero().flatten().tolist() == [0, 1, 2]
    u = FeatureType.from_multiplicities({1: 1, 0: 2})
    assert u.orders == (0, 0, 1) and u.dim == 4 and FeatureType.scalar(4).dim == 4 and not u.is_regular
    assert FeatureType((1, 0, 0)) == u and FeatureType(u) == u
    assert t == FeatureType({0: 3, 1: 3, 2: 3}) and t != u and len({t, FeatureType.regular(3, 2)}) == 1


def test_regular_layout_is_fourier_coefficients_by_channel():
    # x.view(2 L + 1, C): row j = the coefficient of [1, cos, sin, cos 2, sin 2][j]; rotating the
    # frame by g shifts each channel's function: f'(phi) = f(phi + g).
    t = FeatureType.regular(2, 2)
    x = torch.randn(t.dim, dtype=torch.float64)
    g = torch.tensor(0.7, dtype=torch.float64)
    phi = torch.linspace(0, 6, 9, dtype=torch.float64)
    modes = torch.stack([torch.ones_like(phi), phi.cos(), phi.sin(), (2 * phi).cos(), (2 * phi).sin()], 1)
    modes_shift = torch.stack(
        [torch.ones_like(phi), (phi + g).cos(), (phi + g).sin(), (2 * (phi + g)).cos(), (2 * (phi + g)).sin()], 1
    )
    f_shifted = modes_shift @ x.view(5, 2)
    f_new = modes @ rotate(x[None], -g[None], t)[0].view(5, 2)
    torch.testing.assert_close(f_new, f_shifted, atol=1e-12, rtol=0)


def test_feature_type_rejects_bad_input():
    with pytest.raises(ConfigError, match="non-negative"):
        FeatureType((0, -1))
    with pytest.raises(ConfigError, match="at least one"):
        FeatureType(())
    with pytest.raises(ConfigError, match="multiplicity"):
        FeatureType({1: -2})
    with pytest.raises(ConfigError, match="positive"):
        FeatureType.regular(0, 2)


@pytest.mark.parametrize("orders", [(0, 1, 2) * 4, (2, 0, 3, 1, 1), (0, 0), (1,), (4, 4, 2)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rotate_matches_block_diagonal_rho(orders, dtype):
    t = FeatureType(orders)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(10, t.dim, generator=gen, dtype=dtype)
    a = torch.randn(10, generator=gen, dtype=dtype) * 3
    expected = torch.einsum("eij,ej->ei", t.rho(a), x)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(rotate(x, a, t), expected, atol=tol, rtol=0)
    # the representation is orthogonal and block diagonal
    R = t.rho(a[0])
    torch.testing.assert_close(R @ R.T, torch.eye(t.dim, dtype=dtype), atol=tol, rtol=0)


def test_rotate_rejects_wrong_width():
    with pytest.raises(ConfigError, match="components"):
        rotate(torch.zeros(3, 4), torch.zeros(3), FeatureType.regular(1, 2))


@pytest.mark.parametrize("orders", [(0, 1, 2) * 2, (0, 0), (3,)])
def test_rotate_with_scale(orders):
    t = FeatureType(orders)
    x = torch.randn(6, t.dim, dtype=torch.float64)
    a, w = torch.randn(6, dtype=torch.float64), torch.rand(6, dtype=torch.float64)
    torch.testing.assert_close(rotate(x, a, t, scale=w), rotate(x, a, t) * w[:, None], atol=1e-13, rtol=0)
