"""The approximate eigenbasis from a simplified copy of a mesh: exact within its span
(M-orthonormal, L diagonal), eigenvalues never below the exact ones (Courant-Fischer) and within a
stated error; exact solves where no copy is made; wired into OperatorSpec without changing the
exact spec's cache key."""

from __future__ import annotations

import numpy as np
import pytest

from meshlearn.geometry import compute_operators
from meshlearn.geometry.coarse_spectral import _interpolation, _simplified, coarse_eigenbasis
from meshlearn.geometry.laplacian import laplacian
from meshlearn.geometry.operators import OperatorSpec
from meshlearn.geometry.spectral import eigenbasis
from meshlearn.shape import Shape
from meshlearn.testing import bumpy_sphere, sphere_points


def _compare(shape, k, coarse_verts):
    L, M = laplacian(shape)
    exact, _ = eigenbasis(L, M, k)
    approx, X = coarse_eigenbasis(shape, L, M, k, coarse_verts=coarse_verts)
    return L, M, exact, approx, X


def test_mesh_eigenpairs_from_a_simplified_copy():
    shape = bumpy_sphere(5)  # 10242 vertices, solved on a copy of about 2500
    L, M, exact, approx, X = _compare(shape, 32, 2500)
    assert approx.shape == (32,) and X.shape == (shape.n_verts, 32)
    # exact within the span: M-orthonormal, L diagonal with the returned values
    np.testing.assert_allclose(X.T @ (M @ X), np.eye(32), atol=1e-10)
    np.testing.assert_allclose(X.T @ (L @ X), np.diag(approx), atol=1e-8 * approx.max())
    # Courant-Fischer: a Ritz value is never below its eigenvalue; the error is the copy's
    assert approx[0] == pytest.approx(0.0, abs=1e-9)
    rel = (approx[1:] - exact[1:]) / exact[1:]
    assert rel.min() > -1e-9
    assert rel.max() < 0.02  # measured: 0.3% at the top


def test_interpolation_reproduces_linear_functions():
    shape = bumpy_sphere(5)
    copy = _simplified(shape, 2500)
    assert 1500 < copy.n_verts < 4000
    P = _interpolation(shape, copy)
    np.testing.assert_allclose(np.asarray(P.sum(axis=1)).ravel(), 1.0)
    # the coordinates carried from the copy land on its surface, next to the original vertices
    spacing = np.sqrt(copy.area() / copy.n_verts)
    assert np.linalg.norm(P @ copy.verts - shape.verts, axis=1).max() < 0.25 * spacing


def _two_spheres():
    a, b = bumpy_sphere(4), bumpy_sphere(4, seed=1)
    return Shape(np.vstack([a.verts, b.verts + 3.0]), np.vstack([a.faces, b.faces + a.n_verts]))


@pytest.mark.parametrize(
    "shape, coarse_verts",
    [(bumpy_sphere(3), 2000), (sphere_points(5000), 1000), (_two_spheres(), 1000)],
    ids=["small-mesh", "point-cloud", "two-components"],  # no copy worth making, or none safe to make
)
def test_solved_exactly_where_no_copy_is_made(shape, coarse_verts):
    L, M = laplacian(shape)
    exact, Xe = eigenbasis(L, M, 8)
    approx, Xa = coarse_eigenbasis(shape, L, M, 8, coarse_verts=coarse_verts)
    np.testing.assert_array_equal(approx, exact)
    np.testing.assert_array_equal(Xa, Xe)


def test_a_failed_decimation_falls_back_to_the_exact_solve(monkeypatch):
    import fast_simplification

    def broken(*args, **kwargs):
        raise RuntimeError("decimation failed")

    monkeypatch.setattr(fast_simplification, "simplify", broken)
    shape = bumpy_sphere(4)
    L, M = laplacian(shape)
    exact, Xe = eigenbasis(L, M, 8)
    approx, Xa = coarse_eigenbasis(shape, L, M, 8, coarse_verts=600)
    np.testing.assert_array_equal(approx, exact)
    np.testing.assert_array_equal(Xa, Xe)


def test_operator_spec_selects_it_and_keeps_the_exact_key():
    exact = OperatorSpec(k=16)
    approx = OperatorSpec(k=16, eigen_coarse=2500)
    assert "eigen_coarse" not in exact.to_dict()  # caches written before the option stay valid
    assert approx.key() != exact.key() and not approx.covers(exact) and not exact.covers(approx)
    assert OperatorSpec.from_dict(approx.to_dict()) == approx
    shape = bumpy_sphere(5)
    ops = compute_operators(shape, approx)
    ref = compute_operators(shape, exact)
    rel = (ops.evals[1:] - ref.evals[1:]) / ref.evals[1:]
    assert 0.0 < rel.max() < 0.02
