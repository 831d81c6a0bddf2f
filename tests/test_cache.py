import numpy as np
import pytest

import meshlearn
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
