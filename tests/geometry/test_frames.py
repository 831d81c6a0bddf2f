"""Normals and tangent frames against analytic answers (sphere, plane), and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from meshlearn.errors import ConfigError, InvalidMeshError
from meshlearn.geometry import normals, tangent_frames
from meshlearn.shape import Shape
from meshlearn.testing import grid, icosphere, random_rotation, sphere_points


def _assert_frames(frames: np.ndarray) -> None:
    V = frames.shape[0]
    assert frames.shape == (V, 3, 3)
    gram = np.einsum("vij,vkj->vik", frames, frames)
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(3), gram.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(frames), 1.0, atol=1e-12)
    # rows x, y, n: x cross y = n
    np.testing.assert_allclose(np.cross(frames[:, 0], frames[:, 1]), frames[:, 2], atol=1e-12)


def test_sphere_frames_orthonormal_right_handed_outward():
    s = icosphere(3)
    fr = tangent_frames(s)
    _assert_frames(fr)
    radial = s.verts / np.linalg.norm(s.verts, axis=1, keepdims=True)
    # area-weighted normal of an icosphere vertex is the radial direction up to O(h^2)
    assert np.einsum("ij,ij->i", fr[:, 2], radial).min() > 0.9995


def test_grid_normals_are_plus_z():
    n = normals(grid(8, jitter=0.3))
    np.testing.assert_allclose(n, np.tile([0.0, 0.0, 1.0], (64, 1)), atol=1e-12)


def test_normals_follow_rigid_rotation():
    s = icosphere(2)
    R = random_rotation(3)
    n0 = normals(s)
    n1 = normals(s.with_(verts=s.verts @ R.T + 5.0))
    np.testing.assert_allclose(n1, n0 @ R.T, atol=1e-12)


def test_point_cloud_normals_outward_on_sphere():
    s = sphere_points(1500, radius=2.0, seed=1)
    fr = tangent_frames(s, knn=12)
    _assert_frames(fr)
    radial = s.verts / np.linalg.norm(s.verts, axis=1, keepdims=True)
    assert np.einsum("ij,ij->i", fr[:, 2], radial).min() > 0.99


def test_isolated_vertex_gets_a_finite_frame():
    s = icosphere(1)
    verts = np.vstack([s.verts, [[0.0, 0.0, 1.5]]])  # a vertex in no face
    fr = tangent_frames(Shape(verts, s.faces))
    _assert_frames(fr)


@pytest.mark.parametrize(
    "shape, match",
    [
        (Shape(np.zeros((0, 3)), None), "no vertices"),
        (Shape(np.array([[0.0, 0, 0], [1, 0, 0], [np.nan, 0, 0]]), np.array([[0, 1, 2]])), "NaN"),
        (Shape(np.eye(3), np.array([[0, 1, 7]])), "1 face references vertex 7 but the mesh has 3 vertices"),
        (Shape(np.eye(3)[:2], None), "at least 3 points"),
        (Shape(np.zeros((4, 2)), None), r"expected verts of shape \(V, 3\)"),
        (Shape(np.eye(3), np.array([[0, 1, 2, 0]])), r"faces must be \(F, 3\)"),
    ],
)
def test_bad_input_raises_clear_error(shape, match):
    with pytest.raises(InvalidMeshError, match=match):
        tangent_frames(shape)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="knn"):
        normals(icosphere(1), knn=1)
    with pytest.raises(ConfigError, match="meshlearn.Shape"):
        normals(np.eye(3))
    with pytest.raises(InvalidMeshError, match="1 face references vertex -1 but the mesh has 3 vertices"):
        normals(Shape(np.eye(3), np.array([[0, 1, -1]])))


def test_point_cloud_normals_outward_on_every_component():
    # three separate spheres: each is oriented on its own (a single global sign left the smaller
    # ones pointing inwards)
    centres = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [0.0, 5.0, 1.0]])
    radii = (1.0, 0.5, 0.7)
    parts = [sphere_points(n, radius=r, seed=i).verts + c for i, (n, r, c) in enumerate(zip((400, 300, 200), radii, centres))]
    owner = np.repeat(np.arange(3), [len(p) for p in parts])
    verts = np.vstack(parts)
    n = normals(Shape(verts, None), knn=12)
    radial = verts - centres[owner]
    radial /= np.linalg.norm(radial, axis=1, keepdims=True)
    assert np.einsum("ij,ij->i", n, radial).min() > 0.95
