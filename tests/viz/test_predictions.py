"""Reading labels and a run's predictions (segmentation and correspondence)."""

from __future__ import annotations

import numpy as np
import pytest

from meshlearn.viz import FeatureError, read_labels, read_predictions


def test_read_labels_formats(tmp_path):
    lab = np.array([0, 2, 1, 1, 3])
    np.savetxt(tmp_path / "a.txt", lab, fmt="%d")
    np.save(tmp_path / "b.npy", lab)
    np.savez(tmp_path / "c.npz", labels=lab)
    (tmp_path / "d.csv").write_text("0,2,1,1,3\n")
    for name in ("a.txt", "b.npy", "c.npz", "d.csv"):
        np.testing.assert_array_equal(read_labels(tmp_path / name), lab)
    (tmp_path / "bad.txt").write_text("0.5\n1.5\n")
    with pytest.raises(FeatureError, match="integer"):
        read_labels(tmp_path / "bad.txt")
    with pytest.raises(FeatureError, match="no such labels file"):
        read_labels(tmp_path / "missing.txt")


def test_segmentation_and_correspondence_predictions(tmp_path):
    run = tmp_path / "run"
    (run / "predictions").mkdir(parents=True)
    np.savez(run / "predictions" / "seg.npz", pred=np.array([1, 0, 2]), gt=np.array([1, 1, 2]))
    np.savetxt(run / "predictions" / "plain.txt", [4, 5], fmt="%d")
    tv = np.eye(3)
    np.savez(run / "predictions" / "pair.npz", match=np.array([2, 0, 1, 1]), template_verts=tv)
    (run / "eval_test.json").write_text('{"class_names": ["head", "body", "legs"]}')
    p = read_predictions(run, "seg")
    assert p.kind == "labels" and p.values.tolist() == [1, 0, 2] and p.gt.tolist() == [1, 1, 2]
    assert p.names == ["head", "body", "legs"]
    assert read_predictions(run, "plain").values.tolist() == [4, 5]
    m = read_predictions(run, "pair")
    assert m.kind == "match" and m.values.tolist() == [2, 0, 1, 1]
    np.testing.assert_array_equal(m.template.verts, tv)
    with pytest.raises(FeatureError, match="no prediction for shape 'other'.*pair, plain, seg"):
        read_predictions(run, "other")
    np.savez(run / "predictions" / "lonely.npz", match=np.array([0]))
    with pytest.raises(FeatureError, match="needs its template"):
        read_predictions(run, "lonely")
    with pytest.raises(FeatureError, match="predictions/ folder"):
        read_predictions(tmp_path, "seg")


def test_shapes_stored_in_prediction_files_are_checked(tmp_path):
    from meshlearn.errors import InvalidMeshError

    run = tmp_path / "run"
    (run / "predictions").mkdir(parents=True)
    verts = np.eye(3)
    np.savez(run / "predictions" / "ok.npz", pred=np.array([0, 1, 1]), verts=verts, faces=np.array([[0, 1, 2]]))
    p = read_predictions(run, "ok")
    assert p.shape.n_faces == 1 and p.shape.name == "ok" and p.shape.source.endswith("ok.npz")
    np.savez(run / "predictions" / "bad.npz", pred=np.array([0, 1, 1]), verts=verts, faces=np.array([[0, 1, 9]]))
    with pytest.raises(InvalidMeshError, match=r"bad\.npz: 1 face references vertex 9"):
        read_predictions(run, "bad")
    np.savez(run / "predictions" / "flat.npz", match=np.array([0, 1]), template_verts=np.zeros(6))
    with pytest.raises(InvalidMeshError, match=r"flat\.npz:template.*\(V, 3\)"):
        read_predictions(run, "flat")
