"""Geodesic distances against great circles (sphere) and straight lines (plane)."""

from __future__ import annotations

import numpy as np
import pytest

from meshlearn.errors import ConfigError, InvalidMeshError
from meshlearn.geometry import GeodesicSolver, geodesic_distance, pairwise_geodesics
from meshlearn.shape import Shape
from meshlearn.testing import grid, icosphere, random_rigid_motion, sphere_points


def _great_circle(verts: np.ndarray, i: int) -> np.ndarray:
    u = verts / np.linalg.norm(verts, axis=1, keepdims=True)
    return np.arccos(np.clip(u @ u[i], -1.0, 1.0)) * np.linalg.norm(verts[i])


@pytest.fixture(scope="module")
def sphere5() -> Shape:
    return icosphere(5)  # 10242 vertices


@pytest.mark.parametrize("method, mean_tol, max_tol", [("heat", 0.02, 0.1), ("exact", 1e-3, 1e-3)])
def test_sphere_matches_great_circle(sphere5, method, mean_tol, max_tol):
    d = geodesic_distance(sphere5, 17, method=method)
    gc = _great_circle(sphere5.verts, 17)
    away = gc > 0.1
    rel = np.abs(d[away] - gc[away]) / gc[away]
    assert rel.mean() < mean_tol and rel.max() < max_tol
    assert d[17] == 0.0


def test_flat_grid_is_euclidean():
    s = grid(25, jitter=0.3, seed=3)
    c = 12 * 25 + 12
    eu = np.linalg.norm(s.verts - s.verts[c], axis=1)
    np.testing.assert_allclose(geodesic_distance(s, c, method="exact"), eu, atol=1e-10)
    heat = geodesic_distance(s, c, method="heat")
    away = eu > 0.1
    assert np.mean(np.abs(heat[away] - eu[away]) / eu[away]) < 0.03


def test_sphere_point_cloud_within_looser_bound():
    s = sphere_points(3000, radius=2.0, seed=1)
    d = geodesic_distance(s, 0)
    gc = _great_circle(s.verts, 0)
    away = gc > 0.2
    # point clouds: 3 % mean relative error (1.5 % measured at 3000 points)
    assert np.mean(np.abs(d[away] - gc[away]) / gc[away]) < 0.03


def test_multisource_is_nearest_source_and_solver_reuse():
    s = icosphere(3)
    solver = GeodesicSolver(s, "exact")
    D = solver.distances([0, 40, 99])
    assert D.shape == (3, s.n_verts)
    np.testing.assert_allclose(solver.distance([0, 40, 99]), D.min(0), atol=1e-9)
    heat = GeodesicSolver(s, "heat")
    # heat vs exact on this coarse 642-vertex sphere: about 3 % of the unit radius on average
    assert np.mean(np.abs(heat.distance([0, 40, 99]) - D.min(0))) < 0.05


def test_rigid_motion_invariance():
    s = icosphere(3)
    moved = random_rigid_motion(s, seed=4)
    np.testing.assert_allclose(geodesic_distance(moved, 5), geodesic_distance(s, 5), atol=1e-8)


def test_other_component_is_unreachable():
    a = icosphere(2)
    s = Shape(np.vstack([a.verts, a.verts + 3.0]), np.vstack([a.faces, a.faces + a.n_verts]))
    for method in ("heat", "exact"):
        d = geodesic_distance(s, [0], method=method)
        assert np.all(np.isinf(d[a.n_verts :])) and np.all(np.isfinite(d[: a.n_verts]))


def test_pairwise_symmetric_and_close_to_great_circle():
    s = icosphere(2)
    D = pairwise_geodesics(s)
    assert D.dtype == np.float32 and D.shape == (s.n_verts, s.n_verts)
    np.testing.assert_array_equal(D, D.T)
    np.testing.assert_array_equal(np.diag(D), 0.0)
    u = s.verts / np.linalg.norm(s.verts, axis=1, keepdims=True)
    gc = np.arccos(np.clip(u @ u.T, -1, 1))
    far = gc > 0.3
    assert np.mean(np.abs(D[far] - gc[far]) / gc[far]) < 0.03


def test_pairwise_refuses_large_shapes():
    with pytest.raises(ConfigError, match="V\\^2 x 4 bytes"):
        pairwise_geodesics(icosphere(2), max_verts=100)


