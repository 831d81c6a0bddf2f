"""meshlearn.preprocess on a folder of good, repairable and broken files: manifest, resume, caches."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

import meshlearn
from meshlearn import ConfigError, OperatorSpec
from meshlearn.cache import OperatorCache, load_operators
from meshlearn.preprocess import read_manifest

SPEC = OperatorSpec(operators=frozenset({"spectral", "hks"}), k=16)


def _snapshot(root):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.glob("*.npz"))}


def test_mixed_folder_manifest_then_rerun_computes_nothing(mixed_folder, tmp_path, monkeypatch):
    out = tmp_path / "cache"
    summary = meshlearn.preprocess(mixed_folder["root"], out, spec=SPEC, clean=True, workers=1, quiet=True)

    records = read_manifest(out / "manifest.jsonl")
    by_source = {r["source"]: r for r in records}
    shapes = mixed_folder["good"] + mixed_folder["repairable"] + mixed_folder["broken"]
    assert len(records) == len(shapes) == len(by_source)  # one line per shape file; README/notes ignored
    for path in mixed_folder["good"] + mixed_folder["repairable"]:
        r = by_source[str(path.resolve())]
        assert r["status"] == "ok", r
        shape = meshlearn.load(path, clean=True, normalize="radius")  # preprocess's default
        assert (r["V"], r["F"], r["hash"]) == (shape.n_verts, shape.n_faces, shape.content_hash())
        assert r["cache_file"] == OperatorCache(out).path_for(shape, SPEC).name and r["seconds"] > 0
    for path in mixed_folder["broken"]:
        r = by_source[str(path.resolve())]
        assert r["status"] == "failed" and r["error"], r
        assert r["cache_file"] is None
    assert summary.counts == {"ok": 6, "skipped-cached": 0, "failed": 4, "not run": 0}
    assert not summary.complete
    assert len(list(out.glob("*.npz"))) == 6

    # The second run loads every file again but computes nothing and rewrites nothing.
    before = _snapshot(out)
    monkeypatch.setattr("meshlearn.geometry.operators._compute", _no_compute)
    again = meshlearn.preprocess(mixed_folder["root"], out, spec=SPEC, clean=True, workers=1, quiet=True)
    assert again.counts == {"ok": 0, "skipped-cached": 6, "failed": 4, "not run": 0}
    assert _snapshot(out) == before
    assert len(read_manifest(out / "manifest.jsonl")) == 2 * len(shapes)

    # What the cache hands back is the same as computing afresh, and the sphere's spectrum is
    # the analytic one: eigenvalues l(l+1) of the unit sphere with multiplicity 2l+1.
    sphere = meshlearn.load(mixed_folder["good"][2], clean=True, normalize="radius")
    cached = OperatorCache(out).lookup(sphere, SPEC)
    monkeypatch.undo()
    fresh = meshlearn.compute_operators(sphere, SPEC)
    np.testing.assert_allclose(cached.evals, fresh.evals, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(cached.evals[1:4], 2.0, rtol=0.03)
    np.testing.assert_allclose(cached.evals[4:9], 6.0, rtol=0.05)
    assert cached.hks.shape == (sphere.n_verts, SPEC.n_hks)


def _no_compute(*args, **kwargs):
    raise AssertionError("a fully cached rerun must compute nothing")


def test_fail_fast_stops_at_the_first_failure(mixed_folder, tmp_path):
    lst = tmp_path / "order.txt"
    lst.write_text("\n".join(str(p) for p in [mixed_folder["good"][0], mixed_folder["broken"][0], *mixed_folder["good"][1:]]))
    out = tmp_path / "cache"
    s = meshlearn.preprocess(lst, out, spec=SPEC, workers=1, fail_fast=True, quiet=True)
    assert s.stopped_early and [r["status"] for r in s.records] == ["ok", "failed"]
    assert s.counts["not run"] == 2 and not s.complete
    assert len(read_manifest(out / "manifest.jsonl")) == 2


def test_shape_over_the_vertex_budget_fails_clearly_or_is_decimated(mixed_folder, tmp_path):
    sphere = mixed_folder["good"][2]  # icosphere(3): 642 vertices, radius 1
    out = tmp_path / "cache"
    s = meshlearn.preprocess(sphere, out, spec=SPEC, max_vertices=300, workers=1, quiet=True)
    (r,) = s.records
    assert r["status"] == "failed" and "642 vertices" in r["error"] and "--decimate" in r["error"]

    s = meshlearn.preprocess(sphere, out, spec=SPEC, max_vertices=300, decimate=True, workers=1, quiet=True)
    (r,) = s.records
    assert r["status"] == "ok" and r["V"] <= 300 and r["decimated_from"] == [642, 1280]
    ops, _ = load_operators(out / r["cache_file"])
    assert ops.verts.shape[0] == r["V"]
    # still the unit sphere: points on it, area near 4 pi, first eigenvalues near 2
    np.testing.assert_allclose(np.linalg.norm(ops.verts, axis=1), 1.0, atol=0.03)
    np.testing.assert_allclose(ops.evals[1:4], 2.0, rtol=0.06)


@pytest.mark.timeout(300)
def test_pool_and_dask_produce_the_same_cache(sphere_folder, tmp_path):
    distributed = pytest.importorskip("distributed")
    folder = sphere_folder(3, subdivisions=3)
    a, b = tmp_path / "pool", tmp_path / "dask"
    sa = meshlearn.preprocess(folder, a, spec=SPEC, workers=2, quiet=True)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        sb = meshlearn.preprocess(folder, b, spec=SPEC, scheduler=cluster.scheduler_address, quiet=True)
    assert sa.complete and sb.complete
    assert sorted(p.name for p in a.glob("*.npz")) == sorted(p.name for p in b.glob("*.npz"))
    assert len(list(a.glob("*.npz"))) == 3
    for pa in sorted(a.glob("*.npz")):
        oa, _ = load_operators(pa)
        ob, _ = load_operators(b / pa.name)
        assert oa.spec == ob.spec and oa.shape_hash == ob.shape_hash
        for name in ("verts", "faces", "mass", "hks"):
            np.testing.assert_array_equal(getattr(oa, name), getattr(ob, name))
        assert (oa.L != ob.L).nnz == 0
        np.testing.assert_allclose(oa.evals, ob.evals, rtol=1e-6, atol=1e-6)  # BLAS threads may differ
        # eigenvectors of simple eigenvalues agree up to sign
        signs = np.sign(np.sum(oa.evecs * ob.evecs, axis=0))
        np.testing.assert_allclose(oa.evecs, ob.evecs * signs, atol=1e-5)


def test_bad_options_are_refused_before_any_work(tmp_path, mixed_folder):
    with pytest.raises(ConfigError, match="normalize must be one of area, radius"):
        meshlearn.preprocess(mixed_folder["root"], tmp_path / "c", normalize="volume")
    with pytest.raises(ConfigError, match="workers must be at least 1"):
        meshlearn.preprocess(mixed_folder["root"], tmp_path / "c", workers=0)
    with pytest.raises(ConfigError, match="unknown operator kind 'eigen'"):
        meshlearn.preprocess(mixed_folder["root"], tmp_path / "c", ops="spectral,eigen")
    with pytest.raises(ConfigError, match="unknown network 'unet'"):
        meshlearn.preprocess(mixed_folder["root"], tmp_path / "c", net="unet")
    assert not (tmp_path / "c" / "manifest.jsonl").exists()


def _hold_lock(out, seconds: float) -> subprocess.Popen:
    code = (
        "import sys, time\n"
        "from meshlearn.preprocess.lock import CacheLock\n"
        f"with CacheLock({str(out)!r}):\n"
        "    print('locked', flush=True)\n"
        f"    time.sleep({seconds})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_run_on_the_same_cache_is_refused_while_one_holds_it(tmp_path, mixed_folder):
    from meshlearn import CacheError

    out = tmp_path / "cache"
    out.mkdir()
    holder = _hold_lock(out, 60)
    try:
        with pytest.raises(CacheError, match="another `meshlearn preprocess`"):
            meshlearn.preprocess(mixed_folder["good"][0], out, spec=SPEC, workers=1, quiet=True)
    finally:
        holder.kill()
        holder.wait()
    # released by the holder's death: the run goes ahead, and removes temporaries a killed run left
    (out / ".abc.npz.xyz.tmp").write_bytes(b"partial")
    s = meshlearn.preprocess(mixed_folder["good"][0], out, spec=SPEC, workers=1, quiet=True)
    assert s.complete and not list(out.glob("*.tmp"))


def test_the_lock_is_not_kept_alive_by_a_process_forked_while_holding_it(tmp_path):
    from meshlearn.preprocess.lock import CacheLock

    with CacheLock(tmp_path):
        child = os.fork()  # what a helper process started during a run looks like
        if child == 0:
            time.sleep(5)
            os._exit(0)
    try:
        holder = _hold_lock(tmp_path, 0)  # another process can take it at once
        holder.wait()
    finally:
        os.kill(child, 9)
        os.waitpid(child, 0)
