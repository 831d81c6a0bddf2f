"""meshlearn.io.formats.ply: PLY through trimesh with the file's vertex order, polygons whole, strips as triangles."""

from __future__ import annotations

import numpy as np
import pytest

import meshlearn
from meshlearn import InvalidMeshError, load
from meshlearn.io.formats.tristrips import strips_to_triangles
from meshlearn.testing import icosphere

# a 3 x 1 strip of squares over two rows of four vertices, and a lone triangle above
GRID = np.array([[x, y, 0.0] for y in (0, 1) for x in range(4)] + [[0, 0, 1.0], [1, 0, 1], [0, 1, 1]])
STRIP = [0, 4, 1, 5, 2, 6, 3, 7, -1, 8, 9, 10]
STRIP_TRIS = [[0, 4, 1], [1, 4, 5], [1, 5, 2], [2, 5, 6], [2, 6, 3], [3, 6, 7], [8, 9, 10]]


def _ply(verts, *, order="<", extra=True, faces=None, strips=None) -> bytes:
    """A binary PLY as scanners write it: double x y z plus extra vertex and face properties."""
    fmt = "binary_little_endian" if order == "<" else "binary_big_endian"
    head = ["ply", f"format {fmt} 1.0", "comment written by a test", f"element vertex {len(verts)}",
            "property double x", "property double y", "property double z"]
    fields = [("x", order + "f8"), ("y", order + "f8"), ("z", order + "f8")]
    if extra:
        head += ["property float nx", "property uchar red", "property float confidence"]
        fields += [("nx", order + "f4"), ("red", "u1"), ("confidence", order + "f4")]
    rec = np.zeros(len(verts), dtype=fields)
    for i, c in enumerate("xyz"):
        rec[c] = verts[:, i]
    body = rec.tobytes()
    if faces is not None:
        head += [f"element face {len(faces)}", "property list uchar int vertex_indices"]
        head += ["property uchar flags"] if extra else []
        for f in faces:
            body += bytes([len(f)]) + np.asarray(f, order + "i4").tobytes() + (b"\x01" if extra else b"")
    if strips is not None:
        head += [f"element tristrips {len(strips)}", "property list int int vertex_indices"]
        for s in strips:
            body += np.array([len(s)], order + "i4").tobytes() + np.asarray(s, order + "i4").tobytes()
    return ("\n".join(head + ["end_header"]) + "\n").encode() + body


def _permuted_icosphere():
    s = icosphere(1)
    perm = np.random.default_rng(5).permutation(s.n_verts)
    return s.verts[perm], np.argsort(perm)[s.faces]


@pytest.mark.parametrize("order", ["<", ">"])
def test_binary_ply_with_extra_properties_keeps_vertex_order(tmp_path, order):
    v, f = _permuted_icosphere()
    path = tmp_path / "ico.ply"
    path.write_bytes(_ply(v, order=order, faces=f))
    m = load(path)
    np.testing.assert_array_equal(m.verts, v)
    np.testing.assert_array_equal(m.faces, f)


def test_ascii_ply_with_extra_properties_keeps_vertex_order_and_polygons(tmp_path):
    v, f = _permuted_icosphere()
    quads = [[0, 1, 2, 3]]  # one polygon among the triangles, first in the file
    head = ("ply\nformat ascii 1.0\nelement vertex {}\nproperty double x\nproperty double y\nproperty double z\n"
            "property uchar red\nelement face {}\nproperty list uchar int vertex_indices\nproperty int material\n"
            "end_header\n").format(len(v), len(f) + 1)
    body = "".join(f"{x:.17g} {y:.17g} {z:.17g} 200\n" for x, y, z in v)
    body += "".join(f"{len(p)} {' '.join(map(str, p))} 7\n" for p in quads + f.tolist())
    path = tmp_path / "ico.ply"
    path.write_text(head + body)
    m = load(path, check=False)
    np.testing.assert_array_equal(m.verts, v)
    # trimesh itself puts triangles before the split polygon; the file's order is kept here
    assert m.faces[:2].tolist() == [[0, 1, 2], [0, 2, 3]] and np.array_equal(m.faces[2:], f)
    assert m.meta["non_triangle_faces"] == 1


def test_strips_to_triangles_alternates_and_skips_joins():
    assert strips_to_triangles([np.array(STRIP)]).tolist() == STRIP_TRIS
    # a repeated index (how strips turn corners) gives degenerate triangles, which are no faces
    assert strips_to_triangles([np.array([0, 1, 2, 2, 3, 4])]).tolist() == [[0, 1, 2], [3, 2, 4]]  # parity by position
    assert strips_to_triangles([np.array([0, 1]), np.array([-1])]).shape == (0, 3)


@pytest.mark.parametrize("strips", [[STRIP], [STRIP[:8], STRIP[9:]]], ids=["one strip", "two strips"])
def test_tristrip_ply_loads_as_a_surface(tmp_path, strips):
    # range-scan tools write the surface as an element "tristrips" (int counts, -1 between strips);
    # trimesh and open3d return no faces for it, so the scan would load as a point cloud. One strip
    # is read through trimesh's raw element, strips of different lengths (which trimesh rejects in
    # a binary file) through meshlearn's own list reader.
    path = tmp_path / "strips.ply"
    path.write_bytes(_ply(GRID, extra=False, strips=strips))
    m = load(path)
    np.testing.assert_array_equal(m.verts, GRID)
    assert m.faces.tolist() == STRIP_TRIS
    assert m.area() == pytest.approx(3.0 + 0.5)
    assert meshlearn.validate(m).inconsistent_winding_edges == 0


def test_ascii_tristrip_ply(tmp_path):
    head = ("ply\nformat ascii 1.0\nelement vertex 11\nproperty float x\nproperty float y\nproperty float z\n"
            "element tristrips 2\nproperty list int int vertex_indices\nend_header\n")
    body = "".join(f"{x:g} {y:g} {z:g}\n" for x, y, z in GRID) + "8 0 4 1 5 2 6 3 7\n3 8 9 10\n"
    path = tmp_path / "strips.ply"
    path.write_text(head + body)
    assert load(path).faces.tolist() == STRIP_TRIS


def test_real_binary_polygon_ply_keeps_polygons_whole(shared_meshes):
    # trimesh rejects this file (face lists of 3 and 4 corners in a binary file)
    path = shared_meshes / "defects" / "potpourri3d__bunny_poly.ply"
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    assert b"property float x" in data[:end] and b"element vertex 1241" in data[:end]
    verts = np.frombuffer(data, "<f4", count=3 * 1241, offset=end).reshape(-1, 3)
    m = load(path)
    np.testing.assert_array_equal(m.verts, verts.astype(np.float64))  # the file's vertex order
    assert m.meta["non_triangle_faces"] == 996


def test_truncated_ply_names_the_file(tmp_path):
    v, f = _permuted_icosphere()
    data = _ply(v, faces=f)
    for name, cut in [("tri.ply", len(data) - 7), ("head.ply", 60)]:
        path = tmp_path / name
        path.write_bytes(data[:cut])
        with pytest.raises(InvalidMeshError, match=rf"^{path}: "):
            load(path)
    poly = tmp_path / "poly.ply"
    poly.write_bytes(_ply(GRID[:4], faces=[[0, 1, 2], [0, 1, 2, 3]])[:-3])
    with pytest.raises(InvalidMeshError, match=rf"^{poly}: PLY element face is truncated"):
        load(poly)
