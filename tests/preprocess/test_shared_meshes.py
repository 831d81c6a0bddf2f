"""The real meshes in the shared folder (scans, classic models, broken files) preprocess without an
uncaught error: every file gets a manifest record, failures carry meshlearn's own reason."""

from __future__ import annotations

import meshlearn
from meshlearn import errors
from meshlearn.preprocess import expand_inputs, read_manifest

_MESHLEARN_ERRORS = {c.__name__ for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.MeshlearnError)}


def _check(folder, out, records):
    files = expand_inputs([folder])
    assert len(records) == len(files) == len(read_manifest(out / "manifest.jsonl"))
    by_source = {r["source"]: r for r in records}
    for r in records:
        if r["status"] == "failed":
            assert r["error_type"] in _MESHLEARN_ERRORS, r  # a recognised problem, not a crash
        else:
            assert r["status"] == "ok" and r["V"] > 0
    for path in files:  # the clean meshes and the point clouds must all work
        if path.parent.name in ("clean", "pointclouds"):
            assert by_source[str(path)]["status"] == "ok", by_source[str(path)]
    return by_source


def test_shared_meshes_decimated_to_a_small_budget(shared_meshes, tmp_path):
    out = tmp_path / "cache"
    s = meshlearn.preprocess(
        shared_meshes, out, ops="spectral", k=16, clean=True, max_vertices=4000, decimate=True, workers=1, quiet=True
    )
    by_source = _check(shared_meshes, out, s.records)
    scan = by_source[str(shared_meshes / "clean" / "stanford_bunny_scan.off")]
    assert scan["V"] <= 4000 and scan["decimated_from"][0] > 30000
    cloud = by_source[str(shared_meshes / "pointclouds" / "stanford_bunny_scan_points.xyz")]
    assert cloud["V"] <= 4000 and cloud["F"] == 0


def test_shared_meshes_at_full_size(shared_meshes, tmp_path):
    out = tmp_path / "cache"
    s = meshlearn.preprocess(shared_meshes, out, ops="spectral,hks", k=16, clean=True, workers=2, quiet=True)
    _check(shared_meshes, out, s.records)
    assert all(r["decimated_from"] is None for r in s.records)
