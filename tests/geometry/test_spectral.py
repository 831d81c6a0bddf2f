"""Eigenbasis, HKS and WKS against mathematics: the unit sphere's spectrum l(l+1) with multiplicity
2l+1, M-orthonormality, zero eigenvalues per component, agreement with a dense solve, invariance."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from meshlearn.errors import ConfigError, SolverError
from meshlearn.geometry import eigensolver as es
from meshlearn.geometry.eigensolver import driver, factor, slicing
from meshlearn.geometry.eigensolver import relative_residuals, solve_eigenpairs
from meshlearn.geometry.laplacian import laplacian
from meshlearn.geometry.spectral import eigenbasis, hks, hks_times, wks, wks_energies
from meshlearn.shape import Shape
from meshlearn.testing import bumpy_sphere, icosphere, random_rigid_motion, sphere_points

# the first 16 eigenvalues of the unit sphere: l(l+1) with multiplicity 2l+1, l = 0..3
SPHERE = np.repeat([0.0, 2.0, 6.0, 12.0], [1, 3, 5, 7])


def _sphere_error(shape, kind="robust"):
    L, M = laplacian(shape, kind=kind)
    evals, evecs = eigenbasis(L, M, k=16)
    return np.abs(evals[1:] - SPHERE[1:]) / SPHERE[1:], evals, evecs, M


def test_sphere_spectrum_converges_under_refinement():
    errors = {sub: _sphere_error(icosphere(sub))[0].max() for sub in (3, 4)}
    err5, evals, evecs, M = _sphere_error(icosphere(5))
    assert evals[0] == pytest.approx(0.0, abs=1e-9)
    assert err5.max() < 0.02  # the required 2% at 10242 vertices (measured: 3e-4)
    assert errors[3] > errors[4] > err5.max()
    # M-orthonormal
    G = evecs.T @ (M @ evecs)
    np.testing.assert_allclose(G, np.eye(16), atol=1e-10)
    # each multiplet spans the degree-l spherical harmonics: degree-1 ones are the coordinates
    xyz = icosphere(5).verts
    P = evecs[:, 1:4]
    coeff = P.T @ (M @ xyz)
    resid = xyz - P @ coeff
    assert np.abs(resid).max() < 1e-2


def test_cotan_sphere_spectrum():
    err, evals, _, _ = _sphere_error(icosphere(4), kind="cotan")
    assert err.max() < 0.02


def test_point_cloud_sphere_spectrum():
    shape = sphere_points(3000, seed=1)
    L, M = laplacian(shape)
    evals, evecs = eigenbasis(L, M, k=16)
    assert evals[0] == pytest.approx(0.0, abs=1e-8)
    np.testing.assert_allclose(evals[1:], SPHERE[1:], rtol=0.08)
    np.testing.assert_allclose(evecs.T @ (M @ evecs), np.eye(16), atol=1e-10)


def test_radius_scales_eigenvalues():
    L, M = laplacian(icosphere(3, radius=2.0))
    evals, _ = eigenbasis(L, M, k=4)
    np.testing.assert_allclose(evals[1:], 2.0 / 4.0, rtol=0.01)


def test_several_components_give_several_zero_eigenvalues():
    a, b = icosphere(4), icosphere(3, radius=0.5)  # 3204 vertices: the sparse path
    verts = np.concatenate([a.verts, b.verts + [5.0, 0, 0]])
    faces = np.concatenate([a.faces, b.faces + a.n_verts])
    shape = Shape(verts, faces)
    L, M = laplacian(shape)
    evals, evecs = eigenbasis(L, M, k=6)
    np.testing.assert_allclose(evals[:2], 0.0, atol=1e-9)
    assert evals[2] > 1.0
    # the null space is spanned by the indicator functions of the components
    ind = np.zeros((shape.n_verts, 2))
    ind[: a.n_verts, 0] = 1
    ind[a.n_verts :, 1] = 1
    coeff = evecs[:, :2].T @ (M @ ind)
    np.testing.assert_allclose(evecs[:, :2] @ coeff, ind, atol=1e-8)


def test_k_at_least_v_returns_every_pair():
    shape = icosphere(1)
    L, M = laplacian(shape)
    evals, evecs = eigenbasis(L, M, k=500)
    assert evals.shape == (42,) and evecs.shape == (42, 42)
    ref = sla.eigh(L.toarray(), M.toarray(), eigvals_only=True)
    np.testing.assert_allclose(evals, np.clip(ref, 0, None), atol=1e-10 * ref.max())
    np.testing.assert_allclose(evecs.T @ (M @ evecs), np.eye(42), atol=1e-10)


def _subspace_gap(X, Y, M):
    """Largest principal-angle sine between two M-orthonormal bases of the same size.

    Measured as the M-norm of the part of X outside span(Y), which is linear in the error (the
    sine from the cosines, sqrt(1 - s^2), loses half the digits to cancellation).
    """
    R = X - Y @ (Y.T @ (M @ X))
    m = np.sqrt(M.diagonal())[:, None]
    return float(np.linalg.norm(m * R, 2))


@pytest.fixture
def small_slices(monkeypatch):
    """Let the sliced ARPACK solver run on small meshes, where a test can afford a dense reference."""
    monkeypatch.setattr(driver, "LANCZOS_MIN_VERTS", 10**9)
    monkeypatch.setattr(driver, "PARALLEL_MIN_VERTS", 0)
    monkeypatch.setattr(driver, "DENSE_LIMIT", 100)


@pytest.mark.parametrize(
    "sub, workers",
    [(3, 1), (3, 2), (4, 1), (4, 2)],
)
def test_fast_solver_matches_dense_eigh(small_slices, sub, workers):
    shape = bumpy_sphere(sub, amplitude=0.15, seed=2)
    L, M = laplacian(shape)
    k = 40
    evals, evecs = solve_eigenpairs(L, M, k, workers=workers)
    ref, U = sla.eigh(L.toarray(), M.toarray(), subset_by_index=(0, k + 5))
    np.testing.assert_allclose(evals, ref[:k], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(evecs.T @ (M @ evecs), np.eye(k), atol=1e-10)
    assert relative_residuals(L, M, evals, evecs).max() < 1e-9
    # eigenvectors agree up to rotations inside eigenspaces: compare subspaces below a spectral gap
    gaps = np.flatnonzero(np.diff(ref[: k + 1]) > 1e-6 * ref[k])
    cut = gaps[gaps < k - 1].max() + 1
    assert _subspace_gap(evecs[:, :cut], U[:, :cut], M) < 1e-7


def test_slices_without_a_worker_process(small_slices, monkeypatch):
    """Where no worker process may be started (a daemonic pool worker), slices run one by one."""
    monkeypatch.setattr(slicing, "worker_pool", lambda: None)
    L, M = laplacian(bumpy_sphere(3, amplitude=0.15, seed=2))
    evals, _ = solve_eigenpairs(L, M, 40, workers=2)
    ref = sla.eigh(L.toarray(), M.toarray(), eigvals_only=True, subset_by_index=(0, 39))
    np.testing.assert_allclose(evals, ref, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("counted", [True, False])
def test_slicing_recovers_from_a_misplaced_slice(small_slices, monkeypatch, counted):
    """A bad spectral estimate (interior slice far too high): where the factorisation counts the
    eigenvalues below the shift the slice widens to reach its range, else extra slices fill the gap."""
    if not counted:
        monkeypatch.setattr(factor, "_fill_reducing_order", lambda A: None)
    real_plan = slicing._plan_first

    def bad_plan(k, area):
        plan = real_plan(k, area)
        return [plan[0], (plan[1][0] * 3.0, *plan[1][1:])]

    monkeypatch.setattr(slicing, "_plan_first", bad_plan)
    shape = bumpy_sphere(3, amplitude=0.1, seed=4)
    L, M = laplacian(shape)
    k = 48
    evals, evecs = slicing.solve_by_slices(L, M, M.diagonal(), k, 0.0, 0, es.lambda_scale(L, M.diagonal()))
    ref = sla.eigh(L.toarray(), M.toarray(), eigvals_only=True, subset_by_index=(0, k - 1))
    np.testing.assert_allclose(evals, ref, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("at", [0.3, 0.5, 0.77])
def test_interior_factorisation_counts_eigenvalues_below_the_shift(at):
    """Sylvester's law of inertia: negative pivots of L - sigma M = eigenvalues below sigma."""
    L, M = laplacian(bumpy_sphere(3, amplitude=0.15, seed=2))
    ref = sla.eigh(L.toarray(), M.toarray(), eigvals_only=True)
    i = int(at * ref.size)
    sigma = 0.5 * (ref[i - 1] + ref[i])
    A = (L - sigma * M).tocsr()
    ldlt = factor.Factor(A, spd=False)
    assert ldlt.inertia == i
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    assert np.linalg.norm(A @ ldlt.solve(b) - b) < 1e-11 * np.linalg.norm(b)


