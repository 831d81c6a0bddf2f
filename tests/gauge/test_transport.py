"""Gauge changes and parallel transport of features, against geometry's gauge data."""

import math

import numpy as np
import pytest
import torch

from meshlearn.gauge import FeatureType, change_gauge, rotate, rotate_frames, transport_features, wrap_angle
from meshlearn.gauge.testing import random_angles, synthetic_gauge
from meshlearn.geometry.frames import tangent_frames
from meshlearn.geometry.transport import gauge_data
from meshlearn.testing import bumpy_sphere, grid


def _wrapped_diff(a, b):
    return float(wrap_angle(torch.as_tensor(a) - torch.as_tensor(b)).abs().max())


def test_change_gauge_matches_recomputed_gauge_data():
    shape = bumpy_sphere(2)
    frames = tangent_frames(shape)
    g = random_angles(shape.n_verts, seed=4)
    before = gauge_data(shape, frames=frames)
    after = gauge_data(shape, frames=rotate_frames(frames, g).numpy())
    predicted = change_gauge(before, g)
    assert np.array_equal(after.edge_index, predicted.edge_index.numpy())
    assert _wrapped_diff(after.angle, predicted.angle) < 1e-9
    assert _wrapped_diff(after.transport, predicted.transport) < 1e-9


def test_rotate_frames_keeps_an_orthonormal_right_handed_frame():
    frames = torch.as_tensor(tangent_frames(bumpy_sphere(1)))
    g = random_angles(frames.shape[0], seed=1)
    R = rotate_frames(frames, g)
    eye = torch.eye(3, dtype=R.dtype).expand_as(R)
    torch.testing.assert_close(R @ R.transpose(1, 2), eye, atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(R.shape[0], dtype=R.dtype), atol=1e-12, rtol=0)
    # the new x axis has angle g in the old frame
    ang = torch.atan2((R[:, 0] * frames[:, 1]).sum(1), (R[:, 0] * frames[:, 0]).sum(1))
    assert _wrapped_diff(ang, g) < 1e-12


def test_gauge_change_roundtrip():
    gauge = synthetic_gauge(30, 4, seed=2)
    g = random_angles(30, seed=3)
    back = change_gauge(change_gauge(gauge, g), -g)
    assert _wrapped_diff(back.angle, gauge.angle) < 1e-12
    assert _wrapped_diff(back.transport, gauge.transport) < 1e-12


def test_transport_of_a_constant_field_on_a_flat_grid_is_the_identity():
    # On a plane parallel transport is trivial: a constant ambient vector, expressed in each
    # (randomly rotated) frame as an order-1 feature, arrives in p's frame unchanged.
    shape = grid(8, jitter=0.3)
    frames = rotate_frames(tangent_frames(shape), random_angles(shape.n_verts, seed=5)).numpy()
    gauge = gauge_data(shape, frames=frames)
    v = np.array([0.3, -1.2, 0.0])
    x = torch.as_tensor(np.stack([frames[:, 0] @ v, frames[:, 1] @ v], 1))
    moved = transport_features(x, gauge, FeatureType((1,)))
    p = torch.as_tensor(gauge.edge_index[0])
    torch.testing.assert_close(moved, x[p], atol=1e-9, rtol=0)
    # and the direction of q seen from p is the direction of verts[q] - verts[p] (flat: exact)
    d = shape.verts[gauge.edge_index[1]] - shape.verts[gauge.edge_index[0]]
    fp = frames[gauge.edge_index[0]]
    beta = np.arctan2(np.einsum("ij,ij->i", d, fp[:, 1]), np.einsum("ij,ij->i", d, fp[:, 0]))
    assert _wrapped_diff(beta, gauge.angle) < 1e-9


@pytest.mark.parametrize("order", [1, 2, 3])
def test_transport_there_and_back_is_the_identity(order):
    # transport[(q, p)] undoes transport[(p, q)], for features of every order.
    shape = bumpy_sphere(1)
    gauge = gauge_data(shape)
    t = FeatureType((order,))
    x = torch.randn(shape.n_verts, 2, dtype=torch.float64)
    ei = torch.as_tensor(gauge.edge_index)
    forward = rotate(x[ei[1]], torch.as_tensor(gauge.transport), t)  # q's feature in p's frame
    key = {(int(a), int(b)): e for e, (a, b) in enumerate(ei.T.tolist())}
    rev = torch.tensor([key[(int(b), int(a))] for a, b in ei.T.tolist()])
    back = rotate(forward, torch.as_tensor(gauge.transport)[rev], t)  # ... carried back to q
    torch.testing.assert_close(back, x[ei[1]], atol=1e-12, rtol=0)


def test_wrap_angle_range():
    """The gauge layers wrap as the geometry does: to (-pi, pi], -pi itself going to pi."""
    a = torch.tensor([-7.0, -math.pi, 0.0, math.pi, 10.0], dtype=torch.float64)
    w = wrap_angle(a)
    assert bool(((w > -math.pi) & (w <= math.pi)).all())
    assert w[1] == math.pi and w[3] == math.pi
    assert _wrapped_diff(w, a) < 1e-12
