"""Equivariant kernel bases: the constraint, the paper's basis sizes, completeness, band limits."""

import math

import numpy as np
import pytest
import torch

from meshlearn.gauge import FeatureType, NeighbourKernel, SelfKernel, neighbour_basis, self_basis
from meshlearn.gauge.irreps import irrep_matrix

PAIRS = [(m, n) for m in range(4) for n in range(4)]


def _angles(n, seed):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1) * 4 * math.pi


def _expected_neighbour_size(m, n):
    # de Haan et al. (2021), Table 1: 1 for (0, 0); 2 when one order is 0; 4 otherwise.
    if m == 0 and n == 0:
        return 1
    return 2 if m == 0 or n == 0 else 4


@pytest.mark.parametrize("m,n", PAIRS)
def test_neighbour_basis_satisfies_constraint(m, n):
    basis = neighbour_basis(m, n)
    assert len(basis) == _expected_neighbour_size(m, n)
    theta, g = _angles(50, 1), _angles(50, 2)
    lhs = basis.evaluate(theta - g)  # (50, B, dm, dn)
    rhs = irrep_matrix(m, -g)[:, None] @ basis.evaluate(theta) @ irrep_matrix(n, g)[:, None]
    assert float((lhs - rhs).abs().max()) < 1e-6
    # the frequencies are those of the paper's table
    expected = {0} if m == n == 0 else ({m + n} if m == 0 or n == 0 else {abs(m - n), m + n})
    assert set(basis.freq.tolist()) == expected


@pytest.mark.parametrize("m,n", PAIRS)
def test_neighbour_basis_is_complete_and_independent(m, n):
    # An equivariant kernel is fixed by K(0) (K(theta) = rho_m(theta) K(0) rho_n(-theta)), and any
    # K(0) gives one; so a complete basis has K_b(0) spanning all d_m x d_n matrices.
    basis = neighbour_basis(m, n)
    at_zero = basis.cos_coef.reshape(len(basis), -1)
    assert np.linalg.matrix_rank(at_zero, tol=1e-8) == at_zero.shape[1] == len(basis)


@pytest.mark.parametrize("m,n", PAIRS)
def test_self_basis(m, n):
    basis = self_basis(m, n)
    # 1 for (0, 0); identity and 90-degree rotation for (n, n), n >= 1; nothing between different orders
    assert len(basis) == (1 if m == n == 0 else 2 if m == n else 0)
    g = _angles(30, 3)
    K = torch.as_tensor(basis.cos_coef)
    lhs = irrep_matrix(m, -g)[:, None] @ K @ irrep_matrix(n, g)[:, None]
    assert bool((lhs - K).abs().le(1e-6).all())  # vacuous (and true) for an empty basis
    if m == n and m > 0:  # they span exactly the matrices commuting with rotations: a I + b J
        J = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)
        for Kb in K:
            torch.testing.assert_close(Kb @ J, J @ Kb, atol=1e-12, rtol=0)


def test_band_limit_drops_high_frequencies():
    b = neighbour_basis(2, 1, band_limit=2)
    assert b.freq.tolist() == [1, 1]
    assert len(neighbour_basis(0, 2, band_limit=1)) == 0


TYPE_PAIRS = [
    (FeatureType.scalar(2), FeatureType.regular(2, 2)),
    (FeatureType.regular(2, 2), FeatureType.regular(3, 2)),
    (FeatureType((1, 3, 0)), FeatureType((2, 0, 1, 1))),
    (FeatureType.regular(2, 2), FeatureType.scalar(3)),
]


@pytest.mark.parametrize("in_type,out_type", TYPE_PAIRS)
def test_learned_kernels_satisfy_constraints(in_type, out_type):
    K = NeighbourKernel(in_type, out_type).double()
    Ks = SelfKernel(in_type, out_type).double()
    theta, g = _angles(20, 4), _angles(20, 5)
    with torch.no_grad():
        lhs = K(theta - g)
        rhs = out_type.rho(-g) @ K(theta) @ in_type.rho(g)
        assert lhs.shape == (20, out_type.dim, in_type.dim)
        assert float((lhs - rhs).abs().max()) < 1e-6
        # fixed by K(0)
        torch.testing.assert_close(K(theta), out_type.rho(theta) @ K.at_zero() @ in_type.rho(-theta), atol=1e-12, rtol=0)
        S = Ks()
        assert float((out_type.rho(-g) @ S @ in_type.rho(g) - S).abs().max()) < 1e-6
    # one coefficient per (output irrep, input irrep, basis kernel)
    expected = sum(len(neighbour_basis(m, n)) for m in out_type.orders for n in in_type.orders)
    assert K.n_basis == expected


def test_kernel_init_is_seeded_and_scaled():
    t = FeatureType.regular(8, 2)
    a, b = NeighbourKernel(t, t), NeighbourKernel(t, t)
    gen1, gen2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a.reset_parameters(gen1), b.reset_parameters(gen2)
    torch.testing.assert_close(a.at_zero(), b.at_zero())
    var = float(a.at_zero().detach().var()) * t.dim  # ~ 1 by construction
    assert 0.5 < var < 2.0
