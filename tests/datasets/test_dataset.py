"""MeshDataset: normalisation, targets, operators through the cache, parallel preprocessing."""

from __future__ import annotations

import numpy as np
import pytest

from meshlearn import OperatorSpec
from meshlearn.datasets import MeshDataset, normalize_shape, read_dataset, write_dataset
from meshlearn.errors import DatasetError
from meshlearn.shape import Shape


def test_normalize_shape_centres_and_scales():
    s = Shape(np.array([[0.0, 0, 0], [4, 0, 0], [0, 2, 0]]) + 7.0, np.array([[0, 1, 2]]))
    n = normalize_shape(s)
    np.testing.assert_allclose(n.verts.mean(0), 0.0, atol=1e-12)
    assert np.linalg.norm(n.verts, axis=1).max() == pytest.approx(1.0)
    assert n.meta["scale"] > 0 and s.verts.min() == 7.0  # the input is untouched
    with pytest.raises(DatasetError, match="coincide"):
        normalize_shape(Shape(np.ones((3, 3)), np.array([[0, 1, 2]])))


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = write_dataset(tmp_path_factory.mktemp("d") / "d", n=3, seed=4, n_vertices=350, progress=False)
    return read_dataset(root)["train"]


SPEC = OperatorSpec(operators=frozenset({"spectral"}), k=8)


def test_dataset_items(split, tmp_path):
    ds = MeshDataset(split, SPEC, cache=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2
    again = MeshDataset(split, SPEC, cache=tmp_path / "cache")  # read back from the cache
    assert len(ds) == 2 and ds.n_labels() <= 12 and ds.n_template() == int(ds[0].targets["vts"].size)
    for a, b in zip(ds, again):
        assert a.name == b.name
        np.testing.assert_array_equal(a.ops.evecs, b.ops.evecs)
        assert a.targets["labels"].shape == a.targets["template_vertex"].shape == (a.shape.n_verts,)
        assert a.ops.evecs.shape == (a.shape.n_verts, 8)


def test_parallel_preprocessing_fills_the_same_cache(split, tmp_path):
    MeshDataset(split, SPEC, cache=tmp_path / "par", workers=2)
    MeshDataset(split, SPEC, cache=tmp_path / "seq")
    par = sorted(p.name for p in (tmp_path / "par").glob("*.npz"))
    assert par == sorted(p.name for p in (tmp_path / "seq").glob("*.npz")) and len(par) == 2
