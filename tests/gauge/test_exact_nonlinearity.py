"""Norm and gated nonlinearities: exact gauge equivariance, values, and the blocks built with them."""

import math

import pytest
import torch

from meshlearn.errors import ConfigError
from meshlearn.gauge import (
    FeatureType,
    GatedNonlinearity,
    NormNonlinearity,
    gated_type,
    make_nonlinearity,
    rotate,
)
from meshlearn.gauge.testing import assert_gauge_equivariant, synthetic_gauge
from meshlearn.nets.gem import GemResBlock

TYPES = [FeatureType.regular(6, 2), FeatureType({0: 2, 1: 3, 3: 1}), FeatureType({2: 4})]


@pytest.mark.parametrize("ftype", TYPES, ids=str)
def test_norm_nonlinearity_is_exactly_equivariant(ftype):
    act = NormNonlinearity(ftype).double()
    with torch.no_grad():
        act.bias.normal_(0.0, 0.5)  # a threshold: some copies vanish, the others shrink
    x = torch.randn(50, ftype.dim, dtype=torch.float64)
    err = assert_gauge_equivariant(lambda x, g: act(x), x, synthetic_gauge(50), ftype, ftype, tol=1e-12)
    assert err < 1e-12


@pytest.mark.parametrize("ftype", TYPES, ids=str)
def test_gated_nonlinearity_is_exactly_equivariant(ftype):
    act = GatedNonlinearity(ftype).double()
    x = torch.randn(50, act.in_type.dim, dtype=torch.float64)
    assert_gauge_equivariant(lambda x, g: act(x), x, synthetic_gauge(50), act.in_type, ftype, tol=1e-12)


def test_norm_nonlinearity_values():
    t = FeatureType({0: 1, 1: 1, 2: 1})  # layout: s, (a1, b1), (a2, b2)
    act = NormNonlinearity(t).double()
    with torch.no_grad():
        act.bias.copy_(torch.tensor([-1.0, -10.0]))
    x = torch.tensor([[-2.0, 3.0, 4.0, 1.0, 1.0]], dtype=torch.float64)
    # scalar: relu(-2) = 0; order 1: norm 5 -> scaled by (5 - 1) / 5; order 2: norm sqrt 2 < 10 -> 0
    expected = torch.tensor([[0.0, 3.0 * 0.8, 4.0 * 0.8, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(act(x), expected, atol=1e-9, rtol=0)
    zero_bias = NormNonlinearity(t).double()  # bias 0: the identity on non-scalars
    torch.testing.assert_close(zero_bias(x)[:, 1:], x[:, 1:], atol=1e-9, rtol=0)
    # finite gradient at a zero vector
    z = torch.zeros(1, 5, dtype=torch.float64, requires_grad=True)
    zero_bias(z).sum().backward()
    assert bool(torch.isfinite(z.grad).all())


def test_gated_nonlinearity_values_and_layout():
    t = FeatureType({0: 2, 1: 1, 2: 1})
    gt = gated_type(t)
    assert gt == FeatureType({0: 4, 1: 1, 2: 1})  # two gates after the two scalars
    act = GatedNonlinearity(t).double()
    x = torch.tensor([[1.0, -1.0, 0.0, math.log(3.0), 2.0, 3.0, 4.0, 5.0]], dtype=torch.float64)
    out = act(x)
    expected = torch.tensor([[1.0, 0.0, 2.0 * 0.5, 3.0 * 0.5, 4.0 * 0.75, 5.0 * 0.75]], dtype=torch.float64)
    torch.testing.assert_close(out, expected, atol=1e-12, rtol=0)
    assert gated_type(FeatureType.scalar(3)) == FeatureType.scalar(3)


@pytest.mark.parametrize("kind", ["norm", "gated"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_blocks_with_exact_nonlinearities_are_exactly_equivariant(kind, dtype):
    reg = FeatureType.regular(4, 2)
    block = GemResBlock(FeatureType.scalar(3), reg, reg, nonlinearity=kind).to(dtype)
    x = torch.randn(30, 3, dtype=dtype)
    gauge = synthetic_gauge(30, degree=5, seed=1, dtype=dtype)
    w = torch.full((150,), 0.2, dtype=dtype)
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    assert_gauge_equivariant(lambda x, g: block(x, g, w), x, gauge, FeatureType.scalar(3), reg, tol=tol)
    mid = GemResBlock(reg, reg, FeatureType.scalar(4), nonlinearity=kind).to(dtype)
    xr = torch.randn(30, reg.dim, dtype=dtype)
    assert_gauge_equivariant(lambda x, g: mid(x, g, w), xr, gauge, reg, FeatureType.scalar(4), tol=tol)


def test_regular_block_is_not_exactly_equivariant():
    # the contrast: the same block with the regular nonlinearity (N = 7) misses by about 1e-2
    reg = FeatureType.regular(4, 2)
    block = GemResBlock(FeatureType.scalar(3), reg, reg, 7).double()
    x = torch.randn(30, 3, dtype=torch.float64)
    w = torch.full((150,), 0.2, dtype=torch.float64)
    with pytest.raises(AssertionError, match="not gauge equivariant"):
        assert_gauge_equivariant(lambda x, g: block(x, g, w), x, synthetic_gauge(30, 5, 1), FeatureType.scalar(3), reg, tol=1e-6)


def test_make_nonlinearity_and_bad_input():
    t = FeatureType.regular(2, 1)
    assert make_nonlinearity("regular", t, 5).in_type == t
    assert make_nonlinearity("norm", t).in_type == t
    assert make_nonlinearity("gated", t).in_type == gated_type(t)
    with pytest.raises(ConfigError, match="nonlinearity must be one of"):
        make_nonlinearity("relu", t)
    with pytest.raises(ConfigError, match="components"):
        NormNonlinearity(t)(torch.zeros(2, t.dim + 1))
    with pytest.raises(ConfigError, match="gated type"):
        GatedNonlinearity(t)(torch.zeros(2, t.dim))
    y = rotate(torch.zeros(1, t.dim), torch.zeros(1), t)
    assert y.shape == (1, t.dim)
