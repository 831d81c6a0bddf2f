"""``meshlearn info``: human and JSON reports, a broken file among good ones, exit status."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from meshlearn import save
from meshlearn.cli import app
from meshlearn.testing import icosphere

runner = CliRunner()


@pytest.fixture
def files(tmp_path):
    good = save(icosphere(1), tmp_path / "good.obj")
    s = icosphere(1)
    dup = save(s.with_(faces=np.vstack([s.faces, s.faces[:3]])), tmp_path / "dup.ply")
    broken = tmp_path / "broken.off"
    broken.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n")
    return good, dup, broken


def test_help_explains_the_command():
    result = runner.invoke(app, ["info", "--help"])
    assert result.exit_code == 0
    assert "--json" in result.output and "--clean" in result.output and "non-manifold" in result.output


def test_plain_report(files):
    good, dup, _ = files
    result = runner.invoke(app, ["info", str(good), str(dup)])
    assert result.exit_code == 0, result.output
    assert "good: mesh, 42 vertices, 80 faces, 1 component(s)" in result.output
    assert "status: ok" in result.output
    assert "problem: 3 faces repeat the vertices of another face" in result.output


def test_clean_lists_repairs(files):
    _, dup, _ = files
    result = runner.invoke(app, ["info", "--clean", str(dup)])
    assert result.exit_code == 0
    assert "repaired: removed 3 duplicate faces" in result.output and "status: ok" in result.output


def test_json_with_a_broken_file_among_good_ones(files):
    good, dup, broken = files
    result = runner.invoke(app, ["info", "--json", str(good), str(broken), str(dup)])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert [d["path"] for d in data] == [str(good), str(broken), str(dup)]
    assert [d["status"] for d in data] == ["ok", "failed", "ok"]
    assert data[0]["report"]["ok"] is True and data[0]["report"]["n_faces"] == 80
    assert data[2]["report"]["duplicate_faces"] == 3
    assert str(broken) in data[1]["error"] and "truncated" in data[1]["error"]


def test_missing_file_fails_without_traceback(tmp_path):
    result = runner.invoke(app, ["info", str(tmp_path / "nope.stl")])
    assert result.exit_code == 1 and "no such file" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_real_defect_files_json(shared_meshes):
    paths = [str(shared_meshes / "defects" / n) for n in ("trimesh__bunny.ply", "geometry-central__fan3.obj")]
    result = runner.invoke(app, ["info", "--json", *paths])
    assert result.exit_code == 0
    bunny, fan = (d["report"] for d in json.loads(result.stdout))
    assert bunny["components"] == 94 and bunny["duplicate_faces"] == 87 and not bunny["ok"]
    assert fan["non_manifold_edges"] == 1


def test_python_dash_m_runs_the_same_command_line(files):
    import subprocess
    import sys

    good = files[0]
    out = subprocess.run([sys.executable, "-m", "meshlearn", "info", str(good), "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)
