"""Off-screen pictures of each kind: the asked size, a drawn shape, many colours where a field is drawn."""

from __future__ import annotations

import numpy as np
import pytest

pv = pytest.importorskip("pyvista")

from meshlearn import viz  # noqa: E402
from meshlearn.testing import grid, icosphere, sphere_points  # noqa: E402
from meshlearn.viz.errors import DisplayError, FeatureError  # noqa: E402
from meshlearn.viz.testing import image_stats, read_rgb  # noqa: E402

SIZE = (320, 240)


@pytest.fixture(scope="module")
def sphere():
    return icosphere(3)


def _check(path, *, min_colors, min_coverage=0.05):
    st = image_stats(path)
    assert (st.width, st.height) == SIZE
    assert st.corners_background, "the background must show where nothing is drawn"
    assert st.coverage > min_coverage, f"the shape covers only {st.coverage:.1%} of the picture"
    assert st.n_colors >= min_colors, f"only {st.n_colors} colours"
    return st


def test_scalars_per_vertex(sphere, tmp_path):
    out = viz.plot_scalars(sphere, sphere.verts[:, 2], title="z", size=SIZE, screenshot=tmp_path / "z.png")
    assert out == tmp_path / "z.png"
    _check(out, min_colors=200, min_coverage=0.2)


def test_scalars_per_face_and_point_cloud(sphere, tmp_path):
    centers = sphere.verts[sphere.faces].mean(1)
    _check(viz.plot_scalars(sphere, centers[:, 0], size=SIZE, screenshot=tmp_path / "f.png"), min_colors=200)
    pc = sphere_points(1500)
    _check(viz.plot_scalars(pc, pc.verts[:, 1], size=SIZE, screenshot=tmp_path / "p.png"), min_colors=200)


def test_plain_grey_shape_has_few_hues(sphere, tmp_path):
    """No field: a shaded grey surface, so the foreground pixels are (nearly) grey."""
    p = viz.plot_shapes([sphere], colorbar=False, size=SIZE, screenshot=tmp_path / "g.png")
    rgb = read_rgb(p).astype(int)
    fg = rgb[np.any(rgb < 247, axis=-1)]
    assert fg.shape[0] > 0.1 * SIZE[0] * SIZE[1]
    assert np.percentile(np.ptp(fg, axis=1), 99) <= 20  # the light kit tints a little


def test_labels_show_their_palette_colours(sphere, tmp_path):
    lab = (sphere.verts[:, 0] > 0).astype(int) + 2 * (sphere.verts[:, 1] > 0)
    png = viz.plot_labels(sphere, lab, legend=False, view="top", size=SIZE, screenshot=tmp_path / "l.png")
    rgb = read_rgb(png).reshape(-1, 3).astype(float)
    fg = rgb[np.any(rgb < 247, axis=-1)]
    # Shading scales a colour; its direction in RGB (chromaticity) stays that of the palette colour.
    chroma = fg / np.linalg.norm(fg, axis=1, keepdims=True).clip(1)
    for c in viz.label_palette(4).astype(float):
        d = np.linalg.norm(chroma - c / np.linalg.norm(c), axis=1)
        assert (d < 0.06).mean() > 0.08, f"class colour {c} hardly appears"


def test_isolines_draw_dark_lines(sphere, tmp_path):
    d = np.arccos(np.clip(sphere.verts @ sphere.verts[0], -1, 1))
    png = viz.plot_isolines(sphere, d, n_lines=10, cmap="viridis", source=0, size=SIZE, screenshot=tmp_path / "i.png")
    st = _check(png, min_colors=200)
    rgb = read_rgb(png).astype(int)
    assert (rgb.sum(-1) < 90).sum() > 100, "isolines (black) not found"
    assert viz.isolines(sphere, d, [1.0]).n_points > 0
    # A level set of the great-circle distance lies at that distance.
    line = viz.isolines(sphere, d, [1.0])
    ang = np.arccos(np.clip(np.asarray(line.points) @ sphere.verts[0] / np.linalg.norm(line.points, axis=1), -1, 1))
    assert np.abs(ang - 1.0).max() < 0.02
    assert st.width == SIZE[0]


