"""Block Lanczos with partial reorthogonalisation: agreement with dense solves, exact
M-orthonormality after Rayleigh-Ritz, the Sylvester count that catches missed copies of repeated
eigenvalues, and the fallback that still answers when a copy was missed."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp

from meshlearn.errors import SolverError
from meshlearn.geometry import eigensolver as es
from meshlearn.geometry.eigensolver import checked_lanczos, driver, factor, lanczos, slicing, workers
from meshlearn.geometry.eigensolver import relative_residuals, solve_eigenpairs
from meshlearn.geometry.eigensolver.lanczos import lanczos_smallest
from meshlearn.geometry.laplacian import laplacian
from meshlearn.testing import bumpy_sphere, icosphere


def _dense(L, M, k):
    return sla.eigh(L.toarray(), M.toarray(), eigvals_only=True, subset_by_index=(0, k - 1))


@pytest.mark.parametrize("block", [1, 2, 4])
def test_block_lanczos_matches_dense_eigh(block, monkeypatch):
    monkeypatch.setattr(checked_lanczos, "LANCZOS_BLOCK", block)
    L, M = laplacian(bumpy_sphere(4, amplitude=0.15, seed=2))
    k = 60
    mass = M.diagonal()
    w, X, res = checked_lanczos.solve_by_lanczos(
        L, M, mass, k, tol=checked_lanczos.LANCZOS_TOL, seed=0, scale=es.lambda_scale(L, mass)
    )
    assert res.steps < 4 * res.evals.size  # no restarts: a few Lanczos vectors per pair
    # the Ritz vectors of a semi-orthogonal basis, with the current block re-orthogonalised along
    # with the new one, are orthonormal and accurate well before the final Rayleigh-Ritz step
    # (measured: 5e-12 for each block size)
    np.testing.assert_allclose(X.T @ (M @ X), np.eye(k), atol=1e-10)
    assert relative_residuals(L, M, w, X)[1:].max() < 1e-10
    w, X = es.rayleigh_ritz(L, mass, X)
    np.testing.assert_allclose(w, _dense(L, M, k), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(X.T @ (M @ X), np.eye(k), atol=1e-12)
    r = relative_residuals(L, M, w, X)
    assert r[1:].max() < 1e-10 and r[0] < 1e-9  # the zero eigenvalue's is relative to a floor


@pytest.mark.parametrize("workers", [1, 2])
def test_the_default_solver_is_block_lanczos(monkeypatch, workers):
    """solve_eigenpairs answers from block Lanczos on a large enough mesh: ARPACK is not called,
    with one worker or two."""

    def no_arpack(*args, **kwargs):
        raise AssertionError("ARPACK was called")

    monkeypatch.setattr(driver, "arpack_slice", no_arpack)
    monkeypatch.setattr(slicing, "arpack_slice", no_arpack)
    L, M = laplacian(bumpy_sphere(4, seed=5))
    evals, evecs = solve_eigenpairs(L, M, 40, workers=workers)
    np.testing.assert_allclose(evals, _dense(L, M, 40), rtol=1e-10, atol=1e-10)
    assert relative_residuals(L, M, evals, evecs)[1:].max() < 1e-10


def test_count_matches_dense_count():
    L, M = laplacian(bumpy_sphere(3, amplitude=0.15, seed=2))
    ref = _dense(L, M, 60)
    tau = 0.5 * (ref[40] + ref[41])
    assert factor.count_below(L, M, tau) == (tau, 41)


def test_a_missed_copy_is_caught_and_the_fallback_answers(monkeypatch):
    """An iteration that returns one copy too few of a repeated eigenvalue (what Lanczos risks on
    symmetric meshes) fails the count below tau; the ARPACK fallback answers instead."""
    L, M = laplacian(icosphere(3))
    mass = M.diagonal()
    k = 30
    real = checked_lanczos.lanczos_smallest

    def drops_a_copy(*args, **kwargs):
        res = real(*args, **kwargs)
        res.evals, res.evecs = np.delete(res.evals, 4), np.delete(res.evecs, 4, axis=1)
        res.ritz = np.delete(res.ritz, 4)
        return res

    monkeypatch.setattr(checked_lanczos, "lanczos_smallest", drops_a_copy)
    with pytest.raises(SolverError, match="eigenvalues below"):
        checked_lanczos.solve_by_lanczos(
            L, M, mass, k, tol=checked_lanczos.LANCZOS_TOL, seed=0, scale=es.lambda_scale(L, mass)
        )
    monkeypatch.setattr(driver, "LANCZOS_MIN_VERTS", 100)
    evals, evecs = solve_eigenpairs(L, M, k)
    np.testing.assert_allclose(evals, _dense(L, M, k), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(evecs.T @ (M @ evecs), np.eye(k), atol=1e-10)


def _counting(monkeypatch):
    calls = []
    real = checked_lanczos.count_below

    def count_below(*args, **kwargs):
        calls.append(args[-1])
        return real(*args, **kwargs)

    monkeypatch.setattr(checked_lanczos, "count_below", count_below)
    return calls


def test_icosphere_multiplets_with_blocks(monkeypatch):
    """With blocks of 4 and the count's check, every copy of the icosphere's multiplets is found:
    its eigenspaces of dimension 4 and 5 show as clusters of 4 Ritz values, and the count is made."""
    monkeypatch.setattr(driver, "LANCZOS_MIN_VERTS", 100)
    calls = _counting(monkeypatch)
    L, M = laplacian(icosphere(4))
    evals, _ = solve_eigenpairs(L, M, 50)
    np.testing.assert_allclose(evals, _dense(L, M, 50), rtol=1e-9, atol=1e-9)
    assert len(calls) >= 1


def test_no_count_without_a_cluster(monkeypatch):
    """A mesh without symmetry has no b equal eigenvalues: no eigenspace can have lost a copy, and
    the count (a second factorisation) is not made; the answer is still the dense one."""
    calls = _counting(monkeypatch)
    L, M = laplacian(bumpy_sphere(4, amplitude=0.15, seed=2))
    evals, evecs = solve_eigenpairs(L, M, 60)
    assert calls == []
    np.testing.assert_allclose(evals, _dense(L, M, 60), rtol=1e-10, atol=1e-10)
    assert relative_residuals(L, M, evals, evecs)[1:].max() < 1e-10


def test_clusters_of_b_values():
    lam = np.array([1.0, 2.0, 3.0, 3.001, 3.002, 3.0025, 5.0])
    assert lanczos._clustered(lam, 4)  # 3.0 .. 3.0025: within 1e-3 of 3.0025
    assert not lanczos._clustered(lam, 5)
    assert not lanczos._clustered(np.array([1.0, 1.0, 1.0]), 4)  # fewer values than b
    assert not lanczos._clustered(np.arange(1.0, 200.0), 2)


def test_rayleigh_ritz_residuals_equal_the_direct_ones():
    """The residuals formed from (L X) (C Q) block by block equal those of the new vectors."""
    L, M = laplacian(bumpy_sphere(3, seed=4))
    mass = M.diagonal()
    X = np.random.default_rng(0).standard_normal((L.shape[0], 12))
    w, Xn, r = es.rayleigh_ritz(L, mass, X, residual_floor=1e-6)
    np.testing.assert_allclose(r, relative_residuals(L, M, w, Xn, floor=1e-6), rtol=1e-10)
    assert es.rayleigh_ritz(L, mass, X)[0].tolist() == w.tolist()


def test_without_a_null_vector():
    """A shifted operator (no constant kernel) is solved without deflation."""
    L, M = laplacian(bumpy_sphere(4, seed=1))
    A = (L + 0.5 * M).tocsr()
    assert checked_lanczos.constant_null(A) is None and checked_lanczos.constant_null(L) is not None
    evals, evecs = solve_eigenpairs(A, M, 30)
    np.testing.assert_allclose(evals, _dense(L, M, 30) + 0.5, rtol=1e-10)
    assert relative_residuals(A, M, evals, evecs).max() < 1e-10


def test_lanczos_on_a_known_spectrum():
    """A diagonal problem with known eigenvalues 1, 2, ..., V and unit vectors as eigenvectors."""
    V, k = 1500, 25
    diag = np.arange(1.0, V + 1.0)
    mass = np.full(V, 2.0)  # L = diag * mass: eigenvalues of L x = lambda M x are 1..V
    res = lanczos_smallest(lambda B: B / (diag * mass)[:, None], mass, k, 0.0, block=3, seed=1)
    np.testing.assert_allclose(res.evals[:k], diag[:k], rtol=1e-12)
    X = res.evecs[:, :k] * np.sqrt(mass)[:, None]
    np.testing.assert_allclose(np.abs(X[:k]), np.eye(k), atol=1e-7)
    L = sp.diags(diag * mass)
    r = relative_residuals(L, sp.diags(mass), res.evals[:k], res.evecs[:, :k])
    assert r.max() < 1e-8  # raw Ritz pairs; the solver's Rayleigh-Ritz step refines them


def test_same_input_same_bytes():
    """Nothing in the iteration depends on timing (the count thread's arrival, the check
    schedule): two solves of the same problem agree bit for bit, as caches and resumed training
    expect."""
    L, M = laplacian(bumpy_sphere(4, seed=3))
    a = solve_eigenpairs(L, M, 50)
    b = solve_eigenpairs(L, M, 50)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def _workers_in_child(_):
    return workers.default_workers()


def test_one_worker_inside_a_pool_worker():
    """Batch preprocessing runs one daemonic worker per core: there the solver keeps to its core."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(1) as pool:
        assert pool.map(_workers_in_child, [0]) == [1]
