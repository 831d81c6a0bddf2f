"""The procedural shape classes: closed surfaces of the right topology, class folders, same seed same
bytes, each shape meshed on its own, sizes and vertex counts that do not tell the class."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from meshlearn.datasets import SHAPE_CLASSES, generate_class_shape, read_dataset, write_class_dataset
from meshlearn.errors import ConfigError

#: Euler characteristic 2 - 2 genus of each class
GENUS = {"torus": 1, "double_torus": 2}


@pytest.mark.parametrize("name", SHAPE_CLASSES)
def test_every_class_is_a_closed_outward_surface_of_its_genus(name):
    import trimesh

    item = generate_class_shape(name, 3, n_vertices=400)
    mesh = trimesh.Trimesh(item.shape.verts, item.shape.faces, process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    assert mesh.euler_number == 2 - 2 * GENUS.get(name, 0)
    assert 0.6 * 400 < item.shape.n_verts < 1.5 * 400
    assert item.label == SHAPE_CLASSES.index(name) and item.class_name == name


def test_shapes_of_a_class_differ_in_proportions_meshing_and_pose():
    a, b = (generate_class_shape("capsule", s, n_vertices=400).shape for s in (0, 1))
    assert a.n_verts != b.n_verts
    # not the same surface moved: the ratios of the principal extents differ
    def extents(s):
        v = s.verts - s.verts.mean(0)
        return np.sort(np.linalg.svd(v, compute_uv=False))

    ea, eb = extents(a), extents(b)
    assert abs(ea[2] / ea[0] - eb[2] / eb[0]) > 0.01
    # random rigid motion: the long axis points elsewhere
    axis = [np.linalg.svd(s.verts - s.verts.mean(0), full_matrices=False)[2][0] for s in (a, b)]
    assert abs(axis[0] @ axis[1]) < 0.99


def test_size_and_vertex_count_do_not_give_the_class_away():
    sizes, counts = {}, {}
    for name in ("torus", "table", "helix"):
        items = [generate_class_shape(name, s, n_vertices=300).shape for s in range(4)]
        sizes[name] = [float(np.ptp(it.verts, axis=0).max()) for it in items]
        counts[name] = [it.n_verts for it in items]
    # each class's range of sizes and of vertex counts overlaps every other's
    for table in (sizes, counts):
        lo = max(min(v) for v in table.values())
        hi = min(max(v) for v in table.values())
        assert lo < hi


def test_class_folders_read_back_with_every_class_in_both_splits(tmp_path):
    out = write_class_dataset(tmp_path / "d", n=12, n_classes=3, n_vertices=150, seed=4, progress=False)
    splits = read_dataset(out)
    assert splits["train"].layout == "classes" and splits["test"].layout == "classes"
    assert splits["train"].classes == splits["test"].classes == tuple(sorted(SHAPE_CLASSES[:3]))
    assert len(splits["train"]) == 9 and len(splits["test"]) == 3
    names = [r.name for r in splits["test"].records]
    assert names == sorted(f"{c}/{c}_003" for c in SHAPE_CLASSES[:3])


def test_same_seed_same_bytes_other_seed_other_shapes(tmp_path):
    def digest(root):
        return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*.ply"))}

    a = write_class_dataset(tmp_path / "a", n=4, n_classes=2, n_vertices=120, seed=7, progress=False)
    b = write_class_dataset(tmp_path / "b", n=4, n_classes=2, n_vertices=120, seed=7, progress=False)
    c = write_class_dataset(tmp_path / "c", n=4, n_classes=2, n_vertices=120, seed=8, progress=False)
    assert digest(a) == digest(b)
    assert set(digest(a)) == set(digest(c)) and digest(a) != digest(c)


def test_bad_arguments_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown shape class 'cube'"):
        generate_class_shape("cube", 0)
    with pytest.raises(ConfigError, match="n must be at least 6"):
        write_class_dataset(tmp_path, n=5, n_classes=3, progress=False)
    with pytest.raises(ConfigError, match="n_classes must lie in 2..10"):
        write_class_dataset(tmp_path, n=40, n_classes=11, progress=False)
