"""meshlearn.load: every input kind, vertex order, polygons, point clouds, errors, cleaning and normalisation."""

from __future__ import annotations

import numpy as np
import pytest

import meshlearn
from meshlearn import ConfigError, InvalidMeshError, Shape, UnsupportedFormatError, load, save
from meshlearn.errors import WriteError
from meshlearn.testing import icosphere, sphere_points


def _permuted_icosphere(seed: int = 3) -> Shape:
    """An icosphere whose vertices are shuffled, so that file order differs from any sorted order."""
    s = icosphere(1)
    perm = np.random.default_rng(seed).permutation(s.n_verts)
    inv = np.argsort(perm)
    return Shape(s.verts[perm], inv[s.faces], name="ico")


# ------------------------------------------------------------------ arrays and objects


def test_arrays_tuple_and_points():
    s = icosphere(1)
    m = load((s.verts, s.faces))
    assert m.is_mesh and m.n_verts == s.n_verts and np.array_equal(m.faces, s.faces)
    assert m.verts.dtype == np.float64 and m.faces.dtype == np.int64
    p = load(s.verts.astype(np.float32))
    assert not p.is_mesh and p.n_verts == s.n_verts
    assert load(s) is not None and np.array_equal(load(s).verts, s.verts)


def test_arrays_quads_are_triangulated_as_fans():
    verts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float)
    m = load((verts, np.array([[0, 1, 2, 3]])))
    assert m.meta["non_triangle_faces"] == 1
    assert np.array_equal(m.faces, [[0, 1, 2], [0, 2, 3]])
    assert m.area() == pytest.approx(1.0)


def test_trimesh_objects_keep_vertex_order():
    import trimesh

    s = _permuted_icosphere()
    m = load(trimesh.Trimesh(s.verts, s.faces, process=False))
    assert np.array_equal(m.verts, s.verts) and np.array_equal(m.faces, s.faces)
    assert m.source == "trimesh.Trimesh"
    p = load(trimesh.PointCloud(s.verts))
    assert not p.is_mesh and np.array_equal(p.verts, s.verts)


def test_open3d_objects():
    import open3d as o3d

    s = _permuted_icosphere()
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(s.verts), o3d.utility.Vector3iVector(s.faces))
    m = load(mesh)
    assert np.array_equal(m.verts, s.verts) and np.array_equal(m.faces, s.faces)
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(s.verts))
    p = load(pc)
    assert not p.is_mesh and np.array_equal(p.verts, s.verts)
    t = load(o3d.t.geometry.TriangleMesh.from_legacy(mesh))
    np.testing.assert_allclose(t.verts, s.verts)
    np.testing.assert_array_equal(t.faces, s.faces)


def test_pyvista_polydata_triangles_quads_and_points():
    import pyvista as pv

    s = _permuted_icosphere()
    faces = np.hstack([np.full((s.n_faces, 1), 3), s.faces]).ravel()
    m = load(pv.PolyData(s.verts, faces))
    assert np.array_equal(m.faces, s.faces)
    # a 3 x 3 quad grid: 9 quads -> 18 triangles, area preserved
    plane = pv.Plane(i_resolution=3, j_resolution=3, i_size=2.0, j_size=1.0)
    q = load(plane)
    assert q.meta["non_triangle_faces"] == 9 and q.n_faces == 18
    assert q.area() == pytest.approx(2.0)
    pts = load(pv.PolyData(s.verts))
    assert not pts.is_mesh and pts.n_verts == s.n_verts
    with pytest.raises(InvalidMeshError, match="extract_surface"):
        load(pv.ImageData(dimensions=(2, 2, 2)).cast_to_unstructured_grid())


def test_unknown_object_type():
    with pytest.raises(InvalidMeshError, match="cannot load an object of type dict"):
        load({"verts": 1})


# ------------------------------------------------------------------ files


@pytest.mark.parametrize("ext", [".obj", ".ply", ".off"])
def test_file_round_trip_keeps_vertex_order(tmp_path, ext):
    s = _permuted_icosphere()
    path = save(s, tmp_path / f"ico{ext}")
    m = load(path)
    assert m.source == str(path) and m.name == "ico"
    np.testing.assert_array_equal(m.verts, s.verts)  # float64 written in full: no rounding
    assert np.array_equal(m.faces, s.faces)
    assert m.repairs == ()


@pytest.mark.parametrize("ext", [".obj", ".ply", ".off", ".xyz", ".pts"])
def test_saved_coordinates_are_exact_at_every_scale(tmp_path, ext):
    v = np.array([[1e-12, 123456.78901234567, 1 / 3], [1.0, -2.5e-300, 0.0], [0.0, 1.0, 7e15], [np.pi, np.e, -1e-7]])
    f = np.array([[0, 1, 2], [0, 2, 3]])
    s = Shape(v, f if ext in (".obj", ".ply", ".off") else None)
    back = load(save(s, tmp_path / f"x{ext}"))
    np.testing.assert_array_equal(back.verts, v)
    if s.is_mesh:
        np.testing.assert_array_equal(back.faces, f)


