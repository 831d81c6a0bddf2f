"""The gallery script draws the demo's pictures from a run folder, and skips them with a message
when there is none."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyvista")

from meshlearn.testing import icosphere  # noqa: E402
from meshlearn.viz.testing import image_stats  # noqa: E402

GALLERY = Path(__file__).resolve().parents[2] / "viz" / "gallery.py"


@pytest.fixture(scope="module")
def gallery():
    spec = importlib.util.spec_from_file_location("meshlearn_gallery", GALLERY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_pictures_from_a_run(gallery, tmp_path):
    import pyvista as pv

    s = icosphere(2)
    pred_dir = tmp_path / "demo" / "runs" / "seg" / "predictions"
    pred_dir.mkdir(parents=True)
    gt = (s.verts[:, 2] > 0).astype(int)
    np.savez(pred_dir / "ball.npz", pred=gt, gt=gt, verts=s.verts, faces=s.faces)
    (pred_dir.parent / "eval_test.json").write_text('{"class_names": ["south", "north"]}')
    corr_dir = tmp_path / "demo" / "runs" / "corr" / "predictions"
    corr_dir.mkdir(parents=True)
    s.to_trimesh().export(corr_dir.parent / "template.ply")
    s.to_trimesh().export(tmp_path / "demo" / "pose.ply")  # the target, found by name
    np.savez(corr_dir / "pose.npz", match=np.arange(s.n_verts))
    before = pv.OFF_SCREEN
    pv.OFF_SCREEN = True
    try:
        written = gallery.demo_pictures(tmp_path / "demo", tmp_path, (320, 240))
    finally:
        pv.OFF_SCREEN = before
    assert sorted(p.name for p in written) == ["correspondence.png", "segmentation.png"]
    for p in written:
        st = image_stats(p)
        assert st.width == 320 and st.n_colors > 50 and st.corners_background


def test_demo_pictures_skipped_without_predictions(gallery, tmp_path, capsys):
    assert gallery.demo_pictures(tmp_path, tmp_path, (320, 240)) == []
    assert "skipping segmentation.png" in capsys.readouterr().out
