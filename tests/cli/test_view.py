"""`meshlearn view`: screenshots and exports with no display, predictions, and clear errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pv = pytest.importorskip("pyvista")

from typer.testing import CliRunner  # noqa: E402

from meshlearn.cli import app  # noqa: E402
from meshlearn.errors import CacheError, ConfigError  # noqa: E402
from meshlearn.shape import Shape  # noqa: E402
from meshlearn.testing import icosphere  # noqa: E402
from meshlearn.viz.errors import DisplayError, FeatureError  # noqa: E402
from meshlearn.viz.testing import image_stats, read_rgb  # noqa: E402

runner = CliRunner()


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small dense eigenproblems: one BLAS thread is fastest, and immune to a busy machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def mesh_file(tmp_path):
    s = icosphere(2)
    path = tmp_path / "ball.ply"
    s.to_trimesh().export(path)
    return path


@pytest.fixture(autouse=True)
def _restore_off_screen():
    before = pv.OFF_SCREEN
    yield
    pv.OFF_SCREEN = before


def _no_display_env():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "PYVISTA_OFF_SCREEN")}
    return env


def test_screenshot_without_display_in_a_subprocess(mesh_file, tmp_path):
    out = tmp_path / "shot.png"
    code = "import sys; from meshlearn.cli import main; sys.argv[0] = 'meshlearn'; main()"
    args = [sys.executable, "-c", code, "view", str(mesh_file), "--feature", "xyz", "--channel", "2",
            "--screenshot", str(out), "--size", "320", "240", "--quiet"]
    r = subprocess.run(args, capture_output=True, text=True, env=_no_display_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    st = image_stats(out)
    assert (st.width, st.height) == (320, 240) and st.n_colors > 100 and st.corners_background


def test_no_display_and_no_output_exits_with_a_clear_message(mesh_file, monkeypatch, capsys):
    from meshlearn.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setattr("sys.argv", ["meshlearn", "view", str(mesh_file), "--feature", "xyz"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "no display" in err and "--screenshot" in err and "--export" in err


def _invoke(*args):
    return runner.invoke(app, ["view", *map(str, args)], catch_exceptions=True)


def test_errors_are_meshlearn_errors(mesh_file, tmp_path):
    png = tmp_path / "x.png"
    r = _invoke(mesh_file, "--feature", "xyz", "--channel", "3", "--screenshot", png)
    assert isinstance(r.exception, FeatureError) and "3 channels" in str(r.exception)
    r = _invoke(mesh_file, "--feature", "sparkle", "--screenshot", png)
    assert isinstance(r.exception, FeatureError) and "unknown feature 'sparkle'" in str(r.exception)
    r = _invoke(mesh_file, "--feature", "xyz", "--export", tmp_path / "x.obj")
    assert isinstance(r.exception, ConfigError)
    bad = tmp_path / "labels.txt"
    np.savetxt(bad, np.zeros(5), fmt="%d")
    r = _invoke(mesh_file, "--labels", bad, "--screenshot", png)
    assert isinstance(r.exception, FeatureError) and "162 vertices" in str(r.exception)
    r = _invoke(mesh_file, "--cache", tmp_path / "nope.npz", "--screenshot", png)
    assert isinstance(r.exception, CacheError)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a cache file")
    r = _invoke(mesh_file, "--cache", junk, "--screenshot", png)
    assert isinstance(r.exception, CacheError) and "junk.npz: not a readable operator cache file" in str(r.exception)


def test_cache_file_features_and_wrong_length(mesh_file, tmp_path):
    from meshlearn import OperatorSpec, compute_operators, load
    from meshlearn.cache import save_operators

    shape = load(mesh_file)
    ops = compute_operators(shape, OperatorSpec(operators=frozenset({"hks"}), k=16))
    save_operators(tmp_path / "ops.npz", ops)
    out = tmp_path / "c.vtp"
    r = _invoke(mesh_file, "--cache", tmp_path / "ops.npz", "--feature", "hks", "--channel", "4", "--export", out)
    assert r.exit_code == 0, r.output
    back = pv.read(out)
    np.testing.assert_allclose(back.point_data["hks"], ops.hks, rtol=1e-6)
    np.testing.assert_allclose(back.point_data["evecs"], ops.evecs, rtol=1e-6)
    other = icosphere(1)
    save_operators(tmp_path / "other.npz", compute_operators(other, OperatorSpec(operators=frozenset({"hks"}), k=8)))
    r = _invoke(mesh_file, "--cache", tmp_path / "other.npz", "--export", out)
    assert isinstance(r.exception, FeatureError) and "42 rows" in str(r.exception)


def test_predictions_segmentation_and_correspondence(mesh_file, tmp_path):
    shape = icosphere(2)
    run = tmp_path / "run"
    (run / "predictions").mkdir(parents=True)
    seg = (shape.verts[:, 2] > 0).astype(int)
    np.savez(run / "predictions" / "ball.npz", pred=seg)
    out = tmp_path / "seg.ply"
    r = _invoke(mesh_file, "--predictions", run, "--export", out)
    assert r.exit_code == 0, r.output
    import trimesh

    v = trimesh.load(out, process=False).metadata["_ply_raw"]["vertex"]["data"]
    np.testing.assert_array_equal(v["pred"], seg)
    png = tmp_path / "seg.png"
    assert _invoke(mesh_file, "--predictions", run, "--screenshot", png, "--size", 300, 200).exit_code == 0
    assert image_stats(png).width == 300
    # correspondence onto itself through the identity: both halves look alike
    np.savez(run / "predictions" / "ball.npz", match=np.arange(shape.n_verts), template_verts=shape.verts,
             template_faces=shape.faces)
    png = tmp_path / "corr.png"
    r = _invoke(mesh_file, "--predictions", run, "--screenshot", png, "--size", 400, 200)
    assert r.exit_code == 0, r.output
    rgb = read_rgb(png).astype(int)[40:]  # below the titles
    assert np.abs(rgb[:, :200] - rgb[:, 200:]).mean() < 1.0
    assert image_stats(rgb[:, :200]).n_colors > 100


def test_html_export_and_no_display(mesh_file, tmp_path, monkeypatch):
    out = tmp_path / "page.html"
    r = _invoke(mesh_file, "--feature", "xyz", "--export", out)
    assert r.exit_code == 0, r.output
    assert out.stat().st_size > 10_000
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    r = _invoke(mesh_file, "--feature", "xyz")
    assert isinstance(r.exception, DisplayError)


def test_labels_of_the_file_follow_cleaning(tmp_path):
    from meshlearn import save

    s = icosphere(1)
    verts = np.vstack([s.verts, [[5.0, 5.0, 5.0]]])  # an isolated vertex that --clean removes
    path = save(Shape(verts, s.faces), tmp_path / "ball.ply")
    labels = (verts[:, 2] > 0).astype(int)
    labels[-1] = 7  # the removed vertex's label must not reach the picture
    np.savetxt(tmp_path / "labels.txt", labels, fmt="%d")
    out = tmp_path / "l.vtp"
    r = _invoke(path, "--clean", "--labels", tmp_path / "labels.txt", "--export", out)
    assert r.exit_code == 0, r.output
    back = pv.read(out)
    assert back.n_points == s.n_verts
    np.testing.assert_array_equal(back.point_data["labels"], labels[:-1])


def test_face_labels_of_the_file_follow_cleaning(tmp_path):
    from meshlearn import save

    s = icosphere(1)
    faces = np.vstack([s.faces, s.faces[:1]])  # a duplicate face that --clean removes
    path = save(Shape(s.verts, faces), tmp_path / "ball.obj")
    face_labels = np.zeros(len(faces), dtype=int)
    face_labels[-1] = 5  # the removed face's label must not reach the picture
    np.savetxt(tmp_path / "labels.txt", face_labels, fmt="%d")
    out = tmp_path / "f.vtp"
    r = _invoke(path, "--clean", "--labels", tmp_path / "labels.txt", "--export", out)
    assert r.exit_code == 0, r.output
    assert set(pv.read(out).point_data["labels"].tolist()) == {0}
