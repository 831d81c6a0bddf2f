"""meshlearn.io.formats.read_file: the dispatcher, the library-read formats' vertex order, and its errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from meshlearn import InvalidMeshError, MeshlearnError, UnsupportedFormatError, load
from meshlearn.errors import MissingDependencyError
from meshlearn.io import read_file
from meshlearn.testing import icosphere, sphere_points


def _permuted_icosphere():
    s = icosphere(1)
    perm = np.random.default_rng(11).permutation(s.n_verts)
    return s.verts[perm], np.argsort(perm)[s.faces]


@pytest.mark.parametrize("kind", ["stl", "stl_ascii"])
def test_stl_soup_is_in_file_order(tmp_path, kind):
    import trimesh

    v, f = _permuted_icosphere()
    path = tmp_path / "ico.stl"
    data = trimesh.Trimesh(v, f, process=False).export(file_type=kind)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    poly = read_file(path)
    # three corners per triangle, in the order the file lists them (float32 in a binary STL)
    np.testing.assert_allclose(poly.verts, v[f].reshape(-1, 3), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(poly.corners, np.arange(3 * len(f)))
    assert (poly.sizes == 3).all()


def test_obj_with_normals_texture_coordinates_and_negative_indices(tmp_path):
    v, f = _permuted_icosphere()
    text = "".join(f"v {x:.17g} {y:.17g} {z:.17g}\n" for x, y, z in v) + "vn 0 0 1\n"
    text += "".join(f"vt {i / 100} 0\n" for i in range(3 * len(f)))
    for i, (a, b, c) in enumerate(f):
        if i % 3 == 0:
            text += f"f {a + 1}//1 {b + 1}//1 {c + 1}//1\n"
        elif i % 3 == 1:
            text += f"f {a + 1}/{3 * i + 1}/1 {b + 1}/{3 * i + 2}/1 {c + 1}/{3 * i + 3}/1\n"
        else:
            text += f"f {a - len(v)} {b - len(v)} {c - len(v)}\n"  # counted back from the last vertex
    path = tmp_path / "ico.obj"
    path.write_text(text)
    m = load(path)
    np.testing.assert_array_equal(m.verts, v)
    np.testing.assert_array_equal(m.faces, f)


def test_truncated_ascii_pcd_is_an_error_not_invented_points(tmp_path):
    # open3d reads this file as 20 points, the missing ones made up; meshlearn reports it
    pts = sphere_points(20).verts
    head = "VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 20\nHEIGHT 1\nPOINTS 20\nDATA ascii\n"
    path = tmp_path / "cut.pcd"
    path.write_text(head + "".join(f"{x} {y} {z}\n" for x, y, z in pts[:13]))
    with pytest.raises(InvalidMeshError, match=rf"^{path}: PCD data is shorter than its 20 points"):
        load(path)
    path.write_text(head + "".join(f"{x:.17g} {y:.17g} {z:.17g}\n" for x, y, z in pts))
    np.testing.assert_array_equal(load(path).verts, pts)


def test_compressed_pcd_without_open3d_names_the_extra(tmp_path, monkeypatch):
    import open3d as o3d

    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(sphere_points(30).verts))
    path = tmp_path / "c.pcd"
    assert o3d.io.write_point_cloud(str(path), pc, compressed=True)
    monkeypatch.setitem(sys.modules, "open3d", None)  # as if it were not installed
    with pytest.raises(MissingDependencyError, match=r"reading .pcd files needs open3d.*meshlearn\[io\]"):
        load(path)


@pytest.mark.parametrize("ext", [".obj", ".ply", ".off", ".stl", ".pcd", ".xyz", ".pts"])
def test_garbage_files_get_an_error_naming_the_file(tmp_path, ext):
    rng = np.random.default_rng(0)
    for i, data in enumerate([rng.bytes(300), b"ply\nformat ascii 1.0\nelement vertex 3\n" + rng.bytes(50),
                              b"solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 zero\n", "v 1 2\n".encode(),
                              b"OFF\n3 1\n0 0 0\n"]):
        path = tmp_path / f"g{i}{ext}"
        path.write_bytes(data)
        try:
            shape = load(path)
        except MeshlearnError as e:
            assert str(e).startswith(f"{path}: "), e
        else:  # junk that happens to parse (binary STL takes any 84+ bytes) must still be a shape
            assert shape.verts.shape[1] == 3 and np.isfinite(shape.verts).all()


def test_unsupported_extension_lists_what_is_read(tmp_path):
    path = tmp_path / "mesh.gltf"
    path.write_text("{}")
    with pytest.raises(UnsupportedFormatError, match=r"mesh.gltf: unsupported file type '.gltf'.*\.obj .ply .off .stl"):
        read_file(path)