def test_save_bad_arguments_get_clear_errors(tmp_path):
    with pytest.raises(InvalidMeshError, match="no faces"):
        save(Shape(icosphere(0).verts, np.zeros((0, 3), np.int64)), tmp_path / "m.obj")
    with pytest.raises(InvalidMeshError, match="no vertices"):
        save(Shape(np.zeros((0, 3))), tmp_path / "p.ply")
    with pytest.raises(ConfigError, match="expected a meshlearn.Shape"):
        save(np.zeros((3, 3)), tmp_path / "p.ply")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(WriteError, match="cannot write"):
        save(icosphere(0), blocker / "m.obj")


def test_save_creates_missing_folders(tmp_path):
    path = save(icosphere(0), tmp_path / "a" / "b" / "m.obj")
    assert load(path).n_faces == 20


def test_stl_is_a_soup_that_clean_welds(tmp_path):
    s = icosphere(1)
    path = save(s, tmp_path / "ico.stl")
    raw = load(path)
    assert raw.n_verts == 3 * s.n_faces and raw.n_faces == s.n_faces
    m = load(path, clean=True)
    assert m.n_verts == s.n_verts and m.n_faces == s.n_faces
    assert any("welded" in r for r in m.repairs)
    assert meshlearn.validate(m).ok
    assert m.area() == pytest.approx(s.area(), rel=1e-6)
    # every kept vertex sits where the soup vertex it came from was
    np.testing.assert_array_equal(m.verts, raw.verts[m.meta["vertex_map"]])


def test_obj_polygons_negative_indices_continuations(tmp_path):
    text = (
        "# a unit square as a quad, and a triangle with relative indices\n"
        "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nvn 0 0 1\n"
        "f 1/1/1 2/1/1 \\\n 3/1/1 4//1\n"
        "v 2 0 0\nf -4 -1 -3\n"
        "l 1 2\n"
    )
    path = tmp_path / "poly.obj"
    path.write_text(text)
    m = load(path)
    assert m.n_verts == 5 and m.meta["non_triangle_faces"] == 1
    assert np.array_equal(m.faces, [[0, 1, 2], [0, 2, 3], [1, 4, 2]])


def test_off_polygons_and_colours(tmp_path):
    path = tmp_path / "sq.off"
    path.write_text("OFF\n# comment\n5 2 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n2 0 0\n4 0 1 2 3 255 0 0\n3 1 4 2\n")
    m = load(path)
    assert m.n_faces == 3 and m.meta["non_triangle_faces"] == 1
    assert m.area() == pytest.approx(1.5)


def test_ascii_polygon_ply(tmp_path):
    path = tmp_path / "q.ply"
    path.write_text(
        "ply\nformat ascii 1.0\nelement vertex 5\nproperty float x\nproperty float y\nproperty float z\n"
        "element face 2\nproperty list uchar int vertex_indices\nend_header\n"
        "0 0 0\n1 0 0\n1 1 0\n0 1 0\n2 0 0\n4 0 1 2 3\n3 1 4 2\n"
    )
    m = load(path)
    assert m.meta["non_triangle_faces"] == 1 and m.n_faces == 3
    assert np.array_equal(m.faces, [[0, 1, 2], [0, 2, 3], [1, 4, 2]])


def test_binary_polygon_ply_that_trimesh_rejects(shared_meshes):
    import open3d as o3d

    path = shared_meshes / "defects" / "potpourri3d__bunny_poly.ply"
    m = load(path)
    assert m.n_verts == 1241 and m.meta["non_triangle_faces"] == 996
    # a valid file, so open3d (which triangulates polygons itself) is a safe reference here
    ref = o3d.io.read_triangle_mesh(str(path))
    np.testing.assert_allclose(m.verts, np.asarray(ref.vertices), rtol=0, atol=1e-7)
    assert m.n_faces == len(ref.triangles)
    # open3d splits polygons by ear clipping, meshlearn by fans: for these slightly non-planar quads
    # the two triangulations agree in area to a few parts per million
    assert m.area() == pytest.approx(ref.get_surface_area(), rel=1e-4)
    assert meshlearn.validate(m).ok


@pytest.mark.parametrize("name", ["trimesh__quadknot.obj", "trimesh__rabbit.obj", "trimesh__wallhole.obj",
                                  "geometry-central__platonic_shelf.obj"])
