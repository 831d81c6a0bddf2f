"""Fast differentiable products with fixed sparse operators (Laplacian, gradients, patch operators).

Letters: V vertices (rows / columns of the operator), C channels, R rows of a rectangular operator.

On CPU, ``torch.sparse.mm`` is many times slower than scipy's CSR product for the thin dense right-hand
sides these nets use (V x C with C ~ 128), so on CPU the product goes through scipy (zero-copy views of
the torch buffers); on any other device it uses torch's CSR product. Either way the operator is
constant (no gradient with respect to its entries) and the gradient with respect to the dense factor is
``A^T g``, computed with a transposed copy that is built once.

Operators are converted once per torch tensor and remembered in a weak cache keyed by that tensor, so a
net that reads ``ops.L`` in every layer and every step pays the conversion only once per ``Operators``.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["SparseOp", "sparse_op", "cached_on"]

# (id(tensor), key) -> (weak reference to the tensor, value); entries drop when the tensor dies.
# (A WeakKeyDictionary would compare tensors with ==, which sparse tensors do not support.)
_CACHE: dict[tuple[int, Any], tuple[weakref.ref, Any]] = {}


class SparseOp:
    """A constant sparse matrix ``A : (R, V)`` that multiplies dense ``x : (V, C)`` differentiably.

    Parameters
    ----------
    A : torch sparse COO / CSR tensor (R, V), or scipy sparse matrix (R, V)
        The operator; its values are treated as constants.
    device : torch.device or str, optional
        Device of the dense factors; default: the device of ``A`` (CPU for a scipy matrix).
    dtype : torch.dtype, optional
        Floating dtype of the dense factors. default: float32 for scipy input, else ``A``'s dtype.
    backend : {"auto", "scipy", "torch"}
        How products are computed: ``auto`` is scipy on CPU and torch CSR elsewhere; ``scipy``
        is only valid on CPU. default: "auto"
    """

    def __init__(self, A: Any, device: Any = None, dtype: torch.dtype | None = None, backend: str = "auto") -> None:
        if backend not in ("auto", "scipy", "torch"):
            raise ValueError(f"backend must be 'auto', 'scipy' or 'torch' (got {backend!r})")
        if sp.issparse(A):
            device = torch.device(device or "cpu")
            dtype = dtype or torch.float32
            csr = sp.csr_matrix(A)
        else:
            device = torch.device(device or A.device)
            dtype = dtype or A.dtype
            coo = A.to_sparse_coo().coalesce() if A.layout != torch.sparse_coo else A.coalesce()
            idx = coo.indices().cpu().numpy()
            csr = sp.csr_matrix((coo.values().detach().cpu().numpy(), (idx[0], idx[1])), shape=tuple(coo.shape))
        self.shape = tuple(csr.shape)
        self.device, self.dtype = device, dtype
        np_dtype = np.float64 if dtype == torch.float64 else np.float32
        csr = csr.astype(np_dtype)
        csr.sort_indices()
        #: the operator as a scipy CSR matrix in the dense factors' precision (host memory)
        self.csr = csr
        self._abs_row_sums: np.ndarray | None = None
        if backend == "scipy" and device.type != "cpu":
            raise ValueError(f"the scipy backend works on CPU tensors only (device {device})")
        if backend == "scipy" or (backend == "auto" and device.type == "cpu"):
            self._fwd, self._bwd = csr, csr.T.tocsr()
        else:
            self._fwd, self._bwd = _torch_csr(csr, device, dtype), _torch_csr(csr.T.tocsr(), device, dtype)

    def _apply(self, mat: Any, x: torch.Tensor) -> torch.Tensor:
        if isinstance(mat, sp.spmatrix) or sp.issparse(mat):
            xn = x.detach().contiguous().numpy()
            return torch.from_numpy(np.ascontiguousarray(mat @ xn))
        return mat @ x

    def __matmul__(self, x: torch.Tensor) -> torch.Tensor:
        """``A @ x`` for ``x : (V, C)`` (or (V,)); differentiable in ``x``."""
        squeeze = x.dim() == 1
        out = _SpMM.apply(self, x.unsqueeze(1) if squeeze else x)
        return out.squeeze(1) if squeeze else out

    def abs_row_sums(self) -> np.ndarray:
        """Row sums of ``|A|``, (R,) float64 (used for Gershgorin bounds); computed once."""
        if self._abs_row_sums is None:
            self._abs_row_sums = np.asarray(abs(self.csr).sum(1), dtype=np.float64).ravel()
        return self._abs_row_sums

    def diagonal(self) -> np.ndarray:
        """The diagonal of ``A``, float64."""
        return np.asarray(self.csr.diagonal(), dtype=np.float64)


def _torch_csr(csr: sp.csr_matrix, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return torch.sparse_csr_tensor(
        torch.from_numpy(csr.indptr.astype(np.int64)),
        torch.from_numpy(csr.indices.astype(np.int64)),
        torch.from_numpy(csr.data).to(dtype),
        size=csr.shape,
    ).to(device)


class _SpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, op: SparseOp, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.op = op
        out = op._apply(op._fwd, x.to(op.dtype))
        return out.to(device=x.device, dtype=x.dtype)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[None, torch.Tensor]:  # type: ignore[override]
        op = ctx.op
        return None, op._apply(op._bwd, g.to(op.dtype)).to(device=g.device, dtype=g.dtype)


def cached_on(anchor: torch.Tensor, key: Any, build: Callable[[], Any]) -> Any:
    """``build()``, remembered for as long as the tensor ``anchor`` lives (one entry per key)."""
    slot = (id(anchor), key)
    entry = _CACHE.get(slot)
    if entry is not None and entry[0]() is anchor:
        return entry[1]
    value = build()

    def _drop(ref: weakref.ref, slot: tuple = slot) -> None:
        if _CACHE.get(slot, (None,))[0] is ref:
            del _CACHE[slot]

    _CACHE[slot] = (weakref.ref(anchor, _drop), value)
    return value


def sparse_op(A: torch.Tensor) -> SparseOp:
    """The :class:`SparseOp` of a torch sparse tensor, converted once and cached while ``A`` lives."""
    return cached_on(A, "sparse_op", lambda: SparseOp(A))
