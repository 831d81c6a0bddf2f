"""Which library reads which kind of file: trimesh, meshio, open3d, plyfile and meshlearn's own parsers.

Every file in ``../shared/meshes`` plus small synthetic files of the awkward kinds (OFF with counts on
the header line, COFF/NOFF, wrapped OFF faces, polygons in OFF/PLY/OBJ, PLY with extra properties,
tristrip PLY, ASCII/binary STL, .xyz/.pts/.pcd) goes through each reader. A reader is counted right
for a file when it returns the file's vertices in the file's order and the file's polygons (same
count and corners, before any triangulation). The truth is known for the synthetic files; for the
real ones it is the file's own text (OBJ ``v`` lines, OFF vertex lines) or plyfile's raw records for
PLY, and for STL the soup in file order.

Run from the project root (meshio and plyfile are optional; a missing reader is skipped)::

    PYTHONPATH=$PWD python benchmarks/io_readers.py [--out results/io_readers.md]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MESHES = ROOT.parent / "shared" / "meshes"


# ----------------------------------------------------------------------------- synthetic files

CUBE_V = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], float)
CUBE_Q = [[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]]


def _perm_ico():
    sys.path.insert(0, str(ROOT))
    from meshlearn.testing import icosphere

    s = icosphere(1)
    perm = np.random.default_rng(3).permutation(s.n_verts)
    return s.verts[perm], np.argsort(perm)[s.faces]


def _vlines(v, extra=""):
    return "".join(f"{x:.17g} {y:.17g} {z:.17g}{extra}\n" for x, y, z in np.asarray(v, float))


def _ply_binary(v, polys, *, endian="<", extra=True, strips=None) -> bytes:
    fmt = "binary_little_endian" if endian == "<" else "binary_big_endian"
    head = ["ply", f"format {fmt} 1.0", f"element vertex {len(v)}", "property double x", "property double y",
            "property double z"]
    vdt = [("x", endian + "f8"), ("y", endian + "f8"), ("z", endian + "f8")]
    if extra:
        head += ["property float nx", "property uchar red", "property float quality"]
        vdt += [("nx", endian + "f4"), ("red", "u1"), ("q", endian + "f4")]
    rec = np.zeros(len(v), dtype=vdt)
    rec["x"], rec["y"], rec["z"] = v[:, 0], v[:, 1], v[:, 2]
    body = rec.tobytes()
    if polys is not None:
        head += [f"element face {len(polys)}", "property list uchar int vertex_indices"]
        if extra:
            head += ["property uchar flags"]
        for p in polys:
            body += np.array([len(p)], "u1").tobytes() + np.array(p, endian + "i4").tobytes()
            if extra:
                body += b"\x07"
    if strips is not None:
        head += [f"element tristrips {len(strips)}", "property list int int vertex_indices"]
        for s in strips:
            body += np.array([len(s)], endian + "i4").tobytes() + np.array(s, endian + "i4").tobytes()
    return ("\n".join(head + ["end_header"]) + "\n").encode() + body


def synthetic(folder: Path) -> dict[Path, tuple[np.ndarray, list | None]]:
    """Write the edge-case files; returns path -> (true verts, true polygons or None)."""
    out = {}
    v, f = _perm_ico()
    tris = f.tolist()

    def put(name, data, verts, polys):
        p = folder / name
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
        out[p] = (verts, polys)

    cube_faces = "".join(f"4 {' '.join(map(str, q))}\n" for q in CUBE_Q)
    put("off_header_counts_OFF8.off", "OFF8 6 12\n" + _vlines(CUBE_V) + cube_faces, CUBE_V, CUBE_Q)
    put("off_counts_on_header_line.off", "OFF 8 6 12\n" + _vlines(CUBE_V) + cube_faces, CUBE_V, CUBE_Q)
    put("off_plain_quads.off", "OFF\n8 6 12\n" + _vlines(CUBE_V) + cube_faces, CUBE_V, CUBE_Q)
    put("off_coff.off", "COFF\n8 6 12\n" + _vlines(CUBE_V, " 255 0 0 255") + cube_faces, CUBE_V, CUBE_Q)
    put("off_noff.off", "NOFF\n8 6 12\n" + _vlines(CUBE_V, " 0 0 1") + cube_faces, CUBE_V, CUBE_Q)
    wrapped = "".join(f"4 {q[0]} {q[1]}\n   {q[2]} {q[3]}\n" for q in CUBE_Q)
    put("off_wrapped_faces.off", "OFF\n8 6 12\n" + _vlines(CUBE_V) + wrapped, CUBE_V, CUBE_Q)
    pent_v = np.vstack([CUBE_V, [[0.5, -0.5, 0.5]]])
    mixed = [[0, 1, 8], [1, 5, 8], [5, 4, 8], [4, 0, 8], [4, 5, 6, 7], [0, 3, 2, 1], [1, 2, 6, 5], [2, 3, 7, 6],
             [3, 0, 4, 7]]
    put("off_mixed_tri_quad.off",
        f"OFF\n9 {len(mixed)} 0\n" + _vlines(pent_v) + "".join(f"{len(q)} {' '.join(map(str, q))}\n" for q in mixed),
        pent_v, mixed)
    hexa_v = np.array([[np.cos(t), np.sin(t), 0.0] for t in np.linspace(0, 2 * np.pi, 7)[:-1]] + [[0, 0, 1.0]])
    hexa = [[0, 1, 2, 3, 4, 5], [0, 6, 1], [1, 6, 2], [2, 6, 3], [3, 6, 4], [4, 6, 5], [5, 6, 0]]
    put("off_hexagon.off", f"OFF\n7 7 0\n" + _vlines(hexa_v) + "".join(f"{len(q)} {' '.join(map(str, q))}\n" for q in hexa),
        hexa_v, hexa)
    put("off_permuted_ico.off", f"OFF\n{len(v)} {len(f)} 0\n" + _vlines(v) + "".join(f"3 {a} {b} {c}\n" for a, b, c in f),
        v, tris)

    # OBJ: v//vn, v/vt/vn with more vt than v, negative indices, polygons, two objects
    obj = "o a\n" + "".join("v " + ln for ln in _vlines(CUBE_V).splitlines(True))
    obj += "".join(f"vt {i / 10} {i / 20}\n" for i in range(12)) + "vn 0 0 1\nvn 1 0 0\n"
    obj += "f 1//1 4//1 3//1 2//1\nf 5/1/2 6/2/2 7/3/2 8/4/2\n"
    obj += "o b\nf -8/5 -7/6 -3/7 -4/8\nf 2/9/1 3/10/1 7/11/1 6/12/1\nf 3 4 8 7\nf 4 1 5 8\n"
    put("obj_polygons_negative_vn.obj", obj, CUBE_V, CUBE_Q)
    objt = "".join("v " + ln for ln in _vlines(v).splitlines(True))
    objt += "".join(f"vt {i / 100} 0\n" for i in range(len(f) * 3))
    objt += "".join(f"f {a + 1}/{3 * i + 1} {b + 1}/{3 * i + 2} {c + 1}/{3 * i + 3}\n" for i, (a, b, c) in enumerate(f))
    put("obj_permuted_ico_seams.obj", objt, v, tris)

    ply_head = ("ply\nformat ascii 1.0\nelement vertex {n}\nproperty float x\nproperty float y\nproperty float z\n"
                "property float nx\nproperty uchar red\nelement face {m}\nproperty list uchar int vertex_indices\n"
                "property int material\nend_header\n")
    put("ply_ascii_extra_polygons.ply",
        ply_head.format(n=8, m=6) + _vlines(CUBE_V, " 0.5 200") + "".join(f"4 {' '.join(map(str, q))} 3\n" for q in CUBE_Q),
        CUBE_V, CUBE_Q)
    put("ply_ascii_extra_tris.ply",
        ply_head.format(n=len(v), m=len(f)).replace("property float x\nproperty float y\nproperty float z",
                                                     "property double x\nproperty double y\nproperty double z")
        + _vlines(v, " 0.5 200") + "".join(f"3 {a} {b} {c} 1\n" for a, b, c in f), v, tris)
    put("ply_binary_le_extra_tris.ply", _ply_binary(v, tris), v, tris)
    put("ply_binary_be_extra_tris.ply", _ply_binary(v, tris, endian=">"), v, tris)
    put("ply_binary_le_mixed_polygons.ply", _ply_binary(pent_v, mixed), pent_v, mixed)
    put("ply_binary_be_mixed_polygons.ply", _ply_binary(pent_v, mixed, endian=">", extra=False), pent_v, mixed)
    # a strip over a 2 x 4 grid of vertices and a second strip after a -1 restart
    grid = np.array([[x, y, 0.0] for y in (0, 1) for x in range(4)] + [[0, 0, 1.0], [1, 0, 1], [0, 1, 1]])
    strip = [0, 4, 1, 5, 2, 6, 3, 7, -1, 8, 9, 10]
    strip_tris = [[0, 4, 1], [1, 4, 5], [1, 5, 2], [2, 5, 6], [2, 6, 3], [3, 6, 7], [8, 9, 10]]
    put("ply_tristrips.ply", _ply_binary(grid, None, extra=False, strips=[strip]), grid, strip_tris)

    import trimesh

    soup_v = v[f].reshape(-1, 3)
    soup_f = np.arange(len(soup_v)).reshape(-1, 3).tolist()
    tm = trimesh.Trimesh(v, f, process=False)
    put("stl_binary.stl", tm.export(file_type="stl"), soup_v, soup_f)
    put("stl_ascii.stl", tm.export(file_type="stl_ascii"), soup_v, soup_f)

    put("points.xyz", _vlines(v, " 0 0 1"), v, None)
    put("points_count_line.pts", f"{len(v)}\n" + _vlines(v, " 7 1 2 3"), v, None)
    with contextlib.suppress(ImportError):
        import open3d as o3d

        pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(v))
        for mode in ("ascii", "binary", "compressed"):
            p = folder / f"points_{mode}.pcd"
            o3d.io.write_point_cloud(str(p), pc, write_ascii=mode == "ascii", compressed=mode == "compressed")
            out[p] = (v, None)
    return out


# ----------------------------------------------------------------------------- truth of real files


def real_truth(path: Path):
    ext = path.suffix.lower()
    if ext == ".obj":
        lines = path.read_text(errors="replace").replace("\\\n", " ").splitlines()
        verts = np.array([ln.split()[1:4] for ln in lines if ln.startswith("v ")], float)
        polys = []
        for ln in lines:
            if ln.startswith("f "):
                idx = [int(t.split("/")[0]) for t in ln.split()[1:]]
                polys.append([i - 1 if i > 0 else len(verts) + i for i in idx])
        return verts, polys or None
    if ext == ".off":
        toks = path.read_text().split()
        nv, nf = int(toks[1]), int(toks[2])
        data = toks[4:]
        verts = np.array(data[: 3 * nv], float).reshape(-1, 3)
        rest, polys = data[3 * nv:], []
        i = 0
        for _ in range(nf):
            k = int(rest[i]); polys.append([int(t) for t in rest[i + 1: i + 1 + k]]); i += 1 + k
        return verts, polys or None
    if ext == ".ply":
        import plyfile

        d = plyfile.PlyData.read(str(path))
        vx = d["vertex"]
        verts = np.stack([vx["x"], vx["y"], vx["z"]], 1).astype(float)
        names = [e.name for e in d.elements]
        if "face" not in names:
            return verts, None
        fe = d["face"]
        key = "vertex_indices" if "vertex_indices" in fe.data.dtype.names else "vertex_index"
        return verts, [list(map(int, r)) for r in fe[key]]
    if ext == ".stl":
        import trimesh

        tm = trimesh.load(path, process=False, force="mesh")
        return np.asarray(tm.vertices), np.asarray(tm.faces).tolist()
    if ext == ".xyz":
        return np.loadtxt(path, usecols=(0, 1, 2)), None
    raise ValueError(ext)


# ----------------------------------------------------------------------------- readers


def fan(polys):
    out = []
    for p in polys:
        out += [[p[0], p[j], p[j + 1]] for j in range(1, len(p) - 1)]
    return np.array(out, dtype=np.int64).reshape(-1, 3)


@contextlib.contextmanager
def quiet():
    with warnings.catch_warnings(), open(os.devnull, "w") as dn, contextlib.redirect_stdout(dn):
        warnings.simplefilter("ignore")
        yield


def read_trimesh(path):
    import trimesh

    m = trimesh.load(str(path), process=False, maintain_order=True)
    if isinstance(m, trimesh.Scene):
        m = m.to_mesh() if len(m.geometry) else None
    if m is None:
        raise ValueError("empty scene")
    faces = getattr(m, "faces", None)
    return np.asarray(m.vertices, float), None if faces is None or len(faces) == 0 else np.asarray(faces).tolist(), True


def read_meshio(path):
    import meshio

    m = meshio.read(str(path))
    polys = []
    for block in m.cells:
        if block.type in ("triangle", "quad", "polygon") or block.type.startswith("polygon"):
            polys += np.asarray(block.data).tolist()
    return np.asarray(m.points, float), polys or None, False


def read_open3d(path):
    import open3d as o3d

    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        if path.suffix.lower() in (".xyz", ".pts", ".pcd"):
            pc = o3d.io.read_point_cloud(str(path))
            return np.asarray(pc.points, float), None, True
        m = o3d.io.read_triangle_mesh(str(path))
        if len(m.triangles) == 0 and path.suffix.lower() == ".ply":  # open3d exits the process on .off here
            pc = o3d.io.read_point_cloud(str(path))
            return np.asarray(pc.points, float), None, True
        if len(m.triangles) == 0:
            raise ValueError("no triangles")
        return np.asarray(m.vertices, float), np.asarray(m.triangles).tolist(), True


def read_plyfile(path):
    import plyfile

    if path.suffix.lower() != ".ply":
        raise ValueError("not PLY")
    d = plyfile.PlyData.read(str(path))
    vx = d["vertex"]
    verts = np.stack([vx["x"], vx["y"], vx["z"]], 1).astype(float)
    names = [e.name for e in d.elements]
    if "face" not in names:
        return verts, None, False
    fe = d["face"]
    key = "vertex_indices" if "vertex_indices" in fe.data.dtype.names else "vertex_index"
    return verts, [list(map(int, r)) for r in fe[key]], False


def read_meshlearn(path):
    import meshlearn

    s = meshlearn.load(path, check=False)
    return s.verts, None if s.faces is None else s.faces.tolist(), True


READERS = {"trimesh": read_trimesh, "meshio": read_meshio, "open3d": read_open3d, "plyfile": read_plyfile,
           "meshlearn": read_meshlearn}


def judge(got, truth):
    """'ok', or what is wrong: 'err', 'V' (vertex count), 'order' (vertex order), 'F' (faces), 'poly'."""
    verts, polys, triangulated = got
    tv, tp = truth
    if len(verts) != len(tv):
        return f"V {len(verts)}/{len(tv)}"
    tol = 1e-6 * max(1.0, float(np.abs(tv).max()))
    if not np.allclose(verts, tv, atol=tol, rtol=1e-6):
        return "order"
    if tp is None:
        return "ok" if not polys else "F"
    if polys is None:
        return "no faces"
    if triangulated:
        want = fan(tp)
        got_f = np.asarray(polys, dtype=np.int64).reshape(-1, 3)
        if len(got_f) != len(want):
            return f"F {len(got_f)}/{len(want)}"
        if np.array_equal(got_f, want):
            return "ok"
        # another triangulation of the same polygons: same triangle count, same corner sets per polygon
        return "ok*" if sorted(map(sorted, got_f.tolist())) != sorted(map(sorted, want.tolist())) else "ok"
    if len(polys) != len(tp):
        return f"F {len(polys)}/{len(tp)}"
    return "ok" if all(list(a) == list(b) for a, b in zip(polys, tp)) else "faces"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = synthetic(Path(tmp))
        real = sorted(p for p in MESHES.rglob("*") if p.is_file() and p.suffix != ".md") if MESHES.is_dir() else []
        for p in real:
            try:
                cases[p] = real_truth(p)
            except Exception as e:  # noqa: BLE001
                print(f"no truth for {p.name}: {e}", file=sys.stderr)
        names = [r for r in READERS if _available(r)]
        for path, truth in cases.items():
            row = [path.name]
            for r in names:
                try:
                    with quiet():
                        got = READERS[r](path)
                    row.append(judge(got, truth))
                except (Exception, SystemExit):  # noqa: BLE001 - meshio calls exit() on some OFF files
                    row.append("err")
            rows.append(row)
    head = "| file | " + " | ".join(names) + " |\n|" + "---|" * (len(names) + 1) + "\n"
    table = head + "".join("| " + " | ".join(r) + " |\n" for r in rows)
    totals = "| **right** | " + " | ".join(
        str(sum(r[i + 1].startswith("ok") for r in rows)) + f"/{len(rows)}" for i in range(len(names))) + " |\n"
    table += totals
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)


def _available(name):
    mod = {"trimesh": "trimesh", "meshio": "meshio", "open3d": "open3d", "plyfile": "plyfile", "meshlearn": "meshlearn"}
    try:
        __import__(mod[name])
        return True
    except ImportError:
        return False


if __name__ == "__main__":
    main()
