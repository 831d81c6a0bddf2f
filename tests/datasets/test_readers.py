"""Readers: small fake folders in every layout parse; wrong layouts and files get clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from meshlearn.datasets import detect_layout, load_sample, read_dataset, read_split
from meshlearn.errors import DatasetError
from meshlearn.testing import icosphere


def _mesh(path, subdiv=1, shift=0.0):
    s = icosphere(subdiv)
    path.parent.mkdir(parents=True, exist_ok=True)
    s.with_(verts=s.verts + shift).to_trimesh().export(path)
    return s


def _ints(path, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{int(v)}\n" for v in values))


def _hemisphere_face_labels(s):
    return (s.verts[s.faces].mean(1)[:, 2] > 0).astype(int)


def test_labelled_layout_vertex_and_face_labels(tmp_path):
    for split in ("train", "test"):
        s = _mesh(tmp_path / split / "meshes" / "a.ply")
        _ints(tmp_path / split / "labels" / "a.txt", (s.verts[:, 2] > 0).astype(int))
        _mesh(tmp_path / split / "meshes" / "b.off")
        _ints(tmp_path / split / "labels" / "b.txt", _hemisphere_face_labels(s))
    parts = read_dataset(tmp_path)
    assert parts["train"].layout == "labelled" and [r.name for r in parts["test"].records] == ["a", "b"]
    a = load_sample(parts["train"].records[0], normalize=None)  # the file's coordinates
    np.testing.assert_array_equal(a.labels, (a.shape.verts[:, 2] > 0).astype(int))
    assert a.face_labels is None
    b = load_sample(parts["train"].records[1], normalize=None)
    assert b.face_labels.shape == (b.shape.n_faces,)
    # A vertex whose faces all lie in one hemisphere takes that hemisphere's label.
    z = b.shape.verts[:, 2]
    inside = np.abs(z) > 0.5
    np.testing.assert_array_equal(b.labels[inside], (z[inside] > 0).astype(int))


def test_label_count_mismatch_names_both_counts(tmp_path):
    _mesh(tmp_path / "train" / "meshes" / "a.ply")
    _ints(tmp_path / "train" / "labels" / "a.txt", [0] * 7)
    with pytest.raises(DatasetError, match=r"7 labels.*42 vertices and 80 faces"):
        load_sample(read_split(tmp_path / "train").records[0])


def test_faust_r_layout_and_template_targets(tmp_path):
    for split in ("train", "test"):
        s = _mesh(tmp_path / split / "off" / "tr_000.off")
        perm = np.random.default_rng(0).permutation(s.n_verts)[:30]
        _ints(tmp_path / split / "corres" / "tr_000.vts", perm + 1)
    parts = read_dataset(tmp_path)
    assert parts["train"].layout == "faust_r"
    smp = load_sample(parts["train"].records[0])
    np.testing.assert_array_equal(smp.vts, perm)
    tv = smp.template_vertex
    np.testing.assert_array_equal(tv[perm], np.arange(30))
    assert np.sum(tv >= 0) == 30 and np.all(tv[np.setdiff1d(np.arange(42), perm)] == -1)


def test_vts_out_of_range(tmp_path):
    _mesh(tmp_path / "off" / "x.off")
    _ints(tmp_path / "corres" / "x.vts", [1, 2, 43])
    with pytest.raises(DatasetError, match="out of range.*1..42"):
        load_sample(read_split(tmp_path).records[0])


def test_coseg_layout_one_based_face_labels(tmp_path):
    s = _mesh(tmp_path / "shapes" / "1.off")
    _ints(tmp_path / "gt" / "1.seg", _hemisphere_face_labels(s) + 1)
    _mesh(tmp_path / "shapes" / "2.off")
    _ints(tmp_path / "gt" / "2.seg", _hemisphere_face_labels(s) + 1)
    assert detect_layout(tmp_path) == "coseg"
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": ["1"], "test": ["2"]}))
    parts = read_dataset(tmp_path, split_file=split)
    smp = load_sample(parts["test"].records[0])
    np.testing.assert_array_equal(smp.face_labels, _hemisphere_face_labels(s))


def test_one_folder_without_split_file_asks_for_one(tmp_path):
    _mesh(tmp_path / "shapes" / "1.off")
    _ints(tmp_path / "gt" / "1.seg", [1] * 80)
    with pytest.raises(DatasetError, match="split file"):
        read_dataset(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": ["1"], "test": ["nope"]}))
    with pytest.raises(DatasetError, match="nope"):
        read_dataset(tmp_path, split_file=bad)


def test_faust_registrations_identity(tmp_path):
    for split in ("train", "test"):
        _mesh(tmp_path / split / "tr_reg_000.ply")
        _mesh(tmp_path / split / "tr_reg_001.ply", shift=1.0)
    parts = read_dataset(tmp_path)
    assert parts["test"].layout == "faust_reg"
    smp = load_sample(parts["test"].records[1])
    np.testing.assert_array_equal(smp.vts, np.arange(42))
    np.testing.assert_array_equal(smp.template_vertex, np.arange(42))


def test_class_folders(tmp_path):
    for split in ("train", "test"):
        _mesh(tmp_path / split / "ant" / "a1.obj")
        _mesh(tmp_path / split / "hand" / "h1.obj")
    parts = read_dataset(tmp_path)
    assert parts["train"].layout == "classes" and parts["train"].classes == ("ant", "hand")
    assert [load_sample(r).class_label for r in parts["train"].records] == [0, 1]


def test_human_segmentation_benchmark_layout(tmp_path):
    s = _mesh(tmp_path / "meshes" / "train" / "faust" / "tr_reg_000.off")
    _mesh(tmp_path / "meshes" / "train" / "faust" / "tr_reg_001.off")
    _ints(tmp_path / "segs" / "train" / "faust" / "faust_corrected.txt", _hemisphere_face_labels(s) + 1)
    _mesh(tmp_path / "meshes" / "train" / "adobe" / "man.off")
    _ints(tmp_path / "segs" / "train" / "adobe" / "man.txt", [1] * 80)
    _mesh(tmp_path / "meshes" / "train" / "MIT_animation" / "meshes_squat1" / "meshes" / "m_000.off")
    _ints(tmp_path / "segs" / "train" / "mit" / "mit_squat1_corrected.txt", [2] * 80)
    _mesh(tmp_path / "meshes" / "test" / "shrec" / "12_fix_orientation.off")
    _ints(tmp_path / "segs" / "test" / "shrec" / "shrec_12_full.txt", [3] * 80)
    parts = read_dataset(tmp_path)
    assert parts["train"].layout == "human_seg" and len(parts["train"]) == 4 and len(parts["test"]) == 1
    by_name = {r.name: load_sample(r) for r in parts["train"].records}
    np.testing.assert_array_equal(by_name["faust/tr_reg_001"].face_labels, _hemisphere_face_labels(s))
    assert set(by_name["MIT_animation/meshes_squat1/meshes/m_000"].labels) == {1}
    assert set(load_sample(parts["test"].records[0]).labels) == {2}


def test_human_segmentation_missing_label_file(tmp_path):
    _mesh(tmp_path / "meshes" / "train" / "scape" / "x.off")
    (tmp_path / "segs" / "train" / "scape").mkdir(parents=True)
    (tmp_path / "meshes" / "test").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no label file"):
        read_dataset(tmp_path)


def test_unknown_layout_says_what_was_expected(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    (tmp_path / "train" / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match=r"matches no known dataset layout.*labels/<name>.txt.*corres/<name>.vts"):
        read_dataset(tmp_path)
    with pytest.raises(DatasetError, match="no such dataset folder"):
        read_dataset(tmp_path / "missing")
    with pytest.raises(DatasetError, match="matches no known"):
        read_dataset(tmp_path / "train")


def test_mixed_layouts_rejected(tmp_path):
    s = _mesh(tmp_path / "train" / "meshes" / "a.ply")
    _ints(tmp_path / "train" / "labels" / "a.txt", [0] * s.n_verts)
    _mesh(tmp_path / "test" / "tr_reg_000.ply")
    with pytest.raises(DatasetError, match="one layout for both"):
        read_dataset(tmp_path)


def test_point_cloud_file_loads_without_faces(tmp_path):
    import trimesh

    pts = icosphere(1).verts
    (tmp_path / "meshes").mkdir()
    trimesh.PointCloud(pts).export(tmp_path / "meshes" / "p.ply")
    _ints(tmp_path / "labels" / "p.txt", np.arange(len(pts)) % 3)
    smp = load_sample(read_split(tmp_path).records[0])
    assert smp.shape.faces is None and smp.labels.shape == (42,)


def test_faust_r_symmetric_correspondences_are_read(tmp_path):
    for split in ("train", "test"):
        s = _mesh(tmp_path / split / "off" / "tr_000.off")
        perm = np.random.default_rng(0).permutation(s.n_verts)[:30]
        _ints(tmp_path / split / "corres" / "tr_000.vts", perm + 1)
        _ints(tmp_path / split / "corres" / "tr_000.sym.vts", perm[::-1] + 1)
    smp = load_sample(read_dataset(tmp_path)["train"].records[0])
    np.testing.assert_array_equal(smp.sym_vts, smp.vts[::-1])
    _ints(tmp_path / "train" / "corres" / "tr_000.sym.vts", [10**6])
    with pytest.raises(DatasetError, match="out of range"):
        load_sample(read_dataset(tmp_path)["train"].records[0])
