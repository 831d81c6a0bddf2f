"""Gauge-equivariant kernels between feature types, with bases solved from the constraint.

Letters: D_in, D_out feature dimensions; C_n number of irreps of order n in a type; B basis size.

Two kernels map features of type ``in_type`` to ``out_type`` (de Haan et al., ICLR 2021, Sec. 3):

* the *neighbour kernel* ``K(theta)``, applied to a neighbour that lies in direction ``theta``,
  must satisfy ``K(theta - g) = rho_out(-g) K(theta) rho_in(g)`` for every angle g;
* the *self-interaction kernel* ``K_self`` must satisfy ``rho_out(-g) K_self rho_in(g) = K_self``.

Both constraints act block by block: the block between an output irrep of order m and an input
irrep of order n only has to satisfy the constraint with ``rho_m`` and ``rho_n``. For every pair
(m, n) the basis is *solved numerically*: the neighbour kernel is written as a trigonometric
polynomial ``K(theta) = sum_f A_f cos(f theta) + B_f sin(f theta)``; the constraint maps each
frequency f to itself, so for each f the unknowns ``(A_f, B_f)`` are constrained by sampling it at
random angles ``(theta, g)``, and the solutions are the null space of that linear system (SVD).
The basis of a pair is the union over f of orthonormal null-space vectors (orthonormal in the
coefficients ``(A_f, B_f)``); every basis kernel has a single frequency.

What comes out (and what ``tests/gauge/test_kernels.py`` checks against the paper's table):

=================  =========================  ================================
pair (m, n)        neighbour basis            self-interaction basis
=================  =========================  ================================
0 <- 0             1 (f = 0, a constant)      1
m <- 0, m >= 1     2 (f = m)                  0
0 <- n, n >= 1     2 (f = n)                  0
m <- n, m, n >= 1  4 (2 with f = |m - n|,     2 if m == n (identity and the
                   2 with f = m + n)          90 degree rotation), else 0
=================  =========================  ================================

Frequencies above ``m + n`` admit no solution (every entry of ``rho_m(-g) K rho_n(g)`` is a
product of terms of frequencies m and n); the solver searches ``f = 0 .. m + n`` unless a
``band_limit`` lowers that bound, which drops the basis kernels of higher frequency.

Any equivariant neighbour kernel satisfies ``K(theta) = rho_out(theta) K(0) rho_in(-theta)`` (put
``g = theta`` in the constraint), so it is fixed by ``K(0)``; :class:`GemConv` uses this to apply
the kernel per edge with two cheap rotations and one shared matrix instead of an (E, D_out, D_in)
stack of per-edge matrices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np
import torch
from torch import nn

from .feature_type import FeatureType
from .irreps import check_order, irrep_dim, irrep_matrix_np

__all__ = ["KernelBasis", "neighbour_basis", "self_basis", "NeighbourKernel", "SelfKernel"]

_N_SAMPLES = 8  # random (theta, g) pairs per constraint; far more equations than unknowns (<= 8)
_NULL_TOL = 1e-9


@dataclass(frozen=True)
class KernelBasis:
    """Basis of equivariant kernels between one output irrep (order m) and one input irrep (order n).

    Basis kernel b is ``K_b(theta) = cos_coef[b] cos(freq[b] theta) + sin_coef[b] sin(freq[b] theta)``.

    Attributes
    ----------
    out_order, in_order : int
    freq : (B,) int64 ndarray
    cos_coef, sin_coef : (B, d_out, d_in) float64 ndarray
    """

    out_order: int
    in_order: int
    freq: np.ndarray
    cos_coef: np.ndarray
    sin_coef: np.ndarray

    def __len__(self) -> int:
        return int(self.freq.shape[0])

    def evaluate(self, theta: torch.Tensor) -> torch.Tensor:
        """The basis kernels at angles ``theta`` (...,): (..., B, d_out, d_in), dtype of ``theta``."""
        theta = torch.as_tensor(theta)
        f = torch.as_tensor(self.freq, dtype=theta.dtype, device=theta.device)
        ph = theta[..., None] * f  # (..., B)
        A = torch.as_tensor(self.cos_coef, dtype=theta.dtype, device=theta.device)
        Bs = torch.as_tensor(self.sin_coef, dtype=theta.dtype, device=theta.device)
        return torch.cos(ph)[..., None, None] * A + torch.sin(ph)[..., None, None] * Bs


def _null_space(M: np.ndarray) -> np.ndarray:
    """Orthonormal rows spanning the null space of M (k, n)."""
    if M.size == 0:
        return np.eye(M.shape[1])
    _, s, vh = np.linalg.svd(M)
    rank = int((s > _NULL_TOL * max(1.0, s[0] if s.size else 1.0)).sum())
    null = vh[rank:]
    null[np.abs(null) < 1e-13] = 0.0
    return null


def _samples(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-math.pi, math.pi, size=(n, 2))


@lru_cache(maxsize=None)
def neighbour_basis(out_order: int, in_order: int, band_limit: Optional[int] = None) -> KernelBasis:
    """Solve ``K(theta - g) = rho_m(-g) K(theta) rho_n(g)`` for kernels of frequency <= the limit.

    Parameters
    ----------
    out_order, in_order : int
        m and n.
    band_limit : int, optional
        Highest frequency of ``theta`` kept. default: ``m + n`` (everything; higher frequencies have
        no solution).

    Returns
    -------
    KernelBasis
    """
    m, n = check_order(out_order, "out_order"), check_order(in_order, "in_order")
    top = m + n if band_limit is None else min(m + n, check_order(band_limit, "band_limit"))
    dm, dn = irrep_dim(m), irrep_dim(n)
    size = dm * dn
    freqs, cos_c, sin_c = [], [], []
    for f in range(top + 1):
        n_unknown = size if f == 0 else 2 * size
        rows = []
        for theta, g in _samples(1000 + 97 * f + 13 * m + n, _N_SAMPLES):
            Rm, Rn = irrep_matrix_np(m, -g), irrep_matrix_np(n, g)
            cols = []
            for k in range(n_unknown):
                u = np.zeros(n_unknown)
                u[k] = 1.0
                A = u[:size].reshape(dm, dn)
                B = u[size:].reshape(dm, dn) if f else np.zeros((dm, dn))

                def K(t: float) -> np.ndarray:
                    return A * math.cos(f * t) + B * math.sin(f * t)

                cols.append((K(theta - g) - Rm @ K(theta) @ Rn).ravel())
            rows.append(np.stack(cols, 1))
        for vec in _null_space(np.concatenate(rows, 0)):
            freqs.append(f)
            cos_c.append(vec[:size].reshape(dm, dn))
            sin_c.append(vec[size:].reshape(dm, dn) if f else np.zeros((dm, dn)))
    return KernelBasis(
        m,
        n,
        np.asarray(freqs, dtype=np.int64),
        np.asarray(cos_c, dtype=np.float64).reshape(-1, dm, dn),
        np.asarray(sin_c, dtype=np.float64).reshape(-1, dm, dn),
    )


@lru_cache(maxsize=None)
def self_basis(out_order: int, in_order: int) -> KernelBasis:
    """Solve ``rho_m(-g) K rho_n(g) = K`` (a constant kernel): the self-interaction basis.

    Returns a :class:`KernelBasis` with every frequency 0 and ``sin_coef`` zero.
    """
    m, n = check_order(out_order, "out_order"), check_order(in_order, "in_order")
    dm, dn = irrep_dim(m), irrep_dim(n)
    size = dm * dn
    rows = []
    for _, g in _samples(7 + 13 * m + n, _N_SAMPLES):
        Rm, Rn = irrep_matrix_np(m, -g), irrep_matrix_np(n, g)
        cols = [(Rm @ e.reshape(dm, dn) @ Rn - e.reshape(dm, dn)).ravel() for e in np.eye(size)]
        rows.append(np.stack(cols, 1))
    null = _null_space(np.concatenate(rows, 0))
    k = null.shape[0]
    return KernelBasis(
        m, n, np.zeros(k, dtype=np.int64), null.reshape(k, dm, dn), np.zeros((k, dm, dn))
    )


class _BlockKernel(nn.Module):
    """Learned coefficients of a per-(m, n) basis, assembled into (D_out, D_in) matrices.

    For every pair of orders (m present in ``out_type``, n present in ``in_type``) with a non-empty
    basis there is one weight ``(C_m, C_n, B_mn)``: every output irrep of order m gets its own
    combination of basis kernels from every input irrep of order n.
    """

    def __init__(self, in_type: FeatureType, out_type: FeatureType, bases: dict[tuple[int, int], KernelBasis]):
        super().__init__()
        self.in_type, self.out_type = in_type, out_type
        self.pairs = [(m, n) for (m, n), b in bases.items() if len(b)]
        self._bases = {k: bases[k] for k in self.pairs}
        self.weights = nn.ParameterDict()
        for m, n in self.pairs:
            c_m, c_n = out_type.multiplicities[m], in_type.multiplicities[n]
            self.weights[f"{m}_{n}"] = nn.Parameter(torch.empty(c_m, c_n, len(bases[(m, n)])))
            self.register_buffer(f"cos_{m}_{n}", torch.as_tensor(bases[(m, n)].cos_coef, dtype=torch.float64))
            self.register_buffer(f"sin_{m}_{n}", torch.as_tensor(bases[(m, n)].sin_coef, dtype=torch.float64))
            self.register_buffer(f"freq_{m}_{n}", torch.as_tensor(bases[(m, n)].freq, dtype=torch.float64))
        perm_out = torch.cat([out_type.component_indices(m) for m in out_type.multiplicities])
        perm_in = torch.cat([in_type.component_indices(n) for n in in_type.multiplicities])
        self.register_buffer("inv_out", torch.argsort(perm_out), persistent=False)
        self.register_buffer("inv_in", torch.argsort(perm_in), persistent=False)

    @property
    def n_basis(self) -> int:
        """Number of learned coefficients."""
        return sum(p.numel() for p in self.weights.values())

    def reset_parameters(self, generator: torch.Generator | None = None, gain: float = 1.0) -> None:
        """Normal init scaled so that each output component has variance ~ gain / D_in per unit input
        variance (the basis norms are accounted for)."""
        fan_in = self.in_type.dim
        for m, n in self.pairs:
            A = self._bases[(m, n)].cos_coef
            s = float((A**2).sum()) / (irrep_dim(m) * irrep_dim(n)) or 1.0
            w = self.weights[f"{m}_{n}"]
            with torch.no_grad():
                noise = torch.randn(w.shape, generator=generator, dtype=w.dtype)
                w.copy_(noise.to(w.device) * math.sqrt(gain / (fan_in * s)))

    def _assemble(self, blocks: dict[tuple[int, int], torch.Tensor], batch: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """Place blocks (..., C_m d_m, C_n d_n) into the full (..., D_out, D_in) matrix."""
        rows = []
        for m, c_m in self.out_type.multiplicities.items():
            cols = []
            for n, c_n in self.in_type.multiplicities.items():
                shape = (*batch, c_m * irrep_dim(m), c_n * irrep_dim(n))
                cols.append(blocks[(m, n)] if (m, n) in blocks else like.new_zeros(shape))
            rows.append(torch.cat(cols, -1))
        big = torch.cat(rows, -2)
        return big.index_select(-2, self.inv_out).index_select(-1, self.inv_in)

    def _blocks(self, values: dict[tuple[int, int], torch.Tensor], batch: tuple[int, ...]) -> dict:
        out = {}
        for (m, n), val in values.items():  # val: (..., B, d_m, d_n)
            w = self.weights[f"{m}_{n}"].to(val.dtype)
            blk = torch.einsum("ijb,...bkl->...ikjl", w, val)
            c_m, c_n = w.shape[0], w.shape[1]
            out[(m, n)] = blk.reshape(*batch, c_m * irrep_dim(m), c_n * irrep_dim(n))
        return out


class NeighbourKernel(_BlockKernel):
    """The learned neighbour kernel ``K(theta) = sum_b w_b K_b(theta)`` from ``in_type`` to ``out_type``.

    Parameters
    ----------
    in_type, out_type : FeatureType
    band_limit : int, optional
        Drop basis kernels whose frequency in theta exceeds this. default: keep all.
    """

    def __init__(self, in_type: FeatureType, out_type: FeatureType, band_limit: Optional[int] = None):
        bases = {
            (m, n): neighbour_basis(m, n, band_limit)
            for m in out_type.multiplicities
            for n in in_type.multiplicities
        }
        super().__init__(in_type, out_type, bases)
        self.band_limit = band_limit
        self.reset_parameters()

    def at_zero(self) -> torch.Tensor:
        """``K(0)``: (D_out, D_in). Fixes the whole kernel: ``K(theta) = rho_out(theta) K(0) rho_in(-theta)``."""
        like = next(iter(self.weights.values())) if self.pairs else self.inv_in.float()
        values = {(m, n): getattr(self, f"cos_{m}_{n}").to(like.dtype) for m, n in self.pairs}
        return self._assemble(self._blocks(values, ()), (), like)

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        """``K(theta)`` evaluated from the basis: (..., D_out, D_in) for angles (...,). Dense: for tests,
        plots and small inputs; :class:`GemConv` never forms it per edge."""
        theta = torch.as_tensor(theta)
        values = {}
        for m, n in self.pairs:
            ph = theta[..., None] * getattr(self, f"freq_{m}_{n}").to(theta.dtype)
            A = getattr(self, f"cos_{m}_{n}").to(theta.dtype)
            B = getattr(self, f"sin_{m}_{n}").to(theta.dtype)
            values[(m, n)] = torch.cos(ph)[..., None, None] * A + torch.sin(ph)[..., None, None] * B
        return self._assemble(self._blocks(values, tuple(theta.shape)), tuple(theta.shape), theta)


class SelfKernel(_BlockKernel):
    """The learned self-interaction kernel ``K_self`` (a constant (D_out, D_in) matrix that commutes
    with the gauge action). Also the equivariant "1x1" linear map between two feature types."""

    def __init__(self, in_type: FeatureType, out_type: FeatureType):
        bases = {(m, n): self_basis(m, n) for m in out_type.multiplicities for n in in_type.multiplicities}
        super().__init__(in_type, out_type, bases)
        self.reset_parameters()

    def forward(self) -> torch.Tensor:
        """``K_self``: (D_out, D_in)."""
        like = next(iter(self.weights.values())) if self.pairs else self.inv_in.float()
        values = {(m, n): getattr(self, f"cos_{m}_{n}").to(like.dtype) for m, n in self.pairs}
        return self._assemble(self._blocks(values, ()), (), like)
