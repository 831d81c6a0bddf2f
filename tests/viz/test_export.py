"""Export round trips (.vtp, .ply), and the HTML page rendered by a real browser."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest

pv = pytest.importorskip("pyvista")

from meshlearn import viz  # noqa: E402
from meshlearn.errors import ConfigError  # noqa: E402
from meshlearn.testing import icosphere, sphere_points  # noqa: E402
from meshlearn.viz.testing import image_stats, read_rgb  # noqa: E402


@pytest.fixture(scope="module")
def sphere():
    return icosphere(2)


def _arrays(shape):
    rng = np.random.default_rng(0)
    return {
        "hks": rng.random((shape.n_verts, 4)),
        "labels": rng.integers(0, 5, shape.n_verts),
        "curv": rng.normal(size=shape.n_verts),
        "face_id": np.arange(shape.n_faces, dtype=np.float64),
    }


def test_vtp_round_trip(sphere, tmp_path):
    arrays = _arrays(sphere)
    out = viz.export_mesh(sphere, tmp_path / "s.vtp", arrays=arrays)
    back = pv.read(out)
    np.testing.assert_allclose(back.points, sphere.verts)
    np.testing.assert_array_equal(back.faces.reshape(-1, 4)[:, 1:], sphere.faces)
    np.testing.assert_array_equal(back.point_data["hks"], arrays["hks"])
    np.testing.assert_array_equal(back.point_data["labels"], arrays["labels"])
    np.testing.assert_array_equal(back.point_data["curv"], arrays["curv"])
    np.testing.assert_array_equal(back.cell_data["face_id"], arrays["face_id"])
    assert back.point_data["RGB"].shape == (sphere.n_verts, 3)
    assert not list(tmp_path.glob(".*partial*"))


def test_ply_round_trip_with_colours_and_properties(sphere, tmp_path):
    import trimesh

    arrays = _arrays(sphere)
    colors = viz.position_colors(sphere.verts)
    out = viz.export_mesh(sphere, tmp_path / "s.ply", arrays=arrays, colors=colors)
    m = trimesh.load(out, process=False)
    np.testing.assert_allclose(m.vertices, sphere.verts, atol=1e-6)
    np.testing.assert_array_equal(m.faces, sphere.faces)
    np.testing.assert_array_equal(np.asarray(m.visual.vertex_colors)[:, :3], colors)
    raw = m.metadata["_ply_raw"]
    v = raw["vertex"]["data"]
    for c in range(4):
        np.testing.assert_allclose(v[f"hks_{c}"], arrays["hks"][:, c], rtol=1e-6)
    np.testing.assert_array_equal(v["labels"], arrays["labels"])
    np.testing.assert_allclose(v["curv"], arrays["curv"], rtol=1e-6)
    np.testing.assert_allclose(raw["face"]["data"]["face_id"], arrays["face_id"])
    # pyvista reads the same file with its colours
    assert pv.read(out).n_points == sphere.n_verts


def test_point_cloud_ply_and_errors(tmp_path):
    import trimesh

    pc = sphere_points(200)
    out = viz.export_mesh(pc, tmp_path / "p.ply", arrays={"x": pc.verts[:, 0]})
    v = trimesh.load(out).metadata["_ply_raw"]["vertex"]["data"]
    np.testing.assert_allclose(v["x"], pc.verts[:, 0], atol=1e-6)
    # default colours: the first array through viridis, so the colours vary with x
    assert np.corrcoef(v["green"].astype(float), pc.verts[:, 0])[0, 1] > 0.9  # viridis green rises
    with pytest.raises(ConfigError, match="vtp or .ply"):
        viz.export_mesh(pc, tmp_path / "p.obj")
    with pytest.raises(viz.FeatureError, match="200 vertices"):
        viz.export_mesh(pc, tmp_path / "p.vtp", arrays={"bad": np.zeros(7)})


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_html_page_renders_in_headless_chromium(sphere, tmp_path):
    pv.OFF_SCREEN = True
    try:
        plotter = viz.plot_scalars(sphere, sphere.verts[:, 0], cmap="viridis", colorbar=False, size=(400, 300))
        page = viz.export_html(plotter, tmp_path / "s.html")
        plotter.close()
    finally:
        pv.OFF_SCREEN = False
    html = page.read_text(errors="replace")
    assert "<script src=\"http" not in html and "<link href=\"http" not in html  # self-contained: works offline
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium installed (apt-get install chromium): cannot check the page in a browser")
    shot = tmp_path / "page.png"
    profile = tmp_path / "profile"
    cmd = [
        browser, "--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
        "--disable-background-networking", "--no-first-run", f"--user-data-dir={profile}",
        "--window-size=400,300", "--virtual-time-budget=8000", f"--screenshot={shot}", page.as_uri(),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    subprocess.run(cmd, check=True, capture_output=True, timeout=60, env=env)
    st = image_stats(shot)
    assert st.coverage > 0.1 and st.n_colors > 100, f"the page shows no surface ({st})"
    # viridis along x (left to right in the default view): from purple (low x) to yellow (high x)
    rgb = read_rgb(shot).reshape(-1, 3).astype(int)
    yellowish = (rgb[:, 0] > 150) & (rgb[:, 1] > 150) & (rgb[:, 2] < 100)
    purple = (rgb[:, 2] > rgb[:, 1] + 30) & (rgb[:, 0] > 40) & (rgb[:, 1] < 80)
    assert yellowish.sum() > 50 and purple.sum() > 50


def test_html_needs_html_suffix(sphere, tmp_path):
    with pytest.raises(ConfigError, match=".html"):
        viz.export_html(object(), tmp_path / "s.png")
