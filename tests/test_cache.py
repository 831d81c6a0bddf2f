import numpy as np
import pytest

from meshlearn import OperatorSpec, compute_operators
from meshlearn.cache import OperatorCache
from meshlearn.errors import ConfigError

from meshlearn.testing import icosphere


def _sphere_shape():
    return icosphere(2)


def test_spec_dependencies_and_key():
    spec = OperatorSpec(operators=frozenset({"hks"}), k=16)
    assert {"hks", "spectral", "laplacian"} <= spec.operators
    assert spec.key() == OperatorSpec(operators="hks", k=16).key()
    assert spec.key() != OperatorSpec(operators="hks", k=17).key()
    with pytest.raises(ConfigError, match="unknown operator kind"):
        OperatorSpec(operators=frozenset({"nonsense"}))


def test_cache_computes_once_and_recomputes_on_spec_change(tmp_path):
    shape = _sphere_shape()
    cache = OperatorCache(tmp_path)
    spec = OperatorSpec(k=8)
    a = compute_operators(shape, spec, cache=cache)
    b = compute_operators(shape, spec, cache=cache)
    assert (cache.misses, cache.hits) == (1, 1)
    np.testing.assert_array_equal(a.evals, b.evals)
    # fewer eigenpairs are served from the stored file
    c = compute_operators(shape, OperatorSpec(k=4), cache=cache)
    assert cache.hits == 2 and c.evecs.shape == (shape.n_verts, 4)
    # a changed parameter recomputes
    compute_operators(shape, OperatorSpec(k=8, laplacian="cotan"), cache=cache)
    assert cache.misses == 2
    assert len(list(tmp_path.glob("*.npz"))) == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_truncated_cache_file_is_recomputed(tmp_path, caplog):
    shape = _sphere_shape()
    cache = OperatorCache(tmp_path)
    spec = OperatorSpec(k=8)
    good = compute_operators(shape, spec, cache=cache)
    path = cache.path_for(shape)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    again = compute_operators(shape, spec, cache=cache)
    assert cache.misses == 2
    np.testing.assert_allclose(again.evals, good.evals)
    assert any("recomputing" in r.message for r in caplog.records)


def test_operators_to_torch():
    import torch

    shape = _sphere_shape()
    ops = compute_operators(shape, OperatorSpec(k=8, dtype="float64")).to("cpu", torch.float64)
    assert ops.evecs.dtype == torch.float64 and ops.L.is_sparse
    x = torch.ones(shape.n_verts, dtype=torch.float64)
    assert torch.allclose(torch.sparse.mm(ops.L, x[:, None]), torch.zeros(shape.n_verts, 1, dtype=torch.float64), atol=1e-10)


def test_cached_descriptors_equal_a_fresh_computation(tmp_path):
    # HKS/WKS depend on the eigenpairs they sum over (and their times/energies on the largest
    # eigenvalue kept): a file computed with more eigenpairs must not answer a smaller k.
    shape = _sphere_shape()
    cache = OperatorCache(tmp_path)
    compute_operators(shape, OperatorSpec(operators="hks,wks", k=32), cache=cache)
    for k in (16, 32):
        spec = OperatorSpec(operators="hks,wks", k=k)
        cached = compute_operators(shape, spec, cache=cache)
        fresh = compute_operators(shape, spec)
        np.testing.assert_allclose(cached.hks, fresh.hks, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(cached.wks, fresh.wks, rtol=1e-4, atol=1e-6)
    # the eigenbasis alone is still served from a file holding more eigenpairs
    before = cache.hits
    c = compute_operators(shape, OperatorSpec(k=8), cache=cache)
    assert cache.hits == before + 1 and c.evecs.shape[1] == 8


def test_covers_and_union():
    hks32 = OperatorSpec(operators="hks", k=32)
    assert hks32.covers(OperatorSpec(k=8))
    assert hks32.covers(OperatorSpec(operators="hks", k=32))
    assert not hks32.covers(OperatorSpec(operators="hks", k=16))
    assert not hks32.covers(OperatorSpec(operators="gauge", k=32))
    assert not hks32.covers(OperatorSpec(operators="hks", k=32, n_hks=8))
    both = OperatorSpec(operators="gauge").union(OperatorSpec(operators="spectral", k=8))
    assert {"gauge", "spectral"} <= both.operators and both.k == 128


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_spec_dtype_applies_to_every_float_field(dtype):
    shape = _sphere_shape()
    spec = OperatorSpec(operators="spectral,hks,gradients,gauge,patches", k=8, dtype=dtype)
    ops = compute_operators(shape, spec)
    for name in ("mass", "evals", "evecs", "hks", "frames"):
        assert getattr(ops, name).dtype == dtype, name
    for name in ("L", "grad_x", "grad_y"):
        assert getattr(ops, name).dtype == dtype, name
    for value in (ops.gauge.angle, ops.gauge.transport, ops.patches.radius, ops.patches.angle):
        assert value.dtype == dtype
    assert ops.gauge.edge_index.dtype == np.int64 and ops.patches.edge_index.dtype == np.int64
    assert ops.verts.dtype == np.float64  # the exact positions, compared on every cache hit


def test_file_round_trip_keeps_every_field(tmp_path):
    from meshlearn.cache import load_operators, save_operators

    shape = _sphere_shape()
    spec = OperatorSpec(operators="spectral,hks,gradients,gauge,patches", k=8)
    ops = compute_operators(shape, spec)
    save_operators(tmp_path / "x.npz", ops)
    back, meta = load_operators(tmp_path / "x.npz")
    assert back.spec == spec and back.shape_hash == shape.content_hash()
    for name in ("verts", "faces", "mass", "evals", "evecs", "hks", "frames"):
        a, b = getattr(ops, name), getattr(back, name)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    for name in ("L", "grad_x", "grad_y"):
        assert (getattr(ops, name) != getattr(back, name)).nnz == 0
    for name in ("edge_index", "angle", "transport"):
        np.testing.assert_array_equal(getattr(ops.gauge, name), getattr(back.gauge, name))
    for name in ("edge_index", "radius", "angle"):
        np.testing.assert_array_equal(getattr(ops.patches, name), getattr(back.patches, name))
    assert back.patches.max_radius == ops.patches.max_radius


def test_stored_kinds_are_kept_when_others_are_added(tmp_path):
    shape = _sphere_shape()
    cache = OperatorCache(tmp_path)
    compute_operators(shape, OperatorSpec(operators="gauge", k=8), cache=cache)
    spectral = compute_operators(shape, OperatorSpec(operators="spectral", k=8), cache=cache)
    assert spectral.gauge is None and spectral.frames is None  # trimmed to what was asked
    gauge = compute_operators(shape, OperatorSpec(operators="gauge", k=8), cache=cache)
    assert (cache.misses, cache.hits) == (2, 1)
    assert gauge.evecs is None and gauge.gauge is not None and gauge.frames is not None
    assert cache.contains(shape, OperatorSpec(operators="gauge,spectral", k=8))
    assert not cache.contains(shape, OperatorSpec(operators="gauge,spectral", k=16))


def _write_valid(tmp_path):
    shape = _sphere_shape()
    cache = OperatorCache(tmp_path)
    good = compute_operators(shape, OperatorSpec(k=8), cache=cache)
    return shape, cache, good


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: b"",
        lambda raw: b"not a zip file at all" * 10,
        lambda raw: raw[: len(raw) // 3],
        lambda raw: raw[:-40],
    ],
    ids=["empty", "junk", "truncated", "no-directory-end"],
)
def test_damaged_cache_file_is_recomputed_with_a_warning(tmp_path, caplog, damage):
    shape, cache, good = _write_valid(tmp_path)
    path = cache.path_for(shape)
    path.write_bytes(damage(path.read_bytes()))
    assert not cache.contains(shape, OperatorSpec(k=8))
    again = compute_operators(shape, OperatorSpec(k=8), cache=cache)
    np.testing.assert_allclose(again.evals, good.evals)
    assert any("recomputing" in r.message for r in caplog.records)
    assert cache.contains(shape, OperatorSpec(k=8))  # the file was rewritten


