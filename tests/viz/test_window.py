"""The interactive window on a real (virtual) X display: clicks pick vertices, the slider and the
keys change what is shown. Skipped where no Xvfb is installed (apt-get install xvfb)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from meshlearn.testing import icosphere
    from meshlearn.viz import FeatureViewer

    s = icosphere(3)
    picked = []
    v = FeatureViewer(s, {"xyz": s.verts, "r": np.linalg.norm(s.verts, axis=1)}, channel=1,
                      labels=(s.verts[:, 0] > 0).astype(int), size=(400, 300),
                      on_pick=lambda i, vals: picked.append((i, vals["xyz"])))
    assert not v.plotter.off_screen
    v.plotter.show(auto_close=False, interactive_update=True)
    it = v.plotter.iren.interactor
    w, h = v.plotter.window_size
    it.SetEventPosition(w // 2, h // 2)
    it.InvokeEvent("LeftButtonPressEvent")
    it.InvokeEvent("LeftButtonReleaseEvent")
    assert len(picked) == 1, picked
    i, xyz = picked[0]
    assert np.array_equal(xyz, s.verts[i])
    # the centre of the window looks at the sphere's point facing the camera
    eye = np.asarray(v.plotter.camera.position) - np.asarray(v.plotter.camera.focal_point)
    assert s.verts[i] @ (eye / np.linalg.norm(eye)) > 0.95
    slider = v.plotter.widgets.slider_widgets[0]
    slider.GetRepresentation().SetValue(2.0)
    slider.InvokeEvent("EndInteractionEvent")
    assert v.channel == 2 and np.array_equal(v.poly.point_data["value"], s.verts[:, 2])
    for key, expect in (("n", ("r", False)), ("l", ("r", True)), ("p", ("xyz", False))):
        it.SetKeySym(key)
        it.InvokeEvent("KeyPressEvent")
        assert (v.feature, v.show_labels) == expect, (key, v.feature, v.show_labels)
    v.plotter.close()
    print("window ok")
    """
)


def test_window_picking_slider_and_keys():
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("no Xvfb installed (apt-get install xvfb): cannot open a window to test")
    display = f":{100 + os.getpid() % 800}"
    server = subprocess.Popen([xvfb, display, "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        if server.poll() is not None:
            pytest.skip(f"Xvfb could not start on {display}")
        env = {k: v for k, v in os.environ.items() if k not in ("PYVISTA_OFF_SCREEN", "WAYLAND_DISPLAY")}
        env.update(DISPLAY=display, OPENBLAS_NUM_THREADS="1")
        r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0 and "window ok" in r.stdout, r.stderr[-3000:]
    finally:
        server.terminate()
        server.wait(timeout=10)