def test_real_polygon_files_are_triangulated(shared_meshes, name):
    m = load(shared_meshes / "defects" / name)
    assert m.meta["non_triangle_faces"] > 0
    report = meshlearn.validate(m)
    assert report.non_triangle_faces == m.meta["non_triangle_faces"]
    assert report.out_of_range_faces == 0 and report.degenerate_faces == 0


def test_obj_keeps_file_vertex_order_with_several_objects(shared_meshes):
    path = shared_meshes / "defects" / "trimesh__chair_model.obj"
    coords = np.array([ln.split()[1:4] for ln in path.read_text().splitlines() if ln.startswith("v ")], float)
    m = load(path)
    np.testing.assert_array_equal(m.verts, coords)


# ------------------------------------------------------------------ point clouds


def test_xyz_and_pts(tmp_path):
    pts = sphere_points(50).verts
    (tmp_path / "a.xyz").write_text("\n".join(f"{x:.17g} {y:.17g} {z:.17g} 0 0 1" for x, y, z in pts))
    lines = [f"{x:.17g} {y:.17g} {z:.17g} 7 1 2 3" for x, y, z in pts]
    (tmp_path / "a.pts").write_text(f"{len(pts)}\n" + "\n".join(lines))
    for ext in ("xyz", "pts"):
        p = load(tmp_path / f"a.{ext}")
        assert not p.is_mesh and p.name == "a"
        np.testing.assert_array_equal(p.verts, pts)


@pytest.mark.parametrize("mode", ["ascii", "binary", "compressed"])
def test_pcd_written_by_open3d(tmp_path, mode):
    import open3d as o3d

    pts = sphere_points(100).verts
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    pc.colors = o3d.utility.Vector3dVector(np.abs(pts))
    path = str(tmp_path / "a.pcd")
    assert o3d.io.write_point_cloud(path, pc, write_ascii=mode == "ascii", compressed=mode == "compressed")
    p = load(path)
    assert not p.is_mesh and p.n_verts == 100
    np.testing.assert_allclose(p.verts, pts, atol=1e-6)


def test_vertex_only_ply_is_a_point_cloud(tmp_path, shared_meshes):
    s = sphere_points(30)
    path = save(s, tmp_path / "p.ply")
    p = load(path)
    assert not p.is_mesh and np.allclose(p.verts, s.verts, atol=1e-6)
    spot = load(shared_meshes / "pointclouds" / "spot_points.ply")
    assert not spot.is_mesh and spot.n_verts == 2930
    mesh = load(shared_meshes / "clean" / "spot.ply")
    np.testing.assert_allclose(spot.verts, mesh.verts)


def test_bunny_points_xyz(shared_meshes):
    p = load(shared_meshes / "pointclouds" / "stanford_bunny_scan_points.xyz")
    m = load(shared_meshes / "clean" / "stanford_bunny_scan.off")
    assert not p.is_mesh and p.n_verts == m.n_verts == 34834
    np.testing.assert_allclose(p.verts, m.verts, atol=1e-5)


# ------------------------------------------------------------------ errors


def test_missing_folder_and_unsupported(tmp_path):
    with pytest.raises(InvalidMeshError, match="no such file"):
        load(tmp_path / "nope.obj")
    (tmp_path / "d.ply").mkdir()
    with pytest.raises(InvalidMeshError, match="is a folder"):
        load(tmp_path / "d.ply")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(UnsupportedFormatError, match=r"x.txt: unsupported file type '.txt'"):
        load(tmp_path / "x.txt")
    (tmp_path / "e.obj").write_bytes(b"")
    with pytest.raises(InvalidMeshError, match="e.obj: the file is empty"):
        load(tmp_path / "e.obj")
    (tmp_path / "junk.off").write_bytes(b"\x00\x01garbage")
    with pytest.raises(UnsupportedFormatError, match="not an OFF file"):
        load(tmp_path / "junk.off")


def test_errors_are_also_builtin_errors(tmp_path):
    with pytest.raises(ValueError):
        load(tmp_path / "nope.obj")


def test_nan_without_clean_suggests_clean():
    s = icosphere(1)
    v = s.verts.copy()
    v[5] = np.nan
    with pytest.raises(InvalidMeshError, match="1 vertices have NaN.*clean=True"):
        load((v, s.faces))


def test_all_nan_cannot_be_cleaned():
    s = icosphere(0)
    with pytest.raises(InvalidMeshError, match="every vertex has NaN"):
        load((np.full_like(s.verts, np.nan), s.faces), clean=True)


def test_empty_inputs():
    with pytest.raises(InvalidMeshError, match="no vertices"):
        load(np.zeros((0, 3)))
    with pytest.raises(InvalidMeshError, match=r"shape \(V, 3\)"):
        load(np.zeros((4, 2)))
    # a mesh with an empty face list is its vertices: a point cloud
    p = load((np.eye(3), np.zeros((0, 3), int)))
    assert not p.is_mesh


