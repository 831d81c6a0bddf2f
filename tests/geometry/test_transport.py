"""Gauge data (neighbour angles, Levi-Civita transport), log maps and geodesic patches."""

from __future__ import annotations

import numpy as np
import pytest

from meshlearn.errors import ConfigError, InvalidMeshError, SolverError
from meshlearn.geometry import GaugeData, LogMapSolver, PatchData, gauge_data, geodesic_patches, log_map, tangent_frames
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
    # on a plane, transport is the rotation from q's frame to p's (x_q's angle in p's frame), and
    # angles are exact
    p, q = g.edge_index
    between = np.arctan2(np.einsum("ij,ij->i", fr[q, 0], fr[p, 1]), np.einsum("ij,ij->i", fr[q, 0], fr[p, 0]))
    np.testing.assert_allclose(wrap_angle(g.transport - between), 0.0, atol=1e-12)
    same = gauge_data(s, np.repeat(fr[:1], s.n_verts, axis=0))  # one frame everywhere: the identity
    np.testing.assert_allclose(wrap_angle(same.transport), 0.0, atol=1e-12)
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


def test_degenerate_and_flipped_faces_raise():
    s = icosphere(1)
    faces = s.faces.copy()
    faces[3] = faces[3, ::-1]  # one face against its neighbours' orientation
    with pytest.raises(InvalidMeshError, match="inconsistently oriented"):
        gauge_data(Shape(s.verts, faces))
    faces = s.faces.copy()
    faces[0, 1] = faces[0, 0]
    with pytest.raises(InvalidMeshError, match="degenerate faces"):
        gauge_data(Shape(s.verts, faces))


def test_isolated_vertex_has_no_edges():
    s = icosphere(1)
    shape = Shape(np.vstack([s.verts, [[0.0, 0.0, 2.0]]]), s.faces)
    g = gauge_data(shape)
    assert not np.isin(s.n_verts, g.edge_index).any()
    np.testing.assert_allclose(_face_holonomy(shape, g).sum(), 4 * np.pi, atol=1e-9)


def test_point_cloud_gauge():
    s = sphere_points(800, seed=2)
    fr = tangent_frames(s, knn=10)
    g = gauge_data(s, fr, knn=10)
    src, dst = g.edge_index
    rev = _edge(g, s.n_verts, dst, src)  # the graph is symmetric
    np.testing.assert_allclose(wrap_angle(g.transport + g.transport[rev]), 0.0, atol=1e-12)
    np.testing.assert_allclose(wrap_angle(g.angle - _projected_angles(s, fr, g)), 0.0, atol=1e-12)
    # flat cloud, one frame everywhere: identity transport
    rng = np.random.default_rng(1)
    flat = Shape(np.c_[rng.uniform(size=(200, 2)), np.zeros(200)] @ random_rotation(1).T, None)
    one_frame = np.repeat(tangent_frames(flat, knn=8)[:1], flat.n_verts, axis=0)
    np.testing.assert_allclose(gauge_data(flat, one_frame, knn=8).transport, 0.0, atol=1e-9)


# ---------------------------------------------------------------- log maps and geodesic patches


