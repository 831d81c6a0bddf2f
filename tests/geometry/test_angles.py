"""wrap_angle: one convention, (-pi, pi], for numpy arrays and torch tensors alike."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from meshlearn.gauge import wrap_angle as gauge_wrap_angle
from meshlearn.geometry.angles import wrap_angle
from meshlearn.geometry.transport import wrap_angle as transport_wrap_angle

# odd multiples of pi, their float neighbours, zero, and large angles of both signs
EDGES = np.array(
    [-3 * np.pi, -np.pi, np.nextafter(-np.pi, 0), np.nextafter(np.pi, 4), np.pi, 3 * np.pi, 0.0, -0.0, 1e-300,
     -1e-17, 7.0, -7.0, 1e3, -1e3, 12345.678]
)


def _angles() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([EDGES, rng.uniform(-50, 50, 2000), np.pi * rng.integers(-20, 20, 200)])


def test_the_gauge_and_the_geometry_share_one_function():
    assert gauge_wrap_angle is wrap_angle and transport_wrap_angle is wrap_angle


def test_numpy_range_and_congruence():
    a = _angles()
    w = wrap_angle(a)
    assert w.dtype == np.float64 and w.shape == a.shape
    assert np.all(w > -np.pi) and np.all(w <= np.pi)
    # the same angle: a - w is a whole number of turns (to rounding of the large inputs)
    turns = (a - w) / (2 * np.pi)
    np.testing.assert_allclose(turns, np.round(turns), atol=1e-12 * max(1.0, np.abs(a).max()))
    # inside the range an angle moves by rounding only (of the shift by pi); -pi goes to pi
    inside = (a > -np.pi) & (a <= np.pi)
    np.testing.assert_allclose(w[inside], a[inside], rtol=0, atol=4 * np.finfo(np.float64).eps)
    assert wrap_angle(-np.pi) == np.pi and wrap_angle(np.pi) == np.pi and wrap_angle(3 * np.pi) == np.pi


def test_lists_and_scalars_become_float64_arrays():
    w = wrap_angle([0, 4, -4])
    np.testing.assert_allclose(w, [0.0, 4 - 2 * np.pi, 2 * np.pi - 4], rtol=0, atol=1e-15)
    assert wrap_angle(5).shape == ()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_range_dtype_and_agreement_with_numpy(dtype):
    a = _angles()
    t = torch.as_tensor(a, dtype=dtype)
    w = wrap_angle(t)
    assert isinstance(w, torch.Tensor) and w.dtype == dtype and w.shape == t.shape
    pi = torch.tensor(math.pi, dtype=dtype)
    assert bool(((w > -pi) & (w <= pi)).all())
    if dtype == torch.float64:  # the same numbers as numpy, bit for bit
        np.testing.assert_array_equal(w.numpy(), wrap_angle(a))
    else:  # float32 angles: the same angle to float32 rounding of the input
        ref = wrap_angle(t.double().numpy())
        d = np.abs(wrap_angle(w.double().numpy() - ref))
        assert d.max() < 1e-6 * max(1.0, np.abs(a).max())


def test_torch_gradient_passes_through():
    a = torch.tensor([0.5, 4.0, -4.0, 10.0], dtype=torch.float64, requires_grad=True)
    wrap_angle(a).sum().backward()
    torch.testing.assert_close(a.grad, torch.ones_like(a))