def test_out_of_range_message_names_file_count_example_and_fix(tmp_path):
    path = tmp_path / "bad.off"
    path.write_text("OFF\n4 3 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1 2\n3 0 1 7\n3 1 2 7\n")
    for clean in (False, True):
        with pytest.raises(InvalidMeshError) as e:
            load(path, clean=clean)
        msg = str(e.value)
        assert msg.startswith(f"{path}: 2 faces reference") and "vertex 7" in msg and "has 4 vertices" in msg
        assert "re-export" in msg


def test_save_is_atomic_and_checks_the_extension(tmp_path):
    path = save(sphere_points(10), tmp_path / "p.xyz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.xyz"]  # no temporary file left behind
    assert load(path).n_verts == 10
    with pytest.raises(UnsupportedFormatError, match="a point cloud is saved as"):
        save(sphere_points(10), tmp_path / "p.obj")
    with pytest.raises(UnsupportedFormatError, match="a mesh is saved as"):
        save(icosphere(0), tmp_path / "m.xyz")


def test_clean_twice_composes_the_maps():
    v, f = icosphere(0).verts, icosphere(0).faces
    v2 = np.vstack([[5.0, 5, 5], v, [6.0, 6, 6]])
    once = load((v2, f + 1), clean=True)
    assert np.array_equal(once.meta["vertex_map"], np.arange(1, 13))
    again = load(once, clean=True)
    assert again.repairs == once.repairs and np.array_equal(again.meta["vertex_map"], np.arange(1, 13))
    # a shape edited after cleaning (a vertex added and used) gets fresh maps, not stale ones
    edited = once.with_(verts=np.vstack([once.verts, [[7.0, 7, 7]]]), faces=np.vstack([once.faces, [[0, 1, 12]]]))
    fresh = load(edited, clean=True)
    assert np.array_equal(fresh.meta["vertex_map"], np.arange(13))


# ------------------------------------------------------------------ normalisation


def test_normalize_area_and_radius():
    s = icosphere(2, radius=3.0)
    shifted = (s.verts + [1.0, -2.0, 5.0], s.faces)
    a = load(shifted, normalize="area")
    assert a.area() == pytest.approx(1.0)
    np.testing.assert_allclose(a.meta["offset"], [1.0, -2.0, 5.0], atol=1e-12)
    # the recorded transform reproduces the result
    np.testing.assert_allclose((shifted[0] - a.meta["offset"]) * a.meta["scale"], a.verts)
    r = load(shifted, normalize="radius")
    assert np.linalg.norm(r.verts, axis=1).max() == pytest.approx(1.0)
    assert r.meta["normalize"] == "radius" and r.meta["scale"] == pytest.approx(1 / 3.0)


def test_normalize_points_and_bad_kind():
    pts = sphere_points(200).verts * 4 + 7
    p = load(pts, normalize="area")
    np.testing.assert_allclose(p.verts.mean(0), 0, atol=1e-12)
    assert np.linalg.norm(p.verts, axis=1).max() == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="normalize must be one of"):
        load(pts, normalize="unit")


def test_area_weighted_centroid_differs_from_vertex_mean():
    # a square split so that vertices crowd one corner: area-weighted centre is the square's centre
    verts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0.1, 0.1, 0], [0.05, 0.05, 0]], float)
    faces = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    assert not np.allclose(verts.mean(0), [0.5, 0.5, 0.0])
    m = load((verts, faces), normalize="area")
    np.testing.assert_allclose(m.meta["offset"], [0.5, 0.5, 0.0], atol=1e-12)


# ------------------------------------------------------------------ every real file


def test_every_real_mesh_loads_clean(shared_meshes):
    paths = sorted(p for p in shared_meshes.rglob("*") if p.suffix.lower() in (".obj", ".ply", ".off", ".stl", ".xyz"))
    assert len(paths) >= 25
    for path in paths:
        s = load(path, clean=True)
        assert s.n_verts > 0, path
        report = meshlearn.validate(s)
        assert report.nonfinite_verts == report.out_of_range_faces == report.degenerate_faces == 0, path
        assert report.duplicate_faces == report.unreferenced_verts == report.duplicate_verts == 0, path
        assert len(s.meta["vertex_map"]) == s.n_verts


def test_shape_refuses_fractional_face_indices():
    # casting 2.7 to the int64 index 2 would silently build another mesh
    with pytest.raises(InvalidMeshError, match="whole numbers"):
        Shape(np.eye(3), np.array([[0.0, 1.0, 2.7]]))
    s = Shape(np.eye(3), np.array([[0.0, 1.0, 2.0]]))
    assert s.faces.dtype == np.int64 and s.faces.tolist() == [[0, 1, 2]]
