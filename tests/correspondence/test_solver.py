"""The batched functional-map solver against the mathematics of its least-squares problem.

Reference: each row i of C minimises ``||A^T c - B_i^T||^2 + sum_j p_ij c_j^2``, an ordinary least
squares problem on the stacked matrix ``[A^T; diag(sqrt(p_i))]``; it is solved row by row with
numpy's ``lstsq`` (an orthogonal factorisation, not the normal equations the solver uses).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from meshlearn.correspondence import (
    FunctionalMapSolver,
    functional_map,
    laplacian_mask,
    resolvent_mask,
    solve_fmap,
    spectral_coefficients,
)
from meshlearn.errors import ConfigError


def _problem(nb=3, Ka=12, Kb=10, D=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(nb, Ka, D, generator=g, dtype=torch.float64)
    B = torch.randn(nb, Kb, D, generator=g, dtype=torch.float64)
    la = torch.sort(torch.rand(nb, Ka, generator=g, dtype=torch.float64) * 50, dim=1).values
    lb = torch.sort(torch.rand(nb, Kb, generator=g, dtype=torch.float64) * 50, dim=1).values
    la[:, 0] = lb[:, 0] = 0.0
    return A, B, la, lb


def _row_by_row(A, B, penalty):
    """numpy reference: one lstsq per row of C per pair."""
    A, B, P = (t.detach().numpy() for t in (A, B, penalty))
    out = np.zeros((A.shape[0], B.shape[1], A.shape[1]))
    for p in range(A.shape[0]):
        for i in range(B.shape[1]):
            M = np.vstack([A[p].T, np.diag(np.sqrt(P[p, i]))])
            rhs = np.concatenate([B[p, i], np.zeros(A.shape[1])])
            out[p, i] = np.linalg.lstsq(M, rhs, rcond=None)[0]
    return out


@pytest.mark.parametrize("mask", ["laplacian", "resolvent"])
@pytest.mark.parametrize("scale_free", [True, False])
def test_batched_equals_row_by_row(mask, scale_free):
    A, B, la, lb = _problem()
    lam = 0.3 if scale_free else 2.0
    C = solve_fmap(A, B, la, lb, lam=lam, mask=mask, scale_free=scale_free)
    scale = (A * A).sum(-1).mean(-1)
    W = laplacian_mask(la, lb, normalize=scale_free) if mask == "laplacian" else resolvent_mask(la, lb)
    weight = lam * scale if scale_free else torch.full_like(scale, lam)
    penalty = weight[:, None, None] * W + 1e-10 * scale[:, None, None]
    ref = _row_by_row(A, B, penalty)
    assert C.shape == (3, 10, 12)
    np.testing.assert_allclose(C.numpy(), ref, atol=1e-10, rtol=0)


def test_solution_is_stationary():
    """The gradient of the objective vanishes at the solver's C (it is the minimiser)."""
    A, B, la, lb = _problem(nb=2)
    lam = 5.0
    C = solve_fmap(A, B, la, lb, lam=lam, scale_free=False, ridge=0.0).requires_grad_(True)
    W = laplacian_mask(la, lb, normalize=False)
    energy = ((C @ A - B) ** 2).sum() + lam * (W * C**2).sum()
    # the penalty equals the commutativity term ||C La - Lb C||^2
    comm = ((C * la[:, None, :] - lb[:, :, None] * C) ** 2).sum()
    assert torch.allclose(lam * (W * C**2).sum(), lam * comm)
    (grad,) = torch.autograd.grad(energy, C)
    assert grad.abs().max() < 1e-9 * (1 + energy.item())


def test_exact_recovery_without_regulariser():
    A, _, _, _ = _problem(nb=2, Ka=8, Kb=8, D=16)
    C_true = torch.linalg.qr(torch.randn(2, 8, 8, dtype=torch.float64))[0]
    C = solve_fmap(A, C_true @ A, lam=0.0)
    assert torch.allclose(C, C_true, atol=1e-10)


def test_resolvent_mask_is_the_distance_of_resolvents():
    la = torch.tensor([0.0, 1.0, 4.0, 9.0], dtype=torch.float64)
    lb = torch.tensor([0.0, 2.0, 3.0], dtype=torch.float64)
    gamma = 0.5
    W = resolvent_mask(la, lb, gamma)
    top = 9.0
    ra = 1 / ((la.numpy() / top) ** gamma - 1j)
    rb = 1 / ((lb.numpy() / top) ** gamma - 1j)
    np.testing.assert_allclose(W.numpy(), np.abs(rb[:, None] - ra[None, :]) ** 2, atol=1e-14)
    assert torch.all(W.diagonal()[:1] == 0)


def test_gradcheck():
    A, B, la, lb = _problem(nb=2, Ka=4, Kb=3, D=6)
    A.requires_grad_(True)
    B.requires_grad_(True)
    for mask in ("laplacian", "resolvent"):
        assert torch.autograd.gradcheck(lambda a, b: solve_fmap(a, b, la, lb, lam=0.5, mask=mask), (A, B))


def test_module_lists_of_shapes_with_different_vertex_counts():
    """Per-shape projections, then one stacked solve; both directions agree with one-off solves."""
    g = torch.Generator().manual_seed(1)
    K, D = 6, 9
    sizes_a, sizes_b = (40, 55), (47, 31)

    def shape(n):
        mass = torch.rand(n, generator=g, dtype=torch.float64) + 0.5
        e = torch.linalg.qr(torch.randn(n, K, generator=g, dtype=torch.float64) * mass[:, None].rsqrt())[0]
        evecs = e / mass[:, None].sqrt()  # M-orthonormal: evecs^T M evecs = I
        return torch.randn(n, D, generator=g, dtype=torch.float64), evecs, mass

    sa, sb = [shape(n) for n in sizes_a], [shape(n) for n in sizes_b]
    evals = torch.linspace(0, 10, K, dtype=torch.float64)
    solver = FunctionalMapSolver(lam=1e-2)
    C_ab, C_ba = solver(
        [s[0] for s in sa], [s[0] for s in sb], [s[1] for s in sa], [s[1] for s in sb],
        [s[2] for s in sa], [s[2] for s in sb], [evals, evals], [evals * 1.1, evals * 1.1],
    )
    assert C_ab.shape == C_ba.shape == (2, K, K)
    for p in range(2):
        ref_ab = functional_map(sa[p][0], sb[p][0], sa[p][1], sb[p][1], sa[p][2], sb[p][2], evals, evals * 1.1, mu=1e-2)
        ref_ba = functional_map(sb[p][0], sa[p][0], sb[p][1], sa[p][1], sb[p][2], sa[p][2], evals * 1.1, evals, mu=1e-2)
        assert torch.allclose(C_ab[p], ref_ab, atol=1e-12)
        assert torch.allclose(C_ba[p], ref_ba, atol=1e-12)
    # M-orthonormality of the test bases, so the coefficients are the function's in that basis
    d, e, m = sa[0]
    assert torch.allclose(e.T @ (m[:, None] * e), torch.eye(K, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(spectral_coefficients(e, e, m), torch.eye(K, dtype=torch.float64), atol=1e-12)


def test_errors():
    A, B, la, lb = _problem()
    with pytest.raises(ConfigError, match="needs evals_a"):
        solve_fmap(A, B, lam=1.0)
    with pytest.raises(ConfigError, match="mask must be"):
        solve_fmap(A, B, la, lb, mask="nope")
    with pytest.raises(ConfigError, match="same B and D"):
        solve_fmap(A, B[:, :, :5], la, lb)
    with pytest.raises(ConfigError, match="lam must be"):
        FunctionalMapSolver(lam=-1)
