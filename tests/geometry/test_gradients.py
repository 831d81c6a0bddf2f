"""Tangent gradient operators: exact on flat shapes, converging on the sphere."""

from __future__ import annotations

import numpy as np
import pytest

from meshlearn.errors import ConfigError
from meshlearn.geometry import gradient_operators, tangent_frames
from meshlearn.shape import Shape
from meshlearn.testing import grid, icosphere, random_rotation, sphere_points


def _in_frames(frames: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """(V, 3) ambient vectors -> (V, 2) components along each frame's x and y."""
    return np.stack([np.einsum("ij,ij->i", frames[:, 0], vec), np.einsum("ij,ij->i", frames[:, 1], vec)], 1)


def test_linear_function_exact_on_jittered_flat_mesh():
    s = grid(15, jitter=0.35, seed=2)
    R = random_rotation(5)
    s = s.with_(verts=s.verts @ R.T)  # a tilted plane: frames are not axis-aligned
    fr = tangent_frames(s)
    gx, gy = gradient_operators(s, fr)
    c = np.array([1.5, -2.0, 0.7])
    f = s.verts @ c + 3.0
    n = fr[0, 2]
    grad = np.tile(c - (c @ n) * n, (s.n_verts, 1))  # tangential part of c
    np.testing.assert_allclose(np.stack([gx @ f, gy @ f], 1), _in_frames(fr, grad), atol=1e-10)
    np.testing.assert_allclose(np.asarray(gx.sum(1)).ravel(), 0.0, atol=1e-9)
    assert gx.shape == gy.shape == (s.n_verts, s.n_verts)


def test_linear_function_exact_on_flat_point_cloud():
    rng = np.random.default_rng(0)
    pts = np.c_[rng.uniform(0, 1, (400, 2)), np.zeros(400)]
    s = Shape(pts, None)
    fr = tangent_frames(s, knn=10)
    gx, gy = gradient_operators(s, fr, knn=10)
    f = 4.0 * pts[:, 0] - pts[:, 1]
    np.testing.assert_allclose(np.stack([gx @ f, gy @ f], 1), _in_frames(fr, np.tile([4.0, -1.0, 0.0], (400, 1))), atol=1e-9)


def _sphere_error(subdiv: int) -> float:
    s = icosphere(subdiv)
    fr = tangent_frames(s)
    gx, gy = gradient_operators(s, fr)
    f = s.verts[:, 2]
    # grad of z restricted to the unit sphere is e_z - z * r
    exact = np.array([0.0, 0.0, 1.0]) - s.verts[:, 2:3] * s.verts
    return float(np.abs(np.stack([gx @ f, gy @ f], 1) - _in_frames(fr, exact)).max())


def test_gradient_converges_on_sphere():
    errors = [_sphere_error(k) for k in (2, 3, 4)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.02
    # first order: the error roughly halves with each halving of the edge length
    assert errors[1] / errors[2] > 1.6


def test_gradient_on_sphere_point_cloud():
    s = sphere_points(3000, seed=4)
    fr = tangent_frames(s, knn=12)
    gx, gy = gradient_operators(s, fr, knn=12)
    f = s.verts[:, 0]
    exact = np.array([1.0, 0.0, 0.0]) - s.verts[:, 0:1] * s.verts
    err = np.abs(np.stack([gx @ f, gy @ f], 1) - _in_frames(fr, exact))
    assert err.mean() < 0.02 and err.max() < 0.1


def test_isolated_vertex_and_several_components():
    a, b = icosphere(1), icosphere(1)
    verts = np.vstack([a.verts, b.verts + 3.0, [[9.0, 9.0, 9.0]]])
    faces = np.vstack([a.faces, b.faces + a.n_verts])
    s = Shape(verts, faces)
    gx, gy = gradient_operators(s)
    assert gx[-1].nnz == 0 and gy[-1].nnz == 0
    f = verts[:, 0]
    g = np.stack([gx @ f, gy @ f], 1)
    assert np.all(np.isfinite(g))
    # the two components are translated copies: same gradients of x
    np.testing.assert_allclose(g[: a.n_verts], g[a.n_verts : 2 * a.n_verts], atol=1e-12)


def test_collinear_neighbours_stay_finite():
    # a fan whose spokes are nearly collinear at the tip vertex
    verts = np.array([[0.0, 0, 0], [1, 0, 0], [2, 1e-9, 0], [1, 1, 0]])
    s = Shape(verts, np.array([[0, 1, 3], [1, 2, 3]]))
    gx, gy = gradient_operators(s)
    assert np.all(np.isfinite(gx.data)) and np.all(np.isfinite(gy.data))


def test_wrong_frames_shape():
    with pytest.raises(ConfigError, match="frames must be"):
        gradient_operators(icosphere(1), np.zeros((3, 3, 3)))