def test_a_missed_eigenvalue_fails_the_count():
    """A slice that lost an eigenvalue below an interior shift is caught, not returned."""
    L, M = laplacian(bumpy_sphere(3, amplitude=0.15, seed=2))
    ref = sla.eigh(L.toarray(), M.toarray(), eigvals_only=True, subset_by_index=(0, 30))
    sigma = 0.5 * (ref[19] + ref[20])
    X = np.eye(L.shape[0])[:, :30]
    whole = es.SliceResult(sigma, ref[:30], X, inertia=20)
    slicing._check_counts([whole], ref[:30], 1.0)
    with pytest.raises(SolverError, match="found 19 eigenvalues below"):
        slicing._check_counts([whole], np.delete(ref[:30], 7), 1.0)


def test_matches_dense_eigh_on_sphere_multiplets(small_slices):
    """On the icosphere every eigenvalue is repeated: the slice boundary falls inside multiplets."""
    L, M = laplacian(icosphere(4))
    evals, evecs = solve_eigenpairs(L, M, 36, workers=2)
    # A dense reference: eigsh itself, started from ARPACK's random vector, drops copies of these
    # exactly repeated eigenvalues now and then (2 runs in 30 here).
    ref = sla.eigh(L.toarray(), M.toarray(), eigvals_only=True, subset_by_index=(0, 35))
    np.testing.assert_allclose(evals, ref, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(evecs.T @ (M @ evecs), np.eye(36), atol=1e-10)


@pytest.mark.parametrize("k", [38, 45])
def test_small_slices_keep_every_copy_of_repeated_eigenvalues(small_slices, k):
    """Sphere eigenvalues l(l+1) are (2l+1)-fold: a too small Krylov basis would drop copies."""
    L, M = laplacian(icosphere(3))
    evals, _ = solve_eigenpairs(L, M, k, workers=2)
    ref = sla.eigh(L.toarray(), M.toarray(), eigvals_only=True, subset_by_index=(0, k - 1))
    np.testing.assert_allclose(evals, ref, rtol=1e-9, atol=1e-9)


def test_approximate_mode():
    L, M = laplacian(bumpy_sphere(4, seed=3))
    exact, _ = eigenbasis(L, M, k=25, workers=1)
    approx, X = eigenbasis(L, M, k=25, approx=True, workers=1)
    np.testing.assert_allclose(approx[1:], exact[1:], rtol=1e-5)
    np.testing.assert_allclose(X.T @ (M @ X), np.eye(25), atol=1e-8)


def test_fallbacks_then_solver_error(monkeypatch):
    L, M = laplacian(icosphere(3))
    calls = []

    def broken(*args, **kwargs):
        calls.append(kwargs.get("sigma", args[3] if len(args) > 3 else None))
        raise spla.ArpackNoConvergence("no convergence", np.zeros(0), np.zeros((0, 0)))

    monkeypatch.setattr(driver, "arpack_slice", broken)
    monkeypatch.setattr(driver, "DENSE_LIMIT", 10)
    # every sparse attempt fails: the dense fallback still answers
    evals, _ = solve_eigenpairs(L, M, 4, workers=1)
    assert len(calls) == 3
    np.testing.assert_allclose(evals[1:], 2.0, rtol=1e-3)
    # and with no dense fallback allowed: a clear error
    monkeypatch.setattr(driver, "DENSE_MAX", 10)
    with pytest.raises(SolverError, match="scan.ply: could not compute 4 eigenpairs of a 642-vertex"):
        solve_eigenpairs(L, M, 4, workers=1, source="scan.ply")


def test_bad_input():
    L, M = laplacian(icosphere(1))
    with pytest.raises(ConfigError, match="k must be >= 1"):
        eigenbasis(L, M, k=0)
    with pytest.raises(ConfigError, match="tol must be >= 0"):
        eigenbasis(L, M, k=3, tol=-1.0)
    with pytest.raises(ConfigError, match="diagonal"):
        eigenbasis(L, M + sp.eye(42, k=1), k=3)
    bad = M.copy()
    bad.data[0] = 0.0
    with pytest.raises(SolverError, match="m.obj: the Laplacian or mass has non-finite or non-positive"):
        eigenbasis(L, bad, k=3, source="m.obj")


def test_real_scan_eigenbasis(shared_meshes):
    """A real reconstruction with non-manifold edges and duplicate faces, repaired by load: 128
    accurate eigenpairs, one zero eigenvalue per component of the Laplacian's graph."""
    from meshlearn.io import load

    shape = load(shared_meshes / "defects" / "trimesh__bunny.ply", clean=True)
    L, M = laplacian(shape)
    evals, evecs = eigenbasis(L, M, k=128, source=shape.source)
    n_comp = sp.csgraph.connected_components(L, directed=False)[0]
    assert (evals < 1e-8 * evals[-1]).sum() == min(n_comp, 128)
    assert relative_residuals(L, M, evals, evecs).max() < 1e-8
    np.testing.assert_allclose(evecs.T @ (M @ evecs), np.eye(128), atol=1e-9)


# ------------------------------------------------------------------------------------------ HKS / WKS


def _sphere_hks(t, lmax=30):
    l = np.arange(lmax + 1)
    return np.sum((2 * l + 1) / (4 * np.pi) * np.exp(-l * (l + 1) * t[:, None]), axis=1)


def test_hks_of_sphere_is_analytic_and_survives_remeshing():
    """On the unit sphere h(x, t) = sum_l (2l+1)/(4 pi) exp(-l(l+1) t) at every point. Compare an
    icosphere and a differently triangulated sphere (convex hull of a Fibonacci point set) with it
    and with each other at nearest points."""
    import trimesh
    from scipy.spatial import cKDTree

    times = np.array([0.05, 0.1, 0.3, 1.0])
    ico = icosphere(4)
    pts = sphere_points(2500, seed=5).verts
    hull = trimesh.convex.convex_hull(pts)
    other = Shape(np.asarray(hull.vertices), np.asarray(hull.faces))
    out = []
    for shape in (ico, other):
        L, M = laplacian(shape)
        evals, evecs = eigenbasis(L, M, k=100)
        out.append(hks(evals, evecs, times))
    exact = _sphere_hks(times)
    for h in out:
        np.testing.assert_allclose(h, np.broadcast_to(exact, h.shape), rtol=0.03)
    idx = cKDTree(other.verts).query(ico.verts)[1]
    rel = np.abs(out[0] - out[1][idx]) / exact
    assert rel.max() < 0.05  # stated bound: 5% at 2.5k vertices, t >= 0.05


def test_hks_and_wks_invariant_under_rigid_motion():
    shape = bumpy_sphere(3, amplitude=0.2, seed=1)
    moved = random_rigid_motion(shape, seed=7)
    res = []
    for s in (shape, moved):
        L, M = laplacian(s)
        evals, evecs = eigenbasis(L, M, k=30, workers=1)
        res.append((hks(evals, evecs, hks_times(evals, 8)), wks(evals, evecs, wks_energies(evals, 8))))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-7)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-6)


def test_descriptor_scales():
    evals = np.array([0.0, 0.0, 2.0, 6.0, 12.0, 20.0])
    t = hks_times(evals, 5)
    assert t.shape == (5,) and np.all(np.diff(t) > 0)
    np.testing.assert_allclose([t[0], t[-1]], [4 * np.log(10) / 20, 4 * np.log(10) / 2])
    e = wks_energies(evals, 4)
    assert e.shape == (4,) and np.log(2) < e[0] < e[-1] < np.log(20)
    # WKS ignores the two zero modes and normalises each band: a constant eigenvector field of
    # value 1 gives 1 everywhere
    V = 5
    evecs = np.ones((V, evals.size))
    np.testing.assert_allclose(wks(evals, evecs, e), 1.0)
    with pytest.raises(ConfigError, match="expected evals"):
        hks(evals, np.ones((V, 3)), t)
