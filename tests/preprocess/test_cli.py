"""`meshlearn preprocess` in process: exit codes, summary output, --for, --quiet."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import meshlearn
from meshlearn.cache import load_operators
from meshlearn.cli import app
from meshlearn.preprocess import read_manifest, resolve_spec


def _run(*args: str):
    return CliRunner().invoke(app, ["preprocess", *args])


def test_exit_status_is_1_when_a_shape_failed_and_0_when_all_are_done(mixed_folder, tmp_path):
    out = tmp_path / "cache"
    good = [str(p) for p in mixed_folder["good"]]
    res = _run(*good, str(mixed_folder["broken"][0]), "--out", str(out), "--k", "8", "--workers", "1", "--quiet")
    assert res.exit_code == 1, res.output
    assert "3 ok, 0 skipped-cached, 1 failed" in res.output and "garbage.ply" in res.output
    assert "slowest" not in res.output  # --quiet: the short summary

    res = _run(*good, "--out", str(out), "--k", "8", "--workers", "1")
    assert res.exit_code == 0, res.output
    assert "3 of 3 shapes" in res.output and "3 skipped-cached" in res.output and "slowest:" in res.output
    lines = (out / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 7 and all(json.loads(line)["source"] for line in lines)


def test_for_diffusionnet_stores_what_the_net_requires(mixed_folder, tmp_path):
    out = tmp_path / "cache"
    res = _run(str(mixed_folder["good"][0]), "--out", str(out), "--k", "8", "--for", "diffusionnet", "--ops", "hks", "--workers", "1")
    assert res.exit_code == 0, res.output
    (rec,) = read_manifest(out / "manifest.jsonl")
    ops, _ = load_operators(out / rec["cache_file"])
    net = meshlearn.nets.DiffusionNet
    assert set(net.requires) | {"hks"} <= ops.spec.operators
    assert ops.grad_x.shape == (rec["V"], rec["V"]) and ops.evecs.shape == (rec["V"], 8) and ops.hks is not None


@pytest.mark.parametrize("alias", ["diffusionnet", "gem", "cheb", "patch"])
def test_every_for_alias_names_an_existing_net(alias):
    spec = resolve_spec(None, k=8, net=alias)
    from meshlearn.preprocess.api import NET_ALIASES

    cls = getattr(meshlearn.nets, NET_ALIASES[alias])
    assert spec == meshlearn.OperatorSpec.for_net(cls, k=8)


def test_gradients_gauge_and_patches_are_cached(mixed_folder, tmp_path):
    out = tmp_path / "cache"
    s = meshlearn.preprocess(mixed_folder["good"][0], out, ops="gradients,gauge,patches", k=8, workers=1, quiet=True)
    assert s.complete
    (rec,) = s.records
    ops, _ = load_operators(out / rec["cache_file"])
    V = rec["V"]
    assert ops.grad_x.shape == ops.grad_y.shape == (V, V)
    assert ops.gauge.edge_index.shape[0] == 2 and ops.gauge.angle.shape == ops.gauge.transport.shape
    # a closed triangle mesh has 3F/2 undirected edges, stored in both directions
    assert ops.gauge.edge_index.shape[1] == 3 * rec["F"]
    assert ops.patches.edge_index.shape[0] == 2 and ops.patches.max_radius > 0


def test_bad_option_is_one_clear_line(tmp_path, mixed_folder):
    res = _run(str(mixed_folder["root"][0]), "--out", str(tmp_path / "c"), "--normalize", "volume")
    assert res.exit_code != 0
    assert "normalize must be one of area, radius" in str(res.exception)


def test_eigen_coarse_caches_approximate_eigenpairs(tmp_path):
    from meshlearn.testing import bumpy_sphere

    src = tmp_path / "bumpy.ply"
    meshlearn.save(bumpy_sphere(4), src)  # 2562 vertices, a copy of about 600
    out = tmp_path / "cache"
    res = _run(str(src), "--out", str(out), "--k", "8", "--eigen-coarse", "600", "--workers", "1", "--quiet",
               "--normalize", "none")  # the file's scale, to compare with the exact eigenvalues below
    assert res.exit_code == 0, res.output
    (rec,) = read_manifest(out / "manifest.jsonl")
    ops, _ = load_operators(out / rec["cache_file"])
    assert ops.spec.eigen_coarse == 600 and ops.evecs.shape == (2562, 8)
    exact = meshlearn.compute_operators(bumpy_sphere(4), meshlearn.OperatorSpec(k=8))
    rel = (ops.evals[1:] - exact.evals[1:]) / exact.evals[1:]
    assert 0.0 < rel.max() < 0.05  # above the exact values (Courant-Fischer), and close