@pytest.mark.parametrize(
    "meta",
    [None, b"{not json", b"[1, 2]", b'{"spec": {"k": "many"}, "version": "1"}', b'{"spec": 3, "version": "1"}'],
    ids=["missing", "not-json", "not-a-dict", "bad-spec", "spec-not-a-dict"],
)
def test_cache_file_with_bad_metadata_is_recomputed(tmp_path, caplog, meta):
    import io as _io

    shape, cache, good = _write_valid(tmp_path)
    path = cache.path_for(shape)
    with np.load(path) as z:
        arrays = {n: z[n] for n in z.files if n != "__meta__"}
    if meta is not None:
        arrays["__meta__"] = np.frombuffer(meta, dtype=np.uint8)
    buf = _io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())
    again = compute_operators(shape, OperatorSpec(k=8), cache=cache)
    np.testing.assert_allclose(again.evals, good.evals)
    assert cache.misses == 2


def test_file_of_another_shape_or_version_is_not_used(tmp_path, monkeypatch):
    import meshlearn.cache as cache_mod

    shape, cache, _ = _write_valid(tmp_path)
    other = shape.with_(verts=shape.verts * 2.0)
    cache.path_for(other).write_bytes(cache.path_for(shape).read_bytes())
    ops = compute_operators(other, OperatorSpec(k=8), cache=cache)
    assert cache.misses == 2
    # eigenvalues scale as 1 / length^2
    np.testing.assert_allclose(ops.evals[1:], compute_operators(shape, OperatorSpec(k=8)).evals[1:] / 4, rtol=1e-4)
    monkeypatch.setattr(cache_mod, "GEOMETRY_VERSION", "another")
    assert not cache.contains(shape, OperatorSpec(k=8))


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    import os

    from meshlearn.cache import atomic_write_bytes

    import meshlearn.cache as cache_mod

    target = tmp_path / "a.npz"
    monkeypatch.setattr(cache_mod, "_UMASK", 0o022)
    atomic_write_bytes(target, b"old")
    # permissions as for any new file (a shared cache folder stays readable), not mkstemp's 0600
    assert target.stat().st_mode & 0o777 == 0o644

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]


def test_unwritable_cache_folder_raises_cache_error(tmp_path):
    from meshlearn.errors import CacheError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CacheError, match="cannot create the cache folder"):
        OperatorCache(blocker / "sub")


def test_load_operators_names_the_damaged_file(tmp_path):
    from meshlearn.cache import load_operators
    from meshlearn.errors import CacheError

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CacheError, match="bad.npz: not a readable operator cache file"):
        load_operators(bad)
    with pytest.raises(CacheError, match="missing.npz"):
        load_operators(tmp_path / "missing.npz")
