"""meshlearn.validate and load(clean=True): one test per defect kind, on small arrays and on real files.

Each test states the defect, the count the report must give (worked out by hand for the small
arrays), and what cleaning must do.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from meshlearn import InvalidMeshError, Shape, ValidationReport, load, validate
from meshlearn.testing import grid, icosphere, sphere_points

DEF = "defects"


def _tet(offset=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """A tetrahedron with outward faces."""
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float) + offset
    f = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    return v, f


def _signed_volume(verts, faces) -> float:
    t = verts[faces]
    return float(np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum() / 6.0)


def test_clean_sphere_is_ok_and_json():
    s = icosphere(2)
    r = validate(s)
    assert isinstance(r, ValidationReport) and r.ok and r.problems == []
    assert (r.components, r.boundary_loops, r.boundary_edges, r.non_manifold_edges) == (1, 0, 0, 0)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["ok"] is True and d["n_verts"] == 162 and d["n_faces"] == 320 and d["kind"] == "mesh"
    assert "status: ok" in r.summary()


def test_validate_accepts_what_load_accepts_and_reports_without_raising():
    v, f = _tet()
    v[0] = np.inf
    r = validate((v, f))
    assert r.nonfinite_verts == 1 and not r.ok


def test_point_cloud_report():
    pts = sphere_points(100).verts
    r = validate(np.vstack([pts, pts[:3]]))
    assert r.kind == "point cloud" and r.duplicate_verts == 3 and r.components is None
    cleaned = load(np.vstack([pts, pts[:3]]), clean=True)
    assert cleaned.n_verts == 100 and np.array_equal(cleaned.meta["vertex_map"], np.arange(100))


# ------------------------------------------------------------------ NaN / inf


def test_nonfinite_vertices_dropped_with_their_faces():
    s = icosphere(1)
    v = s.verts.copy()
    v[[4, 9]] = [np.nan, 0, 0]
    v[9, 2] = np.inf
    r = validate(Shape(v, s.faces))
    assert r.nonfinite_verts == 2
    touching = int(np.isin(s.faces, [4, 9]).any(1).sum())
    m = load((v, s.faces), clean=True)
    assert m.n_verts == s.n_verts - 2 and m.n_faces == s.n_faces - touching
    assert 4 not in m.meta["vertex_map"] and 9 not in m.meta["vertex_map"]
    np.testing.assert_array_equal(m.verts, v[m.meta["vertex_map"]])
    # each kept face is the original face it came from, renumbered
    np.testing.assert_array_equal(m.meta["vertex_map"][m.faces], s.faces[m.meta["face_map"]])
    assert m.repairs[0] == f"dropped 2 vertices with NaN/inf coordinates and the {touching} faces using them"
    assert validate(m).nonfinite_verts == 0


# ------------------------------------------------------------------ empty


def test_empty_shape_report_and_load_error():
    r = validate(Shape(np.zeros((0, 3))))
    assert r.empty and not r.ok and r.problems == ["the shape has no vertices"]
    with pytest.raises(InvalidMeshError, match="no vertices"):
        load(Shape(np.zeros((0, 3))))


# ------------------------------------------------------------------ out of range


def test_out_of_range_faces_counted_and_never_repaired():
    v, f = _tet()
    f = np.vstack([f, [[0, 1, 4], [1, 2, -1]]])
    r = validate(Shape(v, f))
    assert r.out_of_range_faces == 2 and r.max_face_index == 4 and r.min_face_index == -1
    assert "2 faces reference" in r.problems[0] and "has 4 vertices" in r.problems[0]
    # the other checks still run on the faces that are in range: a closed tetrahedron
    assert r.boundary_edges == 0 and r.components == 1
    with pytest.raises(InvalidMeshError, match="2 faces reference .*vertex 4.* has 4 vertices"):
        load((v, f), clean=True)


# ------------------------------------------------------------------ degenerate and zero-area


def test_degenerate_faces():
    v, f = _tet()
    f = np.vstack([f, [[0, 0, 1], [2, 3, 3]]])
    r = validate((v, f))
    assert r.degenerate_faces == 2 and r.zero_area_faces == 0
    m = load((v, f), clean=True)
    assert m.n_faces == 4 and "removed 2 degenerate faces (a vertex named twice)" in m.repairs
    assert np.array_equal(m.meta["face_map"], [0, 1, 2, 3])
    assert validate(m).ok


def test_zero_area_faces_collinear_and_coincident():
    v, f = _tet()
    v = np.vstack([v, [[2, 0, 0], [3, 0, 0], [0, 1, 0]]])  # 4, 5 on the x axis with 0, 1; 6 copies vertex 2
    f = np.vstack([f, [[0, 4, 5], [1, 4, 5]]])
    r = validate((v, f))
    assert r.zero_area_faces == 2 and r.degenerate_faces == 0 and r.duplicate_verts == 1
    m = load((v, f), clean=True)
    assert m.n_faces == 4 and m.n_verts == 4
    assert "removed 2 zero-area faces" in m.repairs


def test_capsule_degenerate_faces(shared_meshes):
    path = shared_meshes / DEF / "trimesh__capsule.obj"
    r = validate(load(path))
    assert r.zero_area_faces == 200 and r.duplicate_verts == 250
    m = load(path, clean=True)
    # welding the 250 pole copies turns the 200 zero-area pole faces into degenerate ones
    assert m.repairs == (
        "welded 250 duplicate vertices (same coordinates) into their first copy",
        "removed 200 degenerate faces (a vertex named twice)",
    )
    r2 = validate(m)
    assert r2.ok and r2.boundary_loops == 0 and r2.components == 1
    # closed genus-0 surface: Euler characteristic 2
    assert m.n_verts - 3 * m.n_faces // 2 + m.n_faces == 2


def test_libigl_degenerated_duplicates(shared_meshes):
    r = validate(load(shared_meshes / DEF / "libigl-tests-data__degenerated.obj"))
    # every face appears twice, once in each orientation
    assert r.duplicate_faces == 12 and r.n_faces == 24


# ------------------------------------------------------------------ duplicate vertices


def test_duplicate_vertices_welded_and_labels_follow():
    s = grid(4)
    v = np.vstack([s.verts, s.verts[[5, 6]]])  # 16, 17 copy 5, 6
    f = s.faces.copy()
    f[f == 5] = np.where(np.arange((f == 5).sum()) % 2 == 0, 16, 5)
    f[f == 6] = 17
    labels = np.arange(18)
    r = validate((v, f))
    assert r.duplicate_verts == 2
    m = load((v, f), clean=True)
    assert m.n_verts == 16 and np.array_equal(m.faces, s.faces)
    assert np.array_equal(labels[m.meta["vertex_map"]], np.arange(16))


def test_soup_stl_kept_as_separate_triangles(shared_meshes):
    """trimesh's soup.stl is 100 random triangles with no shared corner: nothing to weld, and the 100
    components are all kept."""
    m = load(shared_meshes / DEF / "trimesh__soup.stl", clean=True)
    r = validate(m)
    assert m.n_faces == 100 and m.n_verts == 300 and r.components == 100 and r.boundary_loops == 100


def test_sliver_tet_unreferenced_and_duplicate_vertices(shared_meshes):
    path = shared_meshes / DEF / "libigl-tests-data__sliver_tet.ply"
    raw = load(path)
    r = validate(raw)
    assert r.unreferenced_verts == 5005 and r.n_verts == 5009
    m = load(path, clean=True)
    assert m.n_verts == 4 and m.n_faces == 4
    np.testing.assert_array_equal(m.verts, raw.verts[m.meta["vertex_map"]])
    assert validate(m).ok


# ------------------------------------------------------------------ duplicate faces


def test_duplicate_faces_any_order_or_orientation():
    v, f = _tet()
    f = np.vstack([f, f[0][[1, 2, 0]], f[1][::-1]])
    r = validate((v, f))
    assert r.duplicate_faces == 2
    m = load((v, f), clean=True)
    assert m.n_faces == 4 and "removed 2 duplicate faces (same three vertices)" in m.repairs
    assert validate(m).ok


def test_real_bunny_reconstruction(shared_meshes):
    path = shared_meshes / DEF / "trimesh__bunny.ply"
    r = validate(load(path))
    assert r.components == 94 and r.duplicate_faces == 87 and r.non_manifold_edges == 150
    assert r.unreferenced_verts == 25
    m = load(path, clean=True)
    r2 = validate(m)
    assert r2.duplicate_faces == 0 and r2.unreferenced_verts == 0
    assert r2.non_manifold_edges > 0  # reported, not silently cut away
    assert m.n_faces == 16301 - 87


# ------------------------------------------------------------------ non-manifold edges and vertices


def test_non_manifold_edge_three_triangles():
    v = np.array([[0, 0, 0], [1, 0, 0], [0.5, 1, 0], [0.5, -1, 0], [0.5, 0, 1]], float)
    f = np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]])
    r = validate((v, f))
    assert r.non_manifold_edges == 1 and r.non_manifold_verts == 2 and r.components == 3


def test_fan3(shared_meshes):
    r = validate(load(shared_meshes / DEF / "geometry-central__fan3.obj"))
    assert r.non_manifold_edges == 1 and r.non_manifold_verts == 2


def test_bowtie_vertex_two_cones():
    v1, f1 = _tet()
    # the tetrahedron reflected through its corner 0 at the origin, sharing that vertex
    v = np.vstack([v1, -v1[1:]])
    f = np.vstack([f1, np.array([0, 4, 5, 6])[f1[:, ::-1]]])
    r = validate((v, f))
    assert r.non_manifold_verts == 1 and r.non_manifold_edges == 0 and r.components == 2


def test_hourglass_two_components(shared_meshes):
    r = validate(load(shared_meshes / DEF / "geometry-central__hourglass_ico.obj"))
    assert r.components == 2 and r.non_manifold_verts == 1 and r.non_manifold_edges == 0


def test_triple_vierbein_non_manifold(shared_meshes):
    m = load(shared_meshes / DEF / "geometry-central__triple_vierbein.obj", clean=True)
    r = validate(m)
    assert r.non_manifold_edges > 0 and r.non_manifold_verts > 0 and not r.ok


# ------------------------------------------------------------------ isolated vertices


def test_unreferenced_vertices_removed():
    v, f = _tet()
    v = np.vstack([[9, 9, 9], v, [7, 7, 7]])
    f = f + 1
    r = validate((v, f))
    assert r.unreferenced_verts == 2
    m = load((v, f), clean=True)
    assert m.n_verts == 4 and np.array_equal(m.meta["vertex_map"], [1, 2, 3, 4])
    assert "removed 2 vertices that no face uses" in m.repairs


# ------------------------------------------------------------------ components and boundaries


def test_several_components_all_kept():
    v1, f1 = _tet()
    v2, f2 = _tet(offset=(5.0, 0.0, 0.0))
    v, f = np.vstack([v1, v2]), np.vstack([f1, f2 + 4])
    assert validate((v, f)).components == 2
    m = load((v, f), clean=True)
    assert m.n_faces == 8 and m.repairs == ()
    assert "2 connected components" in validate(m).notes


def test_boundary_loops():
    r = validate(grid(6))
    assert r.boundary_loops == 1 and r.boundary_edges == 4 * 5
    s = icosphere(2)
    # remove the faces around two far-apart vertices: two holes
    far = int(np.argmin(s.verts @ s.verts[0]))
    keep = ~np.isin(s.faces, [0, far]).any(1)
    r2 = validate(load((s.verts, s.faces[keep])))
    assert r2.boundary_loops == 2 and r2.boundary_edges == 10 and r2.unreferenced_verts == 2


def test_annulus_has_two_loops(shared_meshes):
    r = validate(load(shared_meshes / DEF / "libigl-tests-data__annulus.obj"))
    assert r.boundary_loops == 2 and r.components == 1


# ------------------------------------------------------------------ winding


def test_inconsistent_winding_fixed_and_outward():
    s = icosphere(2)
    f = s.faces.copy()
    flipped = np.random.default_rng(0).choice(len(f), 40, replace=False)
    f[flipped] = f[flipped][:, ::-1]
    r = validate((s.verts, f))
    assert r.inconsistent_winding_edges > 0
    m = load((s.verts, f), clean=True)
    assert validate(m).inconsistent_winding_edges == 0
    assert _signed_volume(m.verts, m.faces) > 0
    # every face ends up as in the original outward sphere (same cyclic order)
    assert {tuple(np.roll(t, -np.argmin(t))) for t in m.faces} == {tuple(np.roll(t, -np.argmin(t))) for t in s.faces}


def test_inside_out_closed_surface_reversed():
    s = icosphere(1)
    m = load((s.verts, s.faces[:, ::-1]), clean=True)
    assert _signed_volume(m.verts, m.faces) == pytest.approx(_signed_volume(s.verts, s.faces))
    assert "reversed 1 closed component(s) whose normals pointed inwards" in m.repairs


def test_multibody_stl_winding(shared_meshes):
    path = shared_meshes / DEF / "trimesh__multibody.stl"
    assert validate(load(path)).inconsistent_winding_edges > 0
    m = load(path, clean=True)
    r = validate(m)
    assert r.inconsistent_winding_edges == 0 and r.components == 2
    labels = _face_labels(m)
    for c in range(2):
        assert _signed_volume(m.verts, m.faces[labels == c]) > 0


def _face_labels(m: Shape) -> np.ndarray:
    from meshlearn.validate import edge_topology, face_components

    _, counts, h2e = edge_topology(m.faces)
    return face_components(m.n_faces, h2e, counts)[1]


def test_moebius_is_not_orientable(shared_meshes):
    m = load(shared_meshes / DEF / "geometry-central__moebius.obj", clean=True)
    r = validate(m)
    # no choice of face orientations makes a Moebius strip consistent; the report keeps saying so
    assert r.inconsistent_winding_edges > 0 and r.boundary_loops == 1


# ------------------------------------------------------------------ polygons


def test_non_triangle_faces_recorded(shared_meshes):
    r = validate(load(shared_meshes / DEF / "trimesh__quadknot.obj"))
    assert r.non_triangle_faces == 1440 and r.n_faces == 2880 and r.ok
    assert "1440 polygon faces were split into triangles on loading" in r.notes


# ------------------------------------------------------------------ clean data stays untouched


def test_clean_meshes_need_no_repair(shared_meshes):
    for name in ("spot.ply", "fox.ply", "bunny_small.ply", "teddy.obj", "brain_fsaverage5_pial_left.ply"):
        raw = load(shared_meshes / "clean" / name)
        m = load(shared_meshes / "clean" / name, clean=True)
        assert m.repairs == (), name
        assert np.array_equal(m.verts, raw.verts) and np.array_equal(m.faces, raw.faces)
        assert validate(m).ok, name


def test_stanford_bunny_scan(shared_meshes):
    r = validate(load(shared_meshes / "clean" / "stanford_bunny_scan.off"))
    assert r.n_verts == 34834 and r.ok and r.boundary_loops == 5 and r.components == 1


def test_malformed_shape_objects_name_their_source():
    with pytest.raises(InvalidMeshError, match=r"^scan\.ply: expected faces of shape \(F, 3\)"):
        validate(Shape(np.eye(3), np.array([[0, 1, 2, 0]]), source="scan.ply"))
    with pytest.raises(InvalidMeshError, match=r"^scan\.ply: expected verts of shape \(V, 3\)"):
        validate(Shape(np.zeros((3, 2)), None, source="scan.ply"))
