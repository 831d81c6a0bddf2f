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
    assert len(list(tmp_path.glob("*.npz"))) == 2  # one entry per spec: the other parameters do not replace it
    assert not list(tmp_path.glob("*.tmp"))


def test_truncated_cache_file_is_recomputed(tmp_path, caplog):
    shape = _sphere_shape()
    cache = OperatorCache(tmp_path)
    spec = OperatorSpec(k=8)
    good = compute_operators(shape, spec, cache=cache)
    path = cache.path_for(shape, OperatorSpec(k=8))
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
    path = cache.path_for(shape, OperatorSpec(k=8))
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
    path = cache.path_for(shape, OperatorSpec(k=8))
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
    cache.path_for(other, OperatorSpec(k=8)).write_bytes(cache.path_for(shape, OperatorSpec(k=8)).read_bytes())
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


# --- one entry per (shape, spec) -------------------------------------------------------------


class _Counting:
    """An uncached compute function that records the specs it was asked for."""

    def __init__(self):
        self.specs = []

    def __call__(self, shape, spec, progress=None):
        self.specs.append(spec)
        return compute_operators(shape, spec)


def test_two_specs_for_one_shape_never_overwrite_each_other(tmp_path):
    shape, cache, compute = _sphere_shape(), OperatorCache(tmp_path), _Counting()
    a, b = OperatorSpec(operators="hks", k=16), OperatorSpec(operators="hks", k=32)  # no entry answers both
    cache.get_or_compute(shape, a, compute)
    (first,) = tmp_path.glob("*.npz")
    before = first.read_bytes()
    cache.get_or_compute(shape, b, compute)
    assert first.read_bytes() == before  # the first entry is untouched
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == sorted(
        cache.entry_path(shape, s).name for s in (a, b)
    )
    for _ in range(3):
        for spec in (a, b):
            ops = cache.get_or_compute(shape, spec, compute)
            np.testing.assert_allclose(ops.hks, compute_operators(shape, spec).hks, rtol=1e-4, atol=1e-6)
    assert len(compute.specs) == 2 and (cache.misses, cache.hits) == (2, 6)


def test_alternating_k64_and_k128_with_hks_hits_after_the_first_two_computes(tmp_path):
    shape, cache, compute = _sphere_shape(), OperatorCache(tmp_path), _Counting()
    small, big = OperatorSpec(k=64), OperatorSpec(operators="hks", k=128)
    fresh = compute_operators(shape, big)
    for _ in range(4):
        s = cache.get_or_compute(shape, small, compute)
        b = cache.get_or_compute(shape, big, compute)
        assert s.evecs.shape == (shape.n_verts, 64) and s.hks is None and b.hks.shape == (shape.n_verts, 16)
        np.testing.assert_allclose(b.evals, fresh.evals, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b.hks, fresh.hks, rtol=1e-4, atol=1e-6)
    assert len(compute.specs) == 2 and (cache.misses, cache.hits) == (2, 6)
    # the second compute stored one entry answering both, and the first one was then removed
    assert [p.name for p in tmp_path.glob("*.npz")] == [cache.entry_path(shape, big).name]
    assert not list(tmp_path.glob(".*.tmp"))


def _spy_member_reads(monkeypatch):
    """A list that receives (file, member) for every zip member opened from now on."""
    import zipfile

    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append((self.filename, name))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    return opened


def test_lookup_uses_the_smallest_covering_entry(tmp_path, monkeypatch):
    from pathlib import Path

    shape, cache = _sphere_shape(), OperatorCache(tmp_path)
    hks16, hks32 = OperatorSpec(operators="hks", k=16), OperatorSpec(operators="hks", k=32)
    for spec in (hks16, hks32):
        compute_operators(shape, spec, cache=cache)
    p16, p32 = cache.entry_path(shape, hks16), cache.entry_path(shape, hks32)
    assert p16.stat().st_size < p32.stat().st_size
    opened = _spy_member_reads(monkeypatch)

    def read_from(spec):
        opened.clear()
        ops = cache.lookup(shape, spec)
        return ops, {Path(f).name for f, name in opened if name != "__meta__.npy"}

    ops, files = read_from(OperatorSpec(k=8))  # both cover it: the smaller answers
    assert files == {p16.name} and ops.evecs.shape == (shape.n_verts, 8)
    assert cache.path_for(shape, OperatorSpec(k=8)) == p16
    ops, files = read_from(OperatorSpec(k=24))  # only the larger has 24 eigenpairs
    assert files == {p32.name} and ops.evecs.shape == (shape.n_verts, 24)
    ops, files = read_from(hks32)
    assert files == {p32.name} and ops.hks is not None
    assert read_from(OperatorSpec(operators="hks", k=24))[0] is None  # descriptors need their own k
    assert not cache.contains(shape, OperatorSpec(operators="wks", k=16))
    assert cache.path_for(shape, OperatorSpec(k=64)) == cache.entry_path(shape, OperatorSpec(k=64))


