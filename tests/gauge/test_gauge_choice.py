"""The gauge is chosen from the shape itself: a rigid motion leaves every frame angle unchanged.

Frames take their x axis from a reference neighbour (the lowest-index one-ring vertex on a mesh,
the nearest point on a point cloud), so they move with the shape; the gauge data (neighbour angles
and transport) and everything computed from them then do not change, up to rounding.
"""

import numpy as np
import pytest

import meshlearn
from meshlearn.geometry import gauge_data, normals, tangent_frames
from meshlearn.geometry.angles import wrap_angle
from meshlearn.geometry.frames import reference_neighbors
from meshlearn.shape import Shape
from meshlearn.testing import icosphere, random_rotation

REAL = ["spot.ply", "bunny_small.ply", "fox.ply"]


def _moved(shape, seed):
    rng = np.random.default_rng(seed)
    R = random_rotation(rng)
    return shape.with_(verts=shape.verts @ R.T + rng.normal(size=3) * 3.0), R


def _assert_same_gauge(a, b, tol):
    np.testing.assert_array_equal(a.edge_index, b.edge_index)
    assert np.abs(wrap_angle(a.angle - b.angle)).max() < tol
    assert np.abs(wrap_angle(a.transport - b.transport)).max() < tol


@pytest.mark.parametrize("name", REAL)
def test_frames_move_with_the_mesh_and_the_gauge_data_stay(shared_meshes, name):
    shape = meshlearn.load(shared_meshes / "clean" / name)
    moved, R = _moved(shape, seed=len(name))
    f0, f1 = tangent_frames(shape), tangent_frames(moved)
    np.testing.assert_allclose(f1, f0 @ R.T, atol=1e-10)
    # measured: at most 1.2e-13 (spot), 1.7e-14 (bunny_small), 1.4e-14 (fox)
    _assert_same_gauge(gauge_data(shape), gauge_data(moved), 1e-10)


def test_point_cloud_gauge_data_stay(shared_meshes):
    # every 7th point of the bunny scan (the points of a regular mesh, spot's say, have many
    # neighbours at tied distances; which of them the k nearest take then changes with rounding,
    # and so do the fitted normals)
    scan = meshlearn.load(shared_meshes / "pointclouds" / "stanford_bunny_scan_points.xyz")
    cloud = Shape(scan.verts[::7], None)
    moved, R = _moved(cloud, seed=9)
    np.testing.assert_allclose(tangent_frames(moved, knn=10), tangent_frames(cloud, knn=10) @ R.T, atol=1e-9)
    _assert_same_gauge(gauge_data(cloud, knn=10), gauge_data(moved, knn=10), 1e-9)


def test_x_axis_points_at_the_reference_neighbour():
    s = icosphere(2)
    fr = tangent_frames(s)
    ref = reference_neighbors(s, normals(s))
    lowest = np.full(s.n_verts, s.n_verts)
    np.minimum.at(lowest, s.faces.ravel(), np.roll(s.faces, 1, axis=1).ravel())
    np.testing.assert_array_equal(ref, lowest)  # the lowest-index one-ring vertex
    off = s.verts[ref] - s.verts
    xy = np.einsum("vij,vj->vi", fr[:, :2], off)
    np.testing.assert_allclose(np.arctan2(xy[:, 1], xy[:, 0]), 0.0, atol=1e-12)
    assert (xy[:, 0] > 0).all()


def test_point_cloud_reference_is_the_nearest_point_ties_to_the_lowest_index():
    # a square grid: four neighbours at the same distance from every inner point
    g = np.stack(np.meshgrid(np.arange(6.0), np.arange(6.0), indexing="ij"), -1).reshape(-1, 2)
    cloud = Shape(np.c_[g, np.zeros(len(g))], None)
    ref = reference_neighbors(cloud, normals(cloud, knn=8), knn=8)
    d = np.linalg.norm(cloud.verts[:, None] - cloud.verts[None], axis=2)
    np.fill_diagonal(d, np.inf)
    expected = np.array([np.flatnonzero(np.isclose(row, row.min()))[0] for row in d])
    np.testing.assert_array_equal(ref, expected)


def test_vertex_without_neighbours_keeps_a_valid_frame():
    s = icosphere(1)
    shape = Shape(np.vstack([s.verts, [[0.0, 0.0, 2.0]]]), s.faces)
    fr = tangent_frames(shape)
    np.testing.assert_allclose(np.linalg.det(fr), 1.0, atol=1e-12)
    assert reference_neighbors(shape, normals(shape))[-1] == -1


def test_a_neighbour_along_the_normal_is_passed_over():
    # vertex 0's lowest-index neighbour (1) sits straight above it along its normal
    verts = np.array([[0.0, 0, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0], [-1, -1, 0]])
    n = np.tile([0.0, 0.0, 1.0], (5, 1))
    cloud = Shape(verts, None)
    ref = reference_neighbors(cloud, n, knn=4)
    assert ref[0] == 2  # nearest usable: 2 and 3 tie at distance 1 (1 is along n), lowest index


def test_mesh_neighbour_along_the_normal_is_passed_over_for_the_next_lowest():
    s = icosphere(1)
    n = normals(s)
    ring = {v: sorted(set(s.faces[(s.faces == v).any(1)].ravel()) - {v}) for v in (5, 9)}
    for v in (5, 9):  # make the normal point straight at the lowest neighbour
        d = s.verts[ring[v][0]] - s.verts[v]
        n[v] = d / np.linalg.norm(d)
    ref = reference_neighbors(s, n)
    assert ref[5] == ring[5][1] and ref[9] == ring[9][1]
    others = np.setdiff1d(np.arange(s.n_verts), [5, 9])
    np.testing.assert_array_equal(ref[others], reference_neighbors(s, normals(s))[others])
