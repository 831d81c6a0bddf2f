"""The feature viewer, driven off screen: channel slider, feature switching, picking."""

from __future__ import annotations

import numpy as np
import pytest

pv = pytest.importorskip("pyvista")

from meshlearn.testing import icosphere  # noqa: E402
from meshlearn.viz import FeatureError, FeatureViewer  # noqa: E402
from meshlearn.viz.errors import DisplayError  # noqa: E402
from meshlearn.viz.testing import image_stats  # noqa: E402


@pytest.fixture
def viewer():
    s = icosphere(2)
    picked = []
    feats = {"xyz": s.verts, "r": np.linalg.norm(s.verts, axis=1)}
    v = FeatureViewer(s, feats, channel=1, labels=(s.verts[:, 0] > 0).astype(int), off_screen=True,
                      size=(300, 200), on_pick=lambda i, vals: picked.append((i, vals)))
    v.picked = picked
    yield v
    v.plotter.close()


def test_slider_channels_and_features(viewer, tmp_path):
    s = viewer.shape
    assert viewer.feature == "xyz" and viewer.channel == 1
    np.testing.assert_array_equal(viewer.poly.point_data["value"], s.verts[:, 1])
    assert viewer.has_slider, "a channel slider is shown for a multi-channel feature"
    viewer.set_channel(2)
    np.testing.assert_array_equal(viewer.poly.point_data["value"], s.verts[:, 2])
    viewer.set_feature("r")
    assert viewer.channel == 0 and not viewer.has_slider  # one channel: no slider
    viewer.toggle_labels()
    assert viewer.show_labels
    viewer.plotter.screenshot(str(tmp_path / "v.png"))
    assert image_stats(tmp_path / "v.png").coverage > 0.1
    with pytest.raises(FeatureError, match="channel 5 does not exist"):
        viewer.set_channel(5)
    with pytest.raises(FeatureError, match="not among"):
        viewer.set_feature("nope")


def test_pick_reports_the_nearest_vertex(viewer):
    s = viewer.shape
    target = 17
    i = viewer.pick(s.verts[target] * 1.001)
    assert i == target
    idx, values = viewer.picked[-1]
    assert idx == target
    np.testing.assert_array_equal(values["xyz"], s.verts[target])
    assert values["labels"].tolist() == [int(s.verts[target, 0] > 0)]


def test_needs_display_when_on_screen(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    s = icosphere(1)
    with pytest.raises(DisplayError, match="--screenshot"):
        FeatureViewer(s, {"z": s.verts[:, 2]}, off_screen=False)


def test_labels_only_viewer(tmp_path):
    s = icosphere(2)
    lab = (s.verts[:, 2] > 0).astype(int)
    got = []
    v = FeatureViewer(s, {}, labels=lab, off_screen=True, size=(200, 160), on_pick=lambda i, vals: got.append(vals))
    try:
        assert v.show_labels and not v.has_slider
        i = v.pick(s.verts[3])
        assert i == 3 and list(got[-1]) == ["labels"] and got[-1]["labels"].tolist() == [lab[3]]
        v.plotter.screenshot(str(tmp_path / "l.png"))
        assert image_stats(tmp_path / "l.png").coverage > 0.1
    finally:
        v.plotter.close()


def test_fractional_labels_are_refused():
    s = icosphere(1)
    with pytest.raises(FeatureError, match="one integer per vertex"):
        FeatureViewer(s, {}, labels=np.full(s.n_verts, 0.5), off_screen=True)
