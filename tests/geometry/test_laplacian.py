"""Laplacian and mass against mathematics: symmetry, PSD, zero row sums, linear precision, area."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from meshlearn.errors import ConfigError, InvalidMeshError
from meshlearn.geometry.laplacian import cotan_laplacian, laplacian
from meshlearn.shape import Shape
from meshlearn.testing import bumpy_sphere, grid, icosphere, sphere_points

KINDS = ["robust", "cotan"]


@pytest.mark.parametrize("kind", KINDS)
def test_symmetric_psd_zero_row_sums(kind):
    shape = bumpy_sphere(2, amplitude=0.2)
    L, M = laplacian(shape, kind=kind)
    assert sp.isspmatrix_csr(L) and sp.isspmatrix_csr(M)
    assert L.shape == M.shape == (shape.n_verts, shape.n_verts)
    scale = abs(L).max()
    assert abs(L - L.T).max() <= 1e-14 * scale
    np.testing.assert_allclose(np.asarray(L.sum(axis=1)).ravel(), 0.0, atol=1e-12 * scale)
    w = np.linalg.eigvalsh(L.toarray())
    assert w[0] >= -1e-10 * scale
    assert w[1] > 1e-6  # one component: one zero eigenvalue
    assert (M - sp.diags(M.diagonal())).count_nonzero() == 0
    assert np.all(M.diagonal() > 0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sub", [2, 4])
def test_mass_sums_to_surface_area(kind, sub):
    shape = icosphere(sub)
    _, M = laplacian(shape, kind=kind)
    total = M.diagonal().sum()
    np.testing.assert_allclose(total, shape.area(), rtol=1e-10)
    # the polyhedron's area approaches the sphere's
    assert abs(total - 4 * np.pi) / (4 * np.pi) < (0.02 if sub == 2 else 0.002)


def test_point_cloud_mass_approximates_area():
    _, M = laplacian(sphere_points(3000), kind="robust")
    assert abs(M.diagonal().sum() - 4 * np.pi) / (4 * np.pi) < 0.05


@pytest.mark.parametrize("kind", KINDS)
def test_flat_grid_linear_functions_are_harmonic(kind):
    shape = grid(12, size=2.0, jitter=0.3, seed=3)
    L, _ = laplacian(shape, kind=kind)
    x, y = shape.verts[:, 0], shape.verts[:, 1]
    interior = (x > 1e-9) & (x < 2 - 1e-9) & (y > 1e-9) & (y < 2 - 1e-9)
    for f in (x, y, 0.3 * x - 1.7 * y + 2.0):
        Lf = L @ f
        np.testing.assert_allclose(Lf[interior], 0.0, atol=1e-10)
    # and not trivially: the boundary rows see the missing neighbours
    assert np.abs((L @ x)[~interior]).max() > 1e-3


def test_cotan_weights_on_a_right_triangle():
    # right angle at vertex 0, 45 degrees at 1 and 2: cot 45 = 1, cot 90 = 0
    verts = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    L, M = cotan_laplacian(verts, np.array([[0, 1, 2]]))
    np.testing.assert_allclose(L.toarray(), [[1, -0.5, -0.5], [-0.5, 0.5, 0], [-0.5, 0, 0.5]], atol=1e-15)
    np.testing.assert_allclose(M.diagonal(), [1 / 6] * 3)


def test_cotan_zero_area_face_gives_finite_operator():
    verts = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 0, 0]])
    faces = np.array([[0, 1, 2], [0, 1, 3]])  # the second face is a sliver of zero area
    L, M = cotan_laplacian(verts, faces)
    assert np.all(np.isfinite(L.data)) and np.all(np.isfinite(M.data))


def test_bad_input_errors():
    with pytest.raises(ConfigError, match="kind must be one of"):
        laplacian(icosphere(1), kind="fem")
    with pytest.raises(ConfigError, match="needs faces"):
        laplacian(sphere_points(100), kind="cotan")
    verts = icosphere(1).verts.copy()
    verts[3] = np.nan
    with pytest.raises(InvalidMeshError, match="1 vertices have NaN"):
        laplacian(Shape(verts, icosphere(1).faces, source="bad.obj"))
    extra = Shape(np.concatenate([icosphere(1).verts, [[3.0, 0, 0]]]), icosphere(1).faces, source="m.ply")
    with pytest.raises(InvalidMeshError, match="m.ply: 1 of 43 vertices belong to no face"):
        laplacian(extra)
    with pytest.raises(InvalidMeshError, match="no vertices"):
        laplacian(Shape(np.zeros((0, 3)), None))