def test_frames_and_vectors(sphere, tmp_path):
    n = sphere.verts / np.linalg.norm(sphere.verts, axis=1, keepdims=True)
    x = np.cross(n, [0.0, 0.0, 1.0]) + 1e-9
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    frames = np.stack([x, np.cross(n, x), n], 1)
    png = viz.plot_frames(sphere, frames, max_arrows=60, size=SIZE, screenshot=tmp_path / "fr.png")
    rgb = read_rgb(png).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    assert ((r > g + 60) & (r > b + 60)).sum() > 30  # x arrows
    assert ((g > r + 40) & (g > b + 20)).sum() > 30  # y arrows
    assert ((b > r + 40) & (b > g + 10)).sum() > 30  # normals
    png = viz.plot_vectors(sphere, x, surface_scalars=sphere.verts[:, 2], size=SIZE, screenshot=tmp_path / "v.png")
    _check(png, min_colors=100)


def test_spread_subset_covers_the_shape():
    s = grid(40)
    idx = viz.spread_subset(s.verts, 100)
    assert 70 <= idx.size <= 130 and np.unique(idx).size == idx.size
    # Every vertex lies within about one cell of a chosen one: an even spread.
    d = np.linalg.norm(s.verts[:, None, :2] - s.verts[idx][None, :, :2], axis=-1).min(1)
    assert d.max() < 1.5 / np.sqrt(idx.size)


def test_side_by_side_links_cameras(sphere, tmp_path):
    pv.OFF_SCREEN = True
    try:
        p = viz.plot_shapes([sphere, sphere], scalars=[sphere.verts[:, 0], sphere.verts[:, 1]], titles=["a", "b"], size=SIZE)
        assert p.renderers[0].camera is p.renderers[1].camera
        p.close()
    finally:
        pv.OFF_SCREEN = False


def test_correspondence_identity_gives_identical_halves(sphere, tmp_path):
    """With the identity map and linked cameras, both halves show the same picture; a shuffled map
    does not."""
    size = (480, 240)
    ident = viz.plot_correspondence(sphere, sphere, np.arange(sphere.n_verts), titles=("", ""), size=size,
                                    screenshot=tmp_path / "c.png")
    rgb = read_rgb(ident).astype(int)
    left, right = rgb[:, :240], rgb[:, 240:]
    assert image_stats(left).n_colors > 200
    assert np.abs(left - right).mean() < 1.0
    perm = np.random.default_rng(0).permutation(sphere.n_verts)
    shuffled = read_rgb(viz.plot_correspondence(sphere, sphere, perm, titles=("", ""), size=size,
                                                screenshot=tmp_path / "s.png")).astype(int)
    assert np.abs(shuffled[:, :240] - shuffled[:, 240:]).mean() > 5.0


def test_position_and_transfer_colours():
    v = np.array([[0.0, 0, 0], [1, 2, 3], [0.5, 1, 1.5], [1, 0, 0], [0.2, 0.2, 2.9]])
    c = viz.position_colors(v)
    lo, hi = round(0.12 * 255), round(0.95 * 255)
    assert c[0].tolist() == [lo] * 3 and c[1].tolist() == [hi] * 3  # box corners: darkest and lightest grey
    assert np.ptp(c[2].astype(int)) == 0  # the box centre is grey
    assert c[3].argmax() == 0 and c[3, 0] > c[3, 1] == c[3, 2]  # +x is red
    plain = viz.position_colors(v, saturation=1.0).astype(int)
    np.testing.assert_allclose(plain[4], np.round(255 * (0.12 + 0.83 * np.array([0.2, 0.1, 2.9 / 3]))), atol=1)
    assert viz.transfer_colors(c, np.array([2, 2, 0])).tolist() == [c[2].tolist(), c[2].tolist(), c[0].tolist()]
    assert viz.transfer_colors(c, np.array([-1, 1])).tolist() == [[128, 128, 128], c[1].tolist()]
    with pytest.raises(FeatureError, match="template vertex 5 but the template has 5"):
        viz.transfer_colors(c, np.array([0, 5]))


