"""The regular nonlinearity: exact equivariance on the sampling grid, measured error off it."""

import math

import pytest
import torch

from meshlearn.errors import ConfigError
from meshlearn.gauge import FeatureType, RegularNonlinearity, rotate, sampling_matrix


@pytest.mark.parametrize("L,N", [(1, 5), (2, 7), (2, 11), (3, 9)])
def test_exactly_equivariant_for_multiples_of_the_sampling_step(L, N):
    t = FeatureType.regular(6, L)
    act = RegularNonlinearity(t, N).double()
    x = torch.randn(40, t.dim, dtype=torch.float64)
    for j in range(N):
        g = torch.full((40,), 2 * math.pi * j / N, dtype=torch.float64)
        torch.testing.assert_close(act(rotate(x, -g, t)), rotate(act(x), -g, t), atol=1e-12, rtol=0)


def _relative_error(L, N, seed=0):
    t = FeatureType.regular(64, L)
    act = RegularNonlinearity(t, N).double()
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(200, t.dim, generator=gen, dtype=torch.float64)
    g = (torch.rand(200, generator=gen, dtype=torch.float64) * 2 - 1) * math.pi
    y, y_moved = act(x), act(rotate(x, -g, t))
    expected = rotate(y, -g, t)
    return float((y_moved - expected).norm() / expected.norm())


def test_approximately_equivariant_for_other_angles():
    # Measured relative errors (Frobenius norm over 200 x 64 random features, random angles):
    # L = 2: N = 5 -> 0.31, N = 7 -> 0.090, N = 15 -> 0.017, N = 31 -> 0.0037; the bounds below
    # leave margin. (L = 1, N = 5: 0.055; L = 3, N = 9: 0.16.)
    e7, e15, e31 = (_relative_error(2, n) for n in (7, 15, 31))
    assert e7 < 0.12 and e15 < 0.025 and e31 < 0.006
    assert e31 < e15 < e7  # more samples, less aliasing
    assert e7 > 1e-3  # not exact: band-limiting after ReLU loses information


def test_identity_activation_reconstructs_band_limited_functions():
    t = FeatureType.regular(3, 2)
    act = RegularNonlinearity(t, 5, activation=lambda s: s).double()  # N = 2 L + 1: exact DFT
    x = torch.randn(10, t.dim, dtype=torch.float64)
    torch.testing.assert_close(act(x), x, atol=1e-12, rtol=0)


def test_samples_are_the_function_values_and_relu_of_a_positive_function_is_identity():
    S = sampling_matrix(2, 7)
    coeffs = torch.tensor([0.5, 1.0, -2.0, 0.3, 0.7], dtype=torch.float64)
    phi = torch.arange(7, dtype=torch.float64) * 2 * math.pi / 7
    f = 0.5 + torch.cos(phi) - 2 * torch.sin(phi) + 0.3 * torch.cos(2 * phi) + 0.7 * torch.sin(2 * phi)
    torch.testing.assert_close(S @ coeffs, f)
    t = FeatureType.regular(1, 2)
    act = RegularNonlinearity(t, 7).double()
    positive = torch.tensor([[5.0, 1.0, -1.0, 0.5, 0.5]], dtype=torch.float64)
    torch.testing.assert_close(act(positive), positive, atol=1e-12, rtol=0)
    negative = -positive
    torch.testing.assert_close(act(negative), torch.zeros_like(negative), atol=1e-12, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_and_dtypes(dtype):
    t = FeatureType.regular(4, 2)
    act = RegularNonlinearity(t).to(dtype)
    assert act.n_samples == 7
    y = act(torch.randn(3, t.dim, dtype=dtype))
    assert y.shape == (3, 20) and y.dtype == dtype


def test_rejects_non_regular_types_and_too_few_samples():
    with pytest.raises(ConfigError, match="regular"):
        RegularNonlinearity(FeatureType((0, 2)))
    with pytest.raises(ConfigError, match="n_samples"):
        RegularNonlinearity(FeatureType.regular(2, 2), n_samples=4)
