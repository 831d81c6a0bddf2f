"""meshlearn.io.formats.off: the OFF layouts libraries get wrong, read as the format allows."""

from __future__ import annotations

import numpy as np
import pytest

from meshlearn import InvalidMeshError, UnsupportedFormatError, load

# a unit cube as six outward quads: 8 vertices, 6 faces, 12 edges
CUBE_V = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], float)
CUBE_Q = [[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]]
VERT_LINES = "".join(f"{x:g} {y:g} {z:g}\n" for x, y, z in CUBE_V)
QUAD_LINES = "".join(f"4 {a} {b} {c} {d}\n" for a, b, c, d in CUBE_Q)


def _fan(quads):
    return [[q[0], q[j], q[j + 1]] for q in quads for j in (1, 2)]


def _check_cube(m):
    np.testing.assert_array_equal(m.verts, CUBE_V)
    assert m.faces.tolist() == _fan(CUBE_Q)
    assert m.meta["non_triangle_faces"] == 6
    assert m.area() == pytest.approx(6.0)


def test_counts_glued_to_the_header_keyword(tmp_path):
    # "OFF8 6 12": the counts V F E on the header line, the first one glued to the keyword. A valid
    # file (trimesh reads it) that meshlearn once called corrupt by taking 6 and 12 as V and F.
    path = tmp_path / "cube.off"
    path.write_text("OFF8 6 12\n" + VERT_LINES + QUAD_LINES)
    _check_cube(load(path))
    _check_cube(load(path, clean=True))


@pytest.mark.parametrize("head", ["OFF 8 6 12\n", "OFF\n8 6 12\n", "OFF\n# counts next\n\n8 6 12\n", "OFF 8 6\n"])
def test_counts_on_the_header_line_or_the_next(tmp_path, head):
    path = tmp_path / "cube.off"
    path.write_text(head + VERT_LINES + QUAD_LINES)
    _check_cube(load(path))


def test_colour_and_normal_variants(tmp_path):
    coff = tmp_path / "c.off"
    coff.write_text("COFF\n8 6 12\n" + "".join(f"{ln.strip()} 255 0 0 255\n" for ln in VERT_LINES.splitlines()) + QUAD_LINES)
    _check_cube(load(coff))
    noff = tmp_path / "n.off"
    noff.write_text("NOFF 8 6 12\n" + "".join(f"{ln.strip()} 0 0 1\n" for ln in VERT_LINES.splitlines()) + QUAD_LINES)
    _check_cube(load(noff))


def test_faces_wrapped_over_several_lines(tmp_path):
    # trimesh loads this file with no faces at all, open3d not at all
    wrapped = "".join(f"4 {a} {b}\n    {c}\n {d}\n" for a, b, c, d in CUBE_Q)
    path = tmp_path / "wrapped.off"
    path.write_text("OFF\n8 6 12\n" + VERT_LINES + wrapped)
    _check_cube(load(path))


def test_face_colours_after_the_indices_are_ignored(tmp_path):
    coloured = "".join(f"4 {a} {b} {c} {d} 0.5 0.5 0.5 1\n" for a, b, c, d in CUBE_Q)
    path = tmp_path / "coloured.off"
    path.write_text("OFF\n8 6 12\n" + VERT_LINES + coloured)
    _check_cube(load(path))


def test_hexagon_is_one_polygon(tmp_path):
    # trimesh raises a TypeError on faces of more than four corners
    ring = [(float(np.cos(t)), float(np.sin(t)), 0.0) for t in np.linspace(0, 2 * np.pi, 7)[:-1]]
    path = tmp_path / "hex.off"
    path.write_text("OFF\n6 1 0\n" + "".join(f"{x!r} {y!r} {z!r}\n" for x, y, z in ring) + "6 0 1 2 3 4 5\n")
    m = load(path)
    assert m.n_faces == 4 and m.meta["non_triangle_faces"] == 1
    assert m.area() == pytest.approx(3 * np.sqrt(3) / 2)  # the regular hexagon of unit radius


def test_truncated_and_unsupported_files_name_the_file(tmp_path):
    short = tmp_path / "short.off"
    short.write_text("OFF\n8 6 12\n" + VERT_LINES + "".join(QUAD_LINES.splitlines(True)[:5]) + "4 3 0\n 4\n")
    with pytest.raises(InvalidMeshError, match=rf"{short}: the OFF file ends inside its faces"):
        load(short)
    few = tmp_path / "few.off"
    few.write_text("OFF\n8 6 12\n" + VERT_LINES[:20])
    with pytest.raises(InvalidMeshError, match=rf"{few}: OFF header announces 8 vertices and 6 faces"):
        load(few)
    counts = tmp_path / "counts.off"
    counts.write_text("OFF\nlots of faces\n")
    with pytest.raises(InvalidMeshError, match=rf"{counts}: OFF count line is unreadable"):
        load(counts)
    bad_face = tmp_path / "bad_face.off"
    bad_face.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 one 2\n")
    with pytest.raises(InvalidMeshError, match=rf"{bad_face}: unreadable OFF face"):
        load(bad_face)
    four_d = tmp_path / "4d.off"
    four_d.write_text("4OFF\n1 0 0\n0 0 0 0\n")
    with pytest.raises(UnsupportedFormatError, match=rf"{four_d}: OFF variant '4OFF'"):
        load(four_d)
    binary = tmp_path / "bin.off"
    binary.write_bytes(b"OFF BINARY\n\x00\x00\x00\x08")
    with pytest.raises(UnsupportedFormatError, match=rf"{binary}: binary OFF is not supported"):
        load(binary)


def test_real_scan_keeps_its_vertex_order(shared_meshes):
    path = shared_meshes / "clean" / "stanford_bunny_scan.off"
    toks = path.read_text().split()
    nv, nf = int(toks[1]), int(toks[2])
    m = load(path)
    assert m.n_verts == nv == 34834 and m.n_faces == nf
    np.testing.assert_array_equal(m.verts, np.array(toks[4 : 4 + 3 * nv], float).reshape(-1, 3))