def test_wrong_length_and_no_display(sphere, monkeypatch, tmp_path):
    with pytest.raises(FeatureError, match="642 vertices"):
        viz.plot_scalars(sphere, np.zeros(10), screenshot=tmp_path / "x.png")
    with pytest.raises(ValueError, match="one scalar"):
        viz.plot_scalars(sphere, np.zeros((sphere.n_verts, 2)), screenshot=tmp_path / "x.png")
    with pytest.raises(viz.FeatureError, match="point cloud"):
        viz.plot_isolines(sphere_points(50), np.zeros(50))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(pv, "OFF_SCREEN", False)
    monkeypatch.setattr("sys.platform", "linux")
    assert not viz.has_display()
    with pytest.raises(DisplayError, match="screenshot"):
        viz.plot_scalars(sphere, sphere.verts[:, 0])
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert viz.has_display()


def test_empty_shape_and_no_arrows_get_clear_errors(sphere, tmp_path):
    from meshlearn import Shape
    from meshlearn.errors import ConfigError, InvalidMeshError

    empty = Shape(np.zeros((0, 3)))
    with pytest.raises(InvalidMeshError, match="no vertices"):
        viz.plot_scalars(empty, np.zeros(0), screenshot=tmp_path / "e.png")
    with pytest.raises(InvalidMeshError, match="no vertices"):
        viz.export_mesh(empty, tmp_path / "e.vtp")
    with pytest.raises(ConfigError, match="max_arrows"):
        viz.plot_frames(sphere, np.tile(np.eye(3), (sphere.n_verts, 1, 1)), max_arrows=0, screenshot=tmp_path / "f.png")
    with pytest.raises(ConfigError, match="max_arrows"):
        viz.plot_vectors(sphere, sphere.verts, max_arrows=0, screenshot=tmp_path / "v.png")
    with pytest.raises(ConfigError, match="positive"):
        viz.spread_subset(sphere.verts, 0)


def test_label_colours_follow_the_palette_for_any_label_range():
    lab = np.array([3, -1, 0, 3, 25])
    colors, classes = viz.label_colors(lab)
    pal = viz.label_palette(26)
    np.testing.assert_array_equal(colors[[0, 2, 3, 4]], pal[[3, 0, 3, 25]])
    assert colors[1].tolist() == [150, 150, 150] and classes.tolist() == [0, 3, 25]
    small, _ = viz.label_colors(np.array([1, 0, 1]))
    np.testing.assert_array_equal(small, viz.label_palette(2)[[1, 0, 1]])
    # a stray huge label does not build a palette of a billion colours
    big, classes = viz.label_colors(np.array([0, 10**9]))
    assert classes.tolist() == [0, 10**9] and big.shape == (2, 3) and not np.array_equal(big[0], big[1])


def test_isolines_check_their_inputs(sphere, tmp_path):
    with pytest.raises(FeatureError, match=r"one scalar per vertex, \(642,\)"):
        viz.isolines(sphere, np.zeros(5), [0.5])
    with pytest.raises(FeatureError, match="source vertex -1 is out of range"):
        viz.plot_isolines(sphere, sphere.verts[:, 0], source=[3, -1], screenshot=tmp_path / "i.png")
    lines = viz.isolines(sphere, sphere.verts[:, 2], [0.0])
    # the level-0 isoline of z on the unit sphere is the equator
    np.testing.assert_allclose(lines.points[:, 2], 0.0, atol=1e-12)
    assert np.linalg.norm(lines.points, axis=1).min() > 0.99


def test_plot_labels_with_a_stray_huge_label(sphere, tmp_path):
    lab = np.zeros(sphere.n_verts, dtype=np.int64)
    lab[sphere.verts[:, 2] > 0] = 10**9  # e.g. a sentinel value in a labels file
    png = viz.plot_labels(sphere, lab, size=SIZE, screenshot=tmp_path / "l.png")
    _check(png, min_colors=2)


def test_scalar_style_picks_the_colormap_by_sign():
    from meshlearn.viz.scalars import scalar_style

    signed = np.linspace(-1.0, 3.0, 401)  # 1st / 99th percentiles -0.96 and 2.96
    cmap, clim = scalar_style(signed)
    assert cmap == "RdBu_r" and clim == pytest.approx((-2.96, 2.96))
    cmap, clim = scalar_style(signed, cmap="magma")  # a chosen map keeps the plain range
    assert cmap == "magma" and clim == pytest.approx((-0.96, 2.96))
    cmap, clim = scalar_style(np.linspace(1.0, 5.0, 401), clim=(0, 10))
    assert cmap == "viridis" and tuple(clim) == (0, 10)
    assert scalar_style(np.full(4, np.nan)) == ("viridis", (0.0, 1.0))
