"""`meshlearn match`: a map file of the right length and range, a colour-transfer PNG, point
clouds, meshes with components and boundaries, and clear errors that lose nothing."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from meshlearn.cli import app
from meshlearn.errors import CheckpointError, ConfigError, InvalidMeshError
from meshlearn.io import save
from meshlearn.shape import Shape
from meshlearn.testing import bumpy_sphere, grid, icosphere, random_rigid_motion, write_fmap_run
from meshlearn.train.checkpoint import save_checkpoint
from meshlearn.train.config import TrainConfig

runner = CliRunner()


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "fmap"
    write_fmap_run(out, "unused-data", inputs="wks", fmap_k=10, fmap_dim=16, k=20)
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("shapes")
    a = bumpy_sphere(2, amplitude=0.2, seed=3)  # 162 vertices
    save(a, d / "a.ply")
    save(random_rigid_motion(a, seed=2), d / "b.off")
    save(Shape(random_rigid_motion(a, seed=4).verts, None), d / "b_points.xyz")
    two = icosphere(2)
    save(Shape(np.concatenate([two.verts, two.verts + [3.0, 0.0, 0.0]]),
               np.concatenate([two.faces, two.faces + two.n_verts])), d / "two_balls.obj")
    save(grid(12), d / "sheet.ply")  # a boundary
    tiny = icosphere(0)
    save(tiny.with_(verts=tiny.verts[:8], faces=tiny.faces[np.all(tiny.faces < 8, axis=1)]), d / "tiny.ply")
    return d


def match(*args):
    return runner.invoke(app, ["match", *map(str, args)], catch_exceptions=True)


def read_map(path):
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# meshlearn match: line i below = the 0-based vertex of")
    return np.loadtxt(path, dtype=np.int64)


def test_map_file_and_picture(run, files, tmp_path):
    pytest.importorskip("pyvista")
    from meshlearn.viz.testing import image_stats

    out, png = tmp_path / "a_to_b.txt", tmp_path / "a_to_b.png"
    r = match(files / "a.ply", files / "b.off", "--run", run, "--out", out, "--screenshot", png)
    assert r.exit_code == 0, r.output
    T = read_map(out)
    assert T.shape == (162,) and T.min() >= 0 and T.max() < 162
    assert "162 vertices of a.ply mapped onto b.off" in r.output
    stats = image_stats(png)
    assert stats.coverage > 0.05 and stats.n_colors > 20  # two shapes, a smooth colour gradient


def test_the_map_of_an_isometric_copy_is_its_permutation(run, files, tmp_path):
    """Intrinsic inputs and ZoomOut: a rigid copy is matched vertex for vertex (b.off keeps a's order)."""
    out = tmp_path / "m.txt"
    assert match(files / "a.ply", files / "b.off", "--run", run, "--out", out, "--quiet").exit_code == 0
    assert np.array_equal(read_map(out), np.arange(162))


@pytest.mark.parametrize("a, b", [("a.ply", "b_points.xyz"), ("b_points.xyz", "a.ply"),
                                  ("two_balls.obj", "sheet.ply"), ("sheet.ply", "b_points.xyz")])
def test_clouds_components_and_boundaries(run, files, tmp_path, a, b):
    from meshlearn.io import load

    out = tmp_path / "m.txt"
    r = match(files / a, files / b, "--run", run, "--out", out, "--no-refine", "-q")
    assert r.exit_code == 0, r.exception
    T = read_map(out)
    assert T.shape == (load(files / a).n_verts,) and T.min() >= 0 and T.max() < load(files / b).n_verts


def test_errors_name_the_file_and_lose_nothing(run, files, tmp_path):
    out = tmp_path / "keep.txt"
    out.write_text("an earlier map\n")
    r = match(files / "tiny.ply", files / "a.ply", "--run", run, "--out", out)
    assert isinstance(r.exception, InvalidMeshError)
    assert "tiny.ply: has" in str(r.exception) and "the run's functional maps use 10" in str(r.exception)
    r = match(files / "sheet.ply", files / "a.ply", "--run", run, "--out", out, "--refine-k", "40")
    assert isinstance(r.exception, ConfigError) and "pass --refine-k 20 or fewer, or --no-refine" in str(r.exception)
    r = match(files / "a.ply", files / "b.off", "--run", tmp_path / "nowhere", "--out", out)
    assert isinstance(r.exception, CheckpointError) and "nowhere: no such run folder" in str(r.exception)
    r = match(files / "a.ply", files / "b.off", "--run", run, "--out", out, "--screenshot", tmp_path / "x.jpg")
    assert isinstance(r.exception, ConfigError) and "ending in .png" in str(r.exception)
    assert out.read_text() == "an earlier map\n"


def test_a_template_run_is_refused(files, tmp_path):
    run = tmp_path / "template_run"
    run.mkdir()
    config = TrainConfig(task="correspondence", method="template", data="d", out=str(run))
    save_checkpoint(run / "last.pt", {"config": config.to_dict(), "meta": {"method": "template"}, "model": {}})
    r = match(files / "a.ply", files / "b.off", "--run", run, "--out", tmp_path / "m.txt")
    assert isinstance(r.exception, ConfigError)
    assert "last.pt: not a functional-map run" in str(r.exception) and "--method fmap-unsupervised" in str(r.exception)
    assert not (tmp_path / "m.txt").exists()


def test_help_says_the_indexing():
    r = runner.invoke(app, ["match", "--help"])
    assert r.exit_code == 0 and "0-based" in r.output and "--adapt-steps" in r.output


def test_eval_of_a_functional_map_run(run, files, tmp_path):
    import json

    from meshlearn.io import load

    data = tmp_path / "data"
    for part in ("train", "test"):
        (data / part / "off").mkdir(parents=True)
        (data / part / "corres").mkdir()
        for name in ("a", "b"):
            src = files / ("a.ply" if name == "a" else "b.off")
            save(load(src), data / part / "off" / f"{name}.off")
            (data / part / "corres" / f"{name}.vts").write_text("".join(f"{i + 1}\n" for i in range(162)))
    r = runner.invoke(app, ["eval", str(run), "--data", str(data), "--json", "--points", "50"])
    assert r.exit_code == 0, r.exception
    out = json.loads(r.output.strip().splitlines()[-1])
    assert out["n_pairs"] == 2 and out["n_points"] == 50 and out["refined"]
    assert out["mean_geodesic_error_x100"] == 0.0 and "mean_geodesic_error_x100_initial" in out
    r = runner.invoke(app, ["eval", str(run), "--data", str(data), "--no-refine", "-q"])
    assert r.exit_code == 0, r.exception
    assert "mean_geodesic_error_x100" in r.output and "seconds.geodesics" in r.output