def test_bad_arguments():
    s = icosphere(1)
    with pytest.raises(ConfigError, match="method"):
        GeodesicSolver(s, "dijkstra")
    with pytest.raises(ConfigError, match="out of range"):
        geodesic_distance(s, 500)
    with pytest.raises(ConfigError, match="empty"):
        geodesic_distance(s, [])
    with pytest.raises(ConfigError, match="triangle mesh"):
        GeodesicSolver(sphere_points(50), "exact")
    with pytest.raises(InvalidMeshError, match="no faces"):
        GeodesicSolver(Shape(s.verts, np.zeros((0, 3), np.int64)))


def _finned_grid() -> tuple[Shape, Shape]:
    """A flat grid, and the same grid with a fin: a third face on its central interior edge."""
    from meshlearn.validate import edge_topology

    g = grid(6)
    edges, counts, _ = edge_topology(g.faces)
    inner = edges[counts == 2]
    a, b = inner[np.argmin(np.linalg.norm(g.verts[inner].mean(1)[:, :2] - 0.5, axis=1))]
    s = Shape(np.vstack([g.verts, [[0.5, 0.5, 1.0]]]), np.vstack([g.faces, [[a, b, g.n_verts]]]))
    return g, s


def test_non_manifold_edge_works_with_heat_and_is_refused_by_exact():
    from meshlearn import validate

    g, s = _finned_grid()
    assert validate(s).non_manifold_edges == 1
    eu = np.linalg.norm(g.verts - g.verts[0], axis=1)
    heat = geodesic_distance(s, 0)[: g.n_verts]
    assert np.mean(np.abs(heat[1:] - eu[1:]) / eu[1:]) < 0.05
    # the exact (MMP) solver assumes at most two faces per edge and can crash the process
    # (a segmentation fault) on three: it is refused with a clear error instead
    with pytest.raises(InvalidMeshError, match="1 edge is shared by more than two faces.*method='heat'"):
        geodesic_distance(s, 0, "exact")
    fan = Shape(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0.3], [0, 0.2, -1.0]]),
                np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]]))
    with pytest.raises(InvalidMeshError, match="more than two faces"):
        GeodesicSolver(fan, "exact")
    degenerate = Shape(g.verts, np.vstack([g.faces, [[0, 0, 7]]]))
    with pytest.raises(InvalidMeshError, match="name the same vertex twice.*clean=True"):
        geodesic_distance(degenerate, 3, "exact")


def test_small_point_cloud_gets_a_clear_error():
    # the point-cloud heat method builds 30-point neighbourhoods: fewer points cannot work
    with pytest.raises(InvalidMeshError, match="at least 31 points"):
        geodesic_distance(sphere_points(20, seed=0), 0)
    d = geodesic_distance(sphere_points(31, seed=0), 0)
    assert d[0] == 0.0 and np.all(np.isfinite(d))


@pytest.mark.parametrize("method", ["heat", "exact"])
@pytest.mark.parametrize("where_", ["first", "last"])
def test_isolated_vertex_is_unreachable_wherever_it_sits(method, where_):
    # the solvers' meshes drop unreferenced vertices (or refuse them): distances must still come
    # back per vertex of the shape, inf at the isolated one, unchanged on the surface
    a = icosphere(2)
    far = np.array([[0.0, 0.0, 3.0]])
    if where_ == "first":
        s, iso, surf = Shape(np.vstack([far, a.verts]), a.faces + 1), 0, np.arange(1, a.n_verts + 1)
    else:
        s, iso, surf = Shape(np.vstack([a.verts, far]), a.faces), a.n_verts, np.arange(a.n_verts)
    d = geodesic_distance(s, int(surf[0]), method=method)
    assert d.shape == (s.n_verts,) and np.isinf(d[iso])
    np.testing.assert_allclose(d[surf], geodesic_distance(a, 0, method=method), atol=1e-9)
    from_iso = geodesic_distance(s, iso, method=method)
    assert from_iso[iso] == 0.0 and np.all(np.isinf(from_iso[surf]))
    both = geodesic_distance(s, [iso, int(surf[0])], method=method)
    assert both[iso] == 0.0
    np.testing.assert_allclose(both[surf], d[surf], atol=1e-9)
