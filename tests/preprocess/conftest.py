"""Fixtures for the preprocessing tests: folders of generated good, repairable and broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from meshlearn.testing import bumpy_sphere, icosphere, sphere_points


def write_obj(path: Path, verts: np.ndarray, faces: np.ndarray) -> Path:
    """Plain-text OBJ writer, so that tests can write deliberately broken files."""
    with open(path, "w") as fh:
        for p in verts:
            fh.write("v %.17g %.17g %.17g\n" % tuple(p))
        for t in faces:
            fh.write("f %d %d %d\n" % tuple(np.asarray(t) + 1))
    return path


def write_ply(path: Path, verts: np.ndarray, faces: np.ndarray | None) -> Path:
    obj = trimesh.PointCloud(verts) if faces is None else trimesh.Trimesh(verts, faces, process=False)
    obj.export(path)
    return path


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small dense eigenproblems run fastest on one thread, above all on a busy machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture
def mixed_folder(tmp_path: Path) -> dict[str, list[Path]]:
    """A folder with good, repairable and broken shape files, and files that are not shapes."""
    root = tmp_path / "scans"
    (root / "sub" / "deeper").mkdir(parents=True)
    good = [
        write_ply(root / "bumpy0.ply", bumpy_sphere(2, seed=0).verts, bumpy_sphere(2, seed=0).faces),
        write_obj(root / "sub" / "bumpy1.obj", bumpy_sphere(2, seed=1).verts, bumpy_sphere(2, seed=1).faces),
        write_ply(root / "sub" / "deeper" / "sphere.PLY", icosphere(3).verts, icosphere(3).faces),
    ]
    s = bumpy_sphere(2, seed=3)
    soup = s.verts[s.faces].reshape(-1, 3)  # every triangle with its own three vertices
    nan = s.verts.copy()
    nan[5] = np.nan
    repairable = [  # with clean=True
        write_obj(root / "soup.obj", soup, np.arange(len(soup)).reshape(-1, 3)),
        write_obj(
            root / "dup_faces.obj",
            np.vstack([s.verts, [[5.0, 5.0, 5.0]]]),  # plus an unreferenced vertex
            np.vstack([s.faces, s.faces[:3]]),  # and three duplicate faces
        ),
        write_obj(root / "nan.obj", nan, s.faces),  # a NaN vertex: dropped with its faces
    ]
    whole = write_ply(root / "truncated.ply", s.verts, s.faces).read_bytes()
    broken = [
        root / "garbage.ply",
        root / "empty.obj",
        write_obj(root / "out_of_range.obj", s.verts, np.vstack([s.faces, [[0, 1, 999]]])),
        root / "truncated.ply",
    ]
    (root / "garbage.ply").write_bytes(b"\x00\x01 not a ply file " * 20)
    (root / "empty.obj").write_text("")
    (root / "truncated.ply").write_bytes(whole[: len(whole) - 700])  # cut inside the face list
    (root / "README.md").write_text("not a shape")
    (root / "notes.txt").write_text("bumpy0.ply\n")  # a .txt inside a folder is not a list file
    return {"root": [root], "good": good, "repairable": repairable, "broken": broken}


@pytest.fixture
def sphere_folder(tmp_path: Path):
    """A folder of ``n`` distinct bumpy spheres with 2562 vertices (a few tenths of a second each at k=16)."""

    def make(n: int, subdivisions: int = 4) -> Path:
        root = tmp_path / f"spheres{n}"
        root.mkdir()
        for i in range(n):
            s = bumpy_sphere(subdivisions, seed=i)
            write_ply(root / f"s{i:03d}.ply", s.verts, s.faces)
        return root

    return make


@pytest.fixture
def point_cloud_file(tmp_path: Path) -> Path:
    p = sphere_points(3000, seed=2)
    path = tmp_path / "cloud.xyz"
    np.savetxt(path, p.verts)
    return path