def _sphere_polar(s: Shape, frames: np.ndarray, c: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact geodesic polar coordinates of v around c on a unit sphere (radius, angle in c's frame)."""
    P = s.verts / np.linalg.norm(s.verts, axis=1, keepdims=True)
    r = np.arccos(np.clip(np.einsum("ij,ij->i", P[c], P[v]), -1, 1))
    t = P[v] - np.einsum("ij,ij->i", P[v], P[c])[:, None] * P[c]  # initial direction of the great circle
    a = np.arctan2(np.einsum("ij,ij->i", t, frames[c, 1]), np.einsum("ij,ij->i", t, frames[c, 0]))
    return r, a


def test_log_map_on_plane_recovers_offsets_in_source_frame():
    s = grid(21, jitter=0.3, seed=5)
    s = s.with_(verts=s.verts @ random_rotation(1).T)
    fr = tangent_frames(s)
    c = 10 * 21 + 10
    L = log_map(s, c, fr)
    off = s.verts - s.verts[c]
    exact = np.stack([off @ fr[c, 0], off @ fr[c, 1]], 1)
    near = np.linalg.norm(off, axis=1) < 0.35  # the vector heat method is least accurate at the boundary
    err = np.linalg.norm(L - exact, axis=1)[near]
    assert err.max() < 0.01 and err.mean() < 0.003


def test_log_map_on_sphere_radii_and_angles():
    s = icosphere(4)
    fr = tangent_frames(s)
    solver = LogMapSolver(s, fr)
    for c in (0, 1234):
        L = solver.log_map(c)
        v = np.arange(s.n_verts)
        r, a = _sphere_polar(s, fr, np.full(s.n_verts, c), v)
        ok = (r > 0.1) & (r < 2.5)  # away from the source and its antipode
        rel = np.abs(np.linalg.norm(L, axis=1)[ok] - r[ok]) / r[ok]
        assert rel.mean() < 0.02 and rel.max() < 0.05
        assert np.max(np.abs(wrap_angle(np.arctan2(L[ok, 1], L[ok, 0]) - a[ok]))) < 0.02


def test_log_map_point_cloud_radii():
    s = sphere_points(2000, seed=3)
    L = log_map(s, 5)
    r, _ = _sphere_polar(s, tangent_frames(s), np.full(s.n_verts, 5), np.arange(s.n_verts))
    ok = (r > 0.1) & (r < 2.5)
    assert np.mean(np.abs(np.linalg.norm(L, axis=1)[ok] - r[ok]) / r[ok]) < 0.03


def test_log_map_non_manifold_mesh_raises_solver_error():
    from meshlearn.validate import edge_topology

    g = grid(6)
    edges, counts, _ = edge_topology(g.faces)
    a, b = edges[counts == 2][0]  # an interior edge: the added face makes it non-manifold
    s = Shape(np.vstack([g.verts, [[0.5, 0.5, 1.0]]]), np.vstack([g.faces, [[a, b, g.n_verts]]]))
    with pytest.raises(SolverError, match="manifold mesh.*point cloud"):
        log_map(s, 0)


def test_log_map_bad_source():
    with pytest.raises(ConfigError, match="source"):
        log_map(icosphere(1), 10_000)


def _check_patch_layout(p: PatchData, V: int, radius: float, max_neighbors: int) -> None:
    c, v = p.edge_index
    assert np.all(np.diff(c) >= 0)
    start = np.searchsorted(c, np.arange(V))
    np.testing.assert_array_equal(v[start], np.arange(V))  # centre first
    assert np.all(p.radius[start] == 0) and np.all(p.angle[start] == 0)
    same = c[1:] == c[:-1]
    assert np.all(np.diff(p.radius)[same] >= 0)  # sorted by radius within a patch
    assert np.bincount(c, minlength=V).max() <= max_neighbors + 1
    assert p.radius.max() <= radius * (1 + 1e-12) and p.max_radius == radius
    assert np.all(np.abs(p.angle) <= np.pi)


def test_patches_exact_on_flat_mesh():
    s = grid(15, jitter=0.3, seed=2)
    s = s.with_(verts=s.verts @ random_rotation(7).T)
    fr = tangent_frames(s)
    p = geodesic_patches(s, 0.2, fr, max_neighbors=24)
    _check_patch_layout(p, s.n_verts, 0.2, 24)
    c, v = p.edge_index
    off = s.verts[v] - s.verts[c]
    np.testing.assert_allclose(p.radius, np.linalg.norm(off, axis=1), atol=1e-12)
    ang = np.arctan2(np.einsum("ij,ij->i", off, fr[c, 1]), np.einsum("ij,ij->i", off, fr[c, 0]))
    m = c != v
    np.testing.assert_allclose(wrap_angle(p.angle[m] - ang[m]), 0.0, atol=1e-12)
    # a patch keeps the nearest vertices: nothing left out is nearer than the farthest kept
    eu = np.linalg.norm(s.verts[:, None] - s.verts[None], axis=2)
    far = np.zeros(s.n_verts)
    np.maximum.at(far, c, p.radius)
    full = np.bincount(c, minlength=s.n_verts) == 25
    inside = (eu < far[:, None] - 1e-9).sum(1)
    assert np.all(inside[full] <= 25)


def test_patches_on_sphere_match_exact_polar_coordinates():
    s = icosphere(4)
    fr = tangent_frames(s)
    radius = 0.05 * np.sqrt(s.area())
    p = geodesic_patches(s, radius, fr, max_neighbors=32)
    _check_patch_layout(p, s.n_verts, radius, 32)
    c, v = p.edge_index
    m = c != v
    r, a = _sphere_polar(s, fr, c[m], v[m])
    assert np.max(np.abs(p.radius[m] - r) / r) < 0.01
    assert np.max(np.abs(wrap_angle(p.angle[m] - a))) < 0.01
    assert np.bincount(c).min() >= 7  # every patch has at least its one-ring


def test_patches_agree_with_vector_heat_log_map():
    s = bumpy_sphere(3, amplitude=0.15)
    fr = tangent_frames(s)
    radius = 0.1 * np.sqrt(s.area())
    p = geodesic_patches(s, radius, fr, max_neighbors=40)
    solver = LogMapSolver(s, fr)
    c, v = p.edge_index
    for centre in (3, 100, 500):
        m = (c == centre) & (v != centre)
        L = solver.log_map(centre)[v[m]]
        u = p.radius[m, None] * np.stack([np.cos(p.angle[m]), np.sin(p.angle[m])], 1)
        assert np.max(np.linalg.norm(u - L, axis=1)) < 0.02 * radius


def test_patches_point_cloud():
    s = sphere_points(1500, seed=0)
    fr = tangent_frames(s, knn=10)
    p = geodesic_patches(s, 0.25, fr, max_neighbors=16, knn=10)
    _check_patch_layout(p, s.n_verts, 0.25, 16)
    c, v = p.edge_index
    m = c != v
    r, a = _sphere_polar(s, fr, c[m], v[m])
    assert np.mean(np.abs(p.radius[m] - r) / r) < 0.01
    assert np.mean(np.abs(wrap_angle(p.angle[m] - a))) < 0.01


def test_patches_bad_arguments():
    s = icosphere(1)
    with pytest.raises(ConfigError, match="radius"):
        geodesic_patches(s, -1.0)
    with pytest.raises(ConfigError, match="max_neighbors"):
        geodesic_patches(s, 0.1, max_neighbors=0)


def test_log_map_other_component_is_nan_and_own_component_unchanged():
    a = icosphere(2)
    V = a.n_verts
    two = Shape(np.vstack([a.verts, a.verts + 5.0]), np.vstack([a.faces, a.faces + V]))
    L = log_map(two, 3)
    assert np.all(np.isnan(L[V:]))
    np.testing.assert_allclose(L[:V], log_map(a, 3), atol=1e-9)
    cloud = Shape(two.verts)
    Lc = log_map(cloud, 3)
    assert np.all(np.isnan(Lc[V:])) and np.all(np.isfinite(Lc[:V]))


def test_log_map_small_point_cloud_gets_a_clear_error():
    with pytest.raises(InvalidMeshError, match="at least 31 points"):
        log_map(sphere_points(20, seed=0), 0)


def test_point_cloud_transport_is_the_rotation_between_the_normals():
    # Levi-Civita transport along a short geodesic of a sphere is the rotation about n_q x n_p by
    # the angle between the normals: it must take q's x axis to angle transport[e] in p's frame
    # (a vector at angle psi in q's frame arrives at angle psi + transport[e]).
    from scipy.spatial.transform import Rotation

    s = sphere_points(600, seed=5)
    fr = tangent_frames(s, knn=10)
    g = gauge_data(s, fr, knn=10)
    p, q = g.edge_index
    axis = np.cross(fr[q, 2], fr[p, 2])
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    angle = np.arccos(np.clip(np.einsum("ij,ij->i", fr[q, 2], fr[p, 2]), -1, 1))
    R = Rotation.from_rotvec(axis * angle[:, None])
    for psi in (0.0, 1.0):
        v = np.cos(psi) * fr[q, 0] + np.sin(psi) * fr[q, 1]
        moved = R.apply(v)
        got = np.arctan2(np.einsum("ij,ij->i", moved, fr[p, 1]), np.einsum("ij,ij->i", moved, fr[p, 0]))
        np.testing.assert_allclose(wrap_angle(got - (psi + g.transport)), 0.0, atol=1e-9)
    assert np.abs(g.transport).max() > 0.5  # frames differ: the check is not about zeros


@pytest.mark.parametrize("first", [True, False])
def test_log_map_with_an_isolated_vertex(first):
    a = icosphere(2)
    far = np.array([[0.0, 0.0, 3.0]])
    if first:
        s, iso, surf = Shape(np.vstack([far, a.verts]), a.faces + 1), 0, np.arange(1, a.n_verts + 1)
    else:
        s, iso, surf = Shape(np.vstack([a.verts, far]), a.faces), a.n_verts, np.arange(a.n_verts)
    fr = tangent_frames(s)
    solver = LogMapSolver(s, fr)
    L = solver.log_map(int(surf[3]))
    assert L.shape == (s.n_verts, 2) and np.all(np.isnan(L[iso]))
    np.testing.assert_allclose(L[surf], log_map(a, 3, fr[surf]), atol=1e-9)
    at_iso = solver.log_map(iso)
    assert np.all(at_iso[iso] == 0.0) and np.all(np.isnan(at_iso[surf]))


def test_patches_refuse_gauge_data_of_another_shape():
    small, big = icosphere(1), icosphere(2)
    with pytest.raises(ConfigError, match="gauge.edge_index must be"):
        geodesic_patches(small, 0.3, gauge=gauge_data(big))
