"""Gauge data (neighbour angles, Levi-Civita transport), log maps and geodesic patches."""

from __future__ import annotations

import numpy as np
import pytest

from meshlearn.errors import InvalidMeshError
from meshlearn.geometry import GaugeData, gauge_data, tangent_frames
from meshlearn.geometry.transport import corner_angles, wrap_angle
from meshlearn.shape import Shape
from meshlearn.testing import bumpy_sphere, grid, icosphere, random_rotation, sphere_points


def _edge(g: GaugeData, V: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    keys = g.edge_index[0] * V + g.edge_index[1]
    pos = np.searchsorted(keys, a * V + b)
    assert np.all(keys[pos] == a * V + b)
    return pos


def _face_holonomy(s: Shape, g: GaugeData) -> np.ndarray:
    """Rotation of a vector carried i -> j -> k -> i around each face (counter-clockwise)."""
    V = s.n_verts
    i, j, k = s.faces.T
    t = g.transport
    return wrap_angle(t[_edge(g, V, j, i)] + t[_edge(g, V, k, j)] + t[_edge(g, V, i, k)])


def _projected_angles(s: Shape, frames: np.ndarray, g: GaugeData) -> np.ndarray:
    src, dst = g.edge_index
    d = s.verts[dst] - s.verts[src]
    return np.arctan2(np.einsum("ij,ij->i", d, frames[src, 1]), np.einsum("ij,ij->i", d, frames[src, 0]))


def test_every_directed_edge_once_and_antisymmetric_transport():
    s = bumpy_sphere(2)
    g = gauge_data(s)
    src, dst = g.edge_index
    undirected = {tuple(sorted(e)) for f in s.faces for e in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0]))}
    assert len(src) == 2 * len(undirected)
    assert len(set(zip(src.tolist(), dst.tolist()))) == len(src)
    rev = _edge(g, s.n_verts, dst, src)
    np.testing.assert_allclose(wrap_angle(g.transport + g.transport[rev]), 0.0, atol=1e-12)
    assert g.angle.shape == g.transport.shape == (len(src),)
    assert np.all(np.abs(g.angle) <= np.pi) and np.all(np.abs(g.transport) <= np.pi)


def test_flat_patch_zero_holonomy_and_exact_angles():
    s = grid(12, jitter=0.3, seed=1)
    s = s.with_(verts=s.verts @ random_rotation(2).T)
    fr = tangent_frames(s)
    g = gauge_data(s, fr)
    np.testing.assert_allclose(_face_holonomy(s, g), 0.0, atol=1e-12)
    # every frame is the same on a plane, so transport is the identity, and angles are exact
    np.testing.assert_allclose(wrap_angle(g.transport), 0.0, atol=1e-12)
    np.testing.assert_allclose(wrap_angle(g.angle - _projected_angles(s, fr, g)), 0.0, atol=1e-12)


def test_face_holonomy_is_scaled_angle_excess():
    s = bumpy_sphere(3, amplitude=0.15)
    g = gauge_data(s)
    theta = corner_angles(s.verts, s.faces)
    angle_sum = np.bincount(s.faces.ravel(), theta.ravel(), minlength=s.n_verts)
    scaled = theta * (2 * np.pi / angle_sum)[s.faces]
    np.testing.assert_allclose(_face_holonomy(s, g), scaled.sum(1) - np.pi, atol=1e-10)


def test_holonomy_sums_to_2pi_euler_characteristic():
    s = bumpy_sphere(3, amplitude=0.2, seed=3)
    assert abs(_face_holonomy(s, gauge_data(s)).sum() - 4 * np.pi) < 1e-6
    import trimesh

    t = trimesh.creation.torus(1.0, 0.35)
    torus = Shape(np.asarray(t.vertices), np.asarray(t.faces))
    assert abs(_face_holonomy(torus, gauge_data(torus)).sum()) < 1e-6


def test_sphere_face_holonomy_approximates_spherical_excess():
    s = icosphere(4)
    h = _face_holonomy(s, gauge_data(s))
    a, b, c = (s.verts[s.faces[:, i]] for i in range(3))
    num = np.einsum("ij,ij->i", a, np.cross(b, c))
    den = 1 + np.einsum("ij,ij->i", a, b) + np.einsum("ij,ij->i", b, c) + np.einsum("ij,ij->i", c, a)
    excess = 2 * np.arctan2(num, den)  # area of the geodesic triangle = its holonomy (K = 1)
    assert np.mean(np.abs(h / excess - 1)) < 0.05


def test_angles_match_projected_directions_on_curved_mesh():
    s = bumpy_sphere(3)
    fr = tangent_frames(s)
    g = gauge_data(s, fr)
    err = np.abs(wrap_angle(g.angle - _projected_angles(s, fr, g)))
    assert err.max() < 5e-3 and err.mean() < 5e-4


