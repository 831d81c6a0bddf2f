"""The sparse product used by every net: scipy (CPU) and torch CSR (other devices) backends agree,
and the gradient is the transpose product."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from meshlearn.nets._sparse import SparseOp, cached_on, sparse_op


def _random(shape, seed=0):
    A = sp.random(*shape, density=0.2, random_state=seed, format="coo")
    idx = torch.from_numpy(np.vstack([A.row, A.col]).astype(np.int64))
    return A.tocsr(), torch.sparse_coo_tensor(idx, torch.from_numpy(A.data), shape).coalesce()


@pytest.mark.parametrize("backend", ["scipy", "torch"])
def test_product_and_gradient(backend):
    A, At = _random((7, 5))
    op = SparseOp(At, backend=backend)
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.allclose(op @ x, torch.from_numpy(A @ x.detach().numpy()), atol=1e-12)
    assert (op @ x[:, 0]).shape == (7,)
    assert torch.autograd.gradcheck(lambda x: op @ x, (x,))
    g = torch.randn(7, 3, dtype=torch.float64)
    (op @ x).backward(g)
    assert torch.allclose(x.grad, torch.from_numpy(A.T @ g.numpy()), atol=1e-12)


def test_cache_follows_the_tensor():
    _, At = _random((4, 4), seed=1)
    assert sparse_op(At) is sparse_op(At)
    _, Bt = _random((4, 4), seed=1)
    assert sparse_op(Bt) is not sparse_op(At)
    calls = []
    for _ in range(2):
        cached_on(At, "k", lambda: calls.append(1))
    assert len(calls) == 1
    with pytest.raises(ValueError, match="backend"):
        SparseOp(At, backend="numpy")