def test_merging_computes_only_what_the_stored_entry_lacks(tmp_path):
    shape, cache, compute = _sphere_shape(), OperatorCache(tmp_path), _Counting()
    gauge = OperatorSpec(operators="gauge,patches", k=8)
    stored = cache.get_or_compute(shape, gauge, compute)
    spectral = cache.get_or_compute(shape, OperatorSpec(k=8), compute)
    assert not compute.specs[1].operators & {"gauge", "patches"}  # the stored kinds are not recomputed
    union = OperatorSpec(operators="gauge,patches,spectral", k=8)
    (entry,) = tmp_path.glob("*.npz")
    assert entry == cache.entry_path(shape, union)
    both = cache.lookup(shape, union)
    fresh = compute_operators(shape, union)
    for name in ("edge_index", "angle", "transport"):
        np.testing.assert_array_equal(getattr(both.gauge, name), getattr(stored.gauge, name))
        np.testing.assert_allclose(getattr(both.gauge, name), getattr(fresh.gauge, name), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(both.patches.radius, stored.patches.radius)
    np.testing.assert_array_equal(both.frames, fresh.frames)
    np.testing.assert_allclose(both.evals, fresh.evals, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(both.evals, spectral.evals)
    assert (both.L != fresh.L).nnz == 0
    np.testing.assert_array_equal(both.mass, fresh.mass)


def test_more_eigenpairs_recompute_the_eigenbasis_but_keep_other_kinds(tmp_path):
    shape, cache, compute = _sphere_shape(), OperatorCache(tmp_path), _Counting()
    cache.get_or_compute(shape, OperatorSpec(operators="gradients,spectral", k=8), compute)
    ops = cache.get_or_compute(shape, OperatorSpec(k=32), compute)
    assert ops.evecs.shape == (shape.n_verts, 32)
    assert compute.specs[1].operators == frozenset({"spectral", "laplacian"}) and compute.specs[1].k == 32
    merged = cache.lookup(shape, OperatorSpec(operators="gradients,spectral", k=32))
    fresh = compute_operators(shape, OperatorSpec(operators="gradients", k=32))
    assert (merged.grad_x != fresh.grad_x).nnz == 0 and (merged.grad_y != fresh.grad_y).nnz == 0
    assert len(list(tmp_path.glob("*.npz"))) == 1


# --- reading member by member ----------------------------------------------------------------

_FULL = OperatorSpec(operators="spectral,hks,gradients,gauge", k=16)


def _member_data_span(path, member):
    """Byte range of a stored (uncompressed) zip member's data in the file."""
    import struct
    import zipfile

    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    assert info.compress_type == zipfile.ZIP_STORED
    raw = path.read_bytes()
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    return start, start + info.compress_size


def test_a_lookup_reads_only_the_members_the_spec_needs(tmp_path, monkeypatch):
    shape, cache = _sphere_shape(), OperatorCache(tmp_path)
    compute_operators(shape, _FULL, cache=cache)
    opened = _spy_member_reads(monkeypatch)
    ops = cache.lookup(shape, OperatorSpec(k=16))
    assert ops is not None and ops.grad_x is None and ops.gauge is None and ops.hks is None
    wanted = {"__meta__", "verts", "faces", "mass", "evals", "evecs", "L.data", "L.indices", "L.indptr", "L.shape"}
    assert {name[: -len(".npy")] for _, name in opened} == wanted


def test_a_damaged_member_of_another_kind_does_not_spoil_a_hit(tmp_path, caplog):
    shape, cache = _sphere_shape(), OperatorCache(tmp_path)
    full = compute_operators(shape, _FULL, cache=cache)
    path = cache.entry_path(shape, _FULL)
    start, end = _member_data_span(path, "grad_x.data.npy")
    raw = bytearray(path.read_bytes())
    raw[start + 200 : end] = b"\xff" * (end - start - 200)  # past the .npy header: only the CRC notices
    path.write_bytes(bytes(raw))
    ops = cache.lookup(shape, OperatorSpec(operators="hks", k=16))
    assert ops is not None
    np.testing.assert_array_equal(ops.hks, full.hks)
    np.testing.assert_array_equal(ops.evecs, full.evecs)
    assert cache.lookup(shape, OperatorSpec(operators="gradients", k=16)) is None
    assert any("unreadable cache file" in r.message and path.name in r.message for r in caplog.records)


def test_load_operators_with_a_spec_reads_only_its_fields(tmp_path):
    from meshlearn.cache import load_operators, save_operators
    from meshlearn.errors import CacheError

    shape = _sphere_shape()
    full = compute_operators(shape, _FULL)
    save_operators(tmp_path / "x.npz", full)
    ops, meta = load_operators(tmp_path / "x.npz", OperatorSpec(k=4))
    assert ops.spec == OperatorSpec(k=4) and ops.evecs.shape == (shape.n_verts, 4) and ops.grad_x is None
    assert OperatorSpec.from_dict(meta["spec"]) == _FULL
    with pytest.raises(CacheError, match="x.npz: holds .* which does not answer"):
        load_operators(tmp_path / "x.npz", OperatorSpec(operators="patches", k=4))


# --- atomicity, the earlier layout, concurrent writers -------------------------------------


@pytest.mark.parametrize(
    "second",
    [OperatorSpec(operators="gauge", k=8), OperatorSpec(operators="hks", k=8, n_hks=4)],
    ids=["merged", "beside"],
)
def test_a_failed_write_keeps_the_stored_entries(tmp_path, monkeypatch, second):
    import os

    from meshlearn.errors import CacheError

    shape, cache = _sphere_shape(), OperatorCache(tmp_path)
    first = OperatorSpec(k=8)
    compute_operators(shape, first, cache=cache)
    (entry,) = tmp_path.iterdir()
    before = entry.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(CacheError, match="cannot write the cache file .*disk full.*check space and permissions"):
        compute_operators(shape, second, cache=cache)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == [entry] and entry.read_bytes() == before  # no temporary left either
    assert cache.contains(shape, first) and not cache.contains(shape, second)


def test_a_file_of_the_one_file_per_shape_layout_is_read_and_then_superseded(tmp_path):
    from meshlearn.cache import save_operators

    shape, cache, compute = _sphere_shape(), OperatorCache(tmp_path), _Counting()
    legacy = tmp_path / f"{shape.content_hash()[:32]}.npz"
    save_operators(legacy, compute_operators(shape, OperatorSpec(operators="hks", k=16)))
    ops = cache.get_or_compute(shape, OperatorSpec(k=8), compute)
    assert not compute.specs and cache.hits == 1 and ops.evecs.shape == (shape.n_verts, 8)
    assert cache.path_for(shape, OperatorSpec(k=8)) == legacy
    # a spec it cannot answer is stored beside it in the new layout: no single entry answers both
    # (HKS at k=16 and 32 eigenpairs), so it stays
    cache.get_or_compute(shape, OperatorSpec(k=32), compute)
    assert legacy.exists() and cache.entry_path(shape, OperatorSpec(k=32)).exists()
    assert compute.specs[-1] == OperatorSpec(k=32)
    # one the union of both answers replaces it
    cache.get_or_compute(shape, OperatorSpec(operators="hks,gauge", k=16), compute)
    assert not legacy.exists()
    assert cache.contains(shape, OperatorSpec(operators="hks", k=16)) and cache.contains(shape, OperatorSpec(k=32))


def _write_after_barrier(root, spec, barrier):
    cache = OperatorCache(root)

    def compute(shape, s, progress=None):
        ops = compute_operators(shape, s)
        barrier.wait(timeout=120)  # both have looked up and missed before either writes
        return ops

    cache.get_or_compute(_sphere_shape(), spec, compute)


def test_concurrent_writers_of_different_specs_for_one_shape_keep_both_entries(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    specs = [OperatorSpec(k=8), OperatorSpec(operators="gauge", k=8)]  # one entry could answer both
    procs = [ctx.Process(target=_write_after_barrier, args=(tmp_path, s, barrier), daemon=True) for s in specs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0, 0]
    shape, cache = _sphere_shape(), OperatorCache(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(cache.entry_path(shape, s).name for s in specs)
    assert all(cache.contains(shape, s) for s in specs)