def test_gauge_change_transforms_angles_and_transport():
    s = bumpy_sphere(2)
    fr = tangent_frames(s)
    g0 = gauge_data(s, fr)
    rot = np.random.default_rng(0).uniform(-np.pi, np.pi, s.n_verts)
    c, sn = np.cos(rot)[:, None], np.sin(rot)[:, None]
    fr1 = fr.copy()
    fr1[:, 0] = c * fr[:, 0] + sn * fr[:, 1]  # x rotated by rot counter-clockwise
    fr1[:, 1] = np.cross(fr1[:, 2], fr1[:, 0])
    g1 = gauge_data(s, fr1)
    p, q = g0.edge_index
    np.testing.assert_allclose(wrap_angle(g1.angle - (g0.angle - rot[p])), 0.0, atol=1e-9)
    np.testing.assert_allclose(wrap_angle(g1.transport - (g0.transport + rot[q] - rot[p])), 0.0, atol=1e-9)


def test_transport_matches_potpourri3d_connection_laplacian():
    pp3d = pytest.importorskip("potpourri3d")
    s = bumpy_sphere(3)
    fr = tangent_frames(s)
    g = gauge_data(s, fr)
    solver = pp3d.MeshVectorHeatSolver(s.verts, s.faces, use_intrinsic_delaunay=False)
    bx, by, _ = solver.get_tangent_frames()
    Lc = solver.get_connection_laplacian().tocsr()
    src, dst = g.edge_index
    d = s.verts[dst] - s.verts[src]
    # potpourri3d's basis x at p lies along one outgoing edge (its reference halfedge): find it,
    # and read off the rotation delta[p] from potpourri3d's basis to ours.
    cos_ref = np.einsum("ij,ij->i", d, bx[src]) / np.linalg.norm(d, axis=1)
    order = np.lexsort((-cos_ref, src))
    best = order[np.r_[True, src[order][1:] != src[order][:-1]]]
    assert cos_ref[best].min() > 0.99
    delta = np.zeros(s.n_verts)
    delta[src[best]] = g.angle[best]
    ours_in_their_basis = g.transport + delta[dst] - delta[src]
    # Off-diagonal entries of the connection Laplacian are -w_pq exp(i rho_pq).
    rho = np.angle(-np.asarray(Lc[src, dst]).ravel())
    np.testing.assert_allclose(wrap_angle(ours_in_their_basis - rho), 0.0, atol=1e-9)


def test_boundary_components_and_nonmanifold_vertex_work():
    a = grid(5)
    b = icosphere(1)
    # two fans glued at one vertex (a non-manifold "bowtie" vertex 0)
    bow_v = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [-1, 0, 0], [-1, -1, 0]])
    bow_f = np.array([[0, 1, 2], [0, 3, 4]])
    verts = np.vstack([a.verts, b.verts + 5.0, bow_v + 10.0])
    faces = np.vstack([a.faces, b.faces + a.n_verts, bow_f + a.n_verts + b.n_verts])
    s = Shape(verts, faces)
    g = gauge_data(s)
    assert np.all(np.isfinite(g.angle)) and np.all(np.isfinite(g.transport))
    flat = (s.faces < a.n_verts).all(1) | (s.faces >= a.n_verts + b.n_verts).all(1)
    np.testing.assert_allclose(_face_holonomy(s, g)[flat], 0.0, atol=1e-12)


def test_nonmanifold_edge_raises():
    verts = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]])
    faces = np.array([[0, 1, 2], [0, 1, 3], [0, 1, 4]])  # three faces on edge (0, 1)
    with pytest.raises(InvalidMeshError, match="non-manifold"):
        gauge_data(Shape(verts, faces))


def test_point_cloud_gauge():
    s = sphere_points(800, seed=2)
    fr = tangent_frames(s, knn=10)
    g = gauge_data(s, fr, knn=10)
    src, dst = g.edge_index
    rev = _edge(g, s.n_verts, dst, src)  # the graph is symmetric
    np.testing.assert_allclose(wrap_angle(g.transport + g.transport[rev]), 0.0, atol=1e-12)
    np.testing.assert_allclose(wrap_angle(g.angle - _projected_angles(s, fr, g)), 0.0, atol=1e-12)
    # flat cloud: identity transport
    rng = np.random.default_rng(1)
    flat = Shape(np.c_[rng.uniform(size=(200, 2)), np.zeros(200)] @ random_rotation(1).T, None)
    np.testing.assert_allclose(gauge_data(flat, knn=8).transport, 0.0, atol=1e-9)
