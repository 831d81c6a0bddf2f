"""MeshDataset: one loader and normalisation, an index in memory, items streamed from the cache
under a memory limit, picklable items for DataLoader workers, parallel preprocessing."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import meshlearn
from meshlearn import OperatorSpec
from meshlearn.cache import OperatorCache
from meshlearn.datasets import (
    DEFAULT_NORMALIZE,
    MeshDataset,
    collate_items,
    load_sample,
    normalize_shape,
    read_dataset,
    write_dataset,
)
from meshlearn.errors import ConfigError, InvalidMeshError
from meshlearn.shape import Shape


def test_normalize_shape_is_the_loaders_normalisation_and_idempotent():
    s = Shape(np.array([[0.0, 0, 0], [4, 0, 0], [0, 2, 0]]) + 7.0, np.array([[0, 1, 2]]))
    n = normalize_shape(s)
    ref = meshlearn.load(s, normalize="radius")
    np.testing.assert_array_equal(n.verts, ref.verts)
    # the triangle's area-weighted centroid (its corners' mean) goes to the origin, the farthest corner to 1
    np.testing.assert_allclose(n.verts.mean(0), 0.0, atol=1e-12)
    assert np.linalg.norm(n.verts, axis=1).max() == pytest.approx(1.0)
    assert n.meta["normalize"] == DEFAULT_NORMALIZE == "radius" and s.verts.min() == 7.0  # the input is untouched
    assert normalize_shape(n) is n  # normalising twice changes nothing
    with pytest.raises(InvalidMeshError, match="zero area"):
        normalize_shape(Shape(np.ones((3, 3)), np.array([[0, 1, 2]])))


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("d") / "d", n=5, seed=4, n_vertices=350, progress=False)


@pytest.fixture(scope="module")
def split(root):
    return read_dataset(root)["train"]


SPEC = OperatorSpec(operators=frozenset({"spectral"}), k=8)


def test_samples_are_loaded_by_meshlearn_load(split):
    rec = split.records[0]
    sample = load_sample(rec)
    ref = meshlearn.load(rec.mesh, clean=False, normalize="radius")
    np.testing.assert_array_equal(sample.shape.verts, ref.verts)
    np.testing.assert_array_equal(sample.shape.faces, ref.faces)
    assert sample.shape.meta["normalize"] == "radius" and sample.shape.meta["scale"] > 0
    raw = load_sample(rec, normalize=None).shape
    np.testing.assert_allclose((raw.verts - sample.shape.meta["offset"]) * sample.shape.meta["scale"],
                               sample.shape.verts, atol=1e-12)


def test_dataset_items(split, tmp_path):
    ds = MeshDataset(split, SPEC, cache=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 4
    again = MeshDataset(split, SPEC, cache=tmp_path / "cache")  # read back from the cache
    assert len(ds) == 4 and ds.n_labels() <= 12 and ds.n_template() == int(ds[0].targets["vts"].size)
    assert ds.names() == [r.name for r in split.records]
    for i, (a, b) in enumerate(zip(ds, again)):
        assert a.name == b.name and a.index == i
        np.testing.assert_array_equal(a.ops.evecs, b.ops.evecs)
        assert a.targets["labels"].shape == a.targets["template_vertex"].shape == (a.shape.n_verts,)
        assert a.ops.evecs.shape == (a.shape.n_verts, 8)
    assert ds.n_labels() == max(int(it.targets["labels"].max()) for it in ds) + 1


def test_nothing_is_held_and_items_are_read_from_the_cache(split, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    MeshDataset(split, SPEC, cache=cache)
    monkeypatch.setattr("meshlearn.geometry.operators._compute", _no_compute)
    ds = MeshDataset(split, SPEC, cache=cache)  # every operator is in the cache
    assert ds.resident_bytes == 0 and not ds._resident
    first, second = ds[1], ds[1]
    assert first is not second  # read twice: nothing stays behind
    np.testing.assert_array_equal(first.ops.evecs, second.ops.evecs)
    ref = OperatorCache(cache).lookup(first.shape, SPEC)
    np.testing.assert_array_equal(first.ops.evecs, ref.evecs)


def _no_compute(*args, **kwargs):
    raise AssertionError("everything is cached: nothing may be computed")


def test_memory_limit_holds_while_the_cache_is_larger(split, tmp_path):
    cache = tmp_path / "cache"
    sizes = [it.nbytes() for it in MeshDataset(split, SPEC, cache=cache)]
    limit = int(2.5 * max(sizes))
    assert sum(sizes) > limit  # the cache does not fit under the limit
    ds = MeshDataset(split, SPEC, cache=cache, max_resident_bytes=limit)
    order = np.random.default_rng(0).permutation(np.tile(np.arange(len(ds)), 5))
    for i in order:
        item = ds[int(i)]
        assert item.index == i and ds.resident_bytes <= limit and len(ds._resident) <= 2
    assert 0 < ds.peak_resident_bytes <= limit
    assert ds.resident_bytes == sum(size for _, size in ds._resident.values())
    with pytest.raises(ConfigError, match="max_resident_bytes"):
        MeshDataset(split, SPEC, cache=cache, max_resident_bytes=-1)


def test_items_pickle_and_collate_to_torch_lists(split, tmp_path):
    ds = MeshDataset(split, SPEC, cache=tmp_path / "cache")
    item = pickle.loads(pickle.dumps(ds[0]))
    np.testing.assert_array_equal(item.ops.evecs, ds[0].ops.evecs)
    batch = collate_items([ds[0], ds[2]])
    assert isinstance(batch, list) and [b.index for b in batch] == [0, 2]
    assert batch[0].ops.evecs.dtype == torch.float32 and batch[0].ops.evecs.device.type == "cpu"
    assert batch[0].ops.evecs.shape[0] != batch[1].ops.evecs.shape[0]  # sizes differ: a list, no padding
    # two worker processes read the same items as the dataset does directly
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate_items)
    got = [it for b in loader for it in b]
    assert [it.name for it in got] == ds.names()
    for it in got:
        np.testing.assert_allclose(it.ops.evecs.numpy(), ds[it.index].ops.evecs.astype(np.float32))


def test_parallel_preprocessing_fills_the_same_cache(split, tmp_path):
    MeshDataset(split, SPEC, cache=tmp_path / "par", workers=2)
    MeshDataset(split, SPEC, cache=tmp_path / "seq")
    par = sorted(p.name for p in (tmp_path / "par").glob("*.npz"))
    assert par == sorted(p.name for p in (tmp_path / "seq").glob("*.npz")) and len(par) == 4


def test_index_only_reads_no_operators(split, tmp_path, monkeypatch):
    """precompute=False (a DDP rank other than 0) builds the index without opening the cache."""
    def no_lookup(*args, **kwargs):
        raise AssertionError("the index must not read operators")

    monkeypatch.setattr(OperatorCache, "lookup", no_lookup)
    monkeypatch.setattr(OperatorCache, "get_or_compute", no_lookup)
    ds = MeshDataset(split, SPEC, cache=tmp_path / "empty", precompute=False)
    assert len(ds) == 4 and ds.n_labels() > 0 and ds.n_template() > 0
