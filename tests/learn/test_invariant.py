"""Exactly invariant spectral estimators and the symmetry projection layer."""

import numpy as np
import pytest
import torch

from meshlearn.errors import ConfigError
from meshlearn.geometry import eigenbasis, laplacian
from meshlearn.geometry.invariant_basis import group_elements, reynolds_average
from meshlearn.geometry.symmetry import symmetrize_operators
from meshlearn.learn import InvariantSpectralClassifier, InvariantSpectralRegressor
from meshlearn.nets.symmetry import SymmetryProjection
from meshlearn.testing import mirror_symmetric_components, mirror_symmetric_sphere


@pytest.fixture(scope="module")
def sym_sphere():
    shape, T = mirror_symmetric_sphere(2)
    L, M = symmetrize_operators(*laplacian(shape), [T])
    evals, evecs = eigenbasis(L, M, k=60)
    return shape, T, evals, evecs, M.diagonal()


def test_regressor_predictions_are_invariant(sym_sphere):
    shape, T, evals, evecs, mass = sym_sphere
    rng = np.random.default_rng(1)
    target = np.sin(3 * shape.verts[:, 1]) + shape.verts[:, 0] ** 2
    idx = rng.choice(shape.n_verts, 40, replace=False)
    y = target[idx] + 0.05 * rng.normal(size=40)
    reg = InvariantSpectralRegressor(evecs, mass, evals, maps=[T]).fit(idx, y)
    every = np.arange(shape.n_verts)
    np.testing.assert_allclose(reg.predict(T), reg.predict(every), atol=1e-10)
    free = InvariantSpectralRegressor(evecs, mass, evals, maps=[]).fit(idx, y)
    assert np.abs(free.predict(T) - free.predict(every)).max() > 1e-3  # the unconstrained fit is not
    # with a symmetric target the invariant fit is closer to the truth
    assert np.mean((reg.function() - target) ** 2) < np.mean((free.function() - target) ** 2)
    with pytest.raises(ConfigError, match="vertex indices"):
        reg.predict(np.array([shape.n_verts]))


def test_classifier_is_invariant_to_the_group(sym_sphere):
    shape, T, evals, evecs, mass = sym_sphere
    rng = np.random.default_rng(2)
    # two classes of random smooth functions: bumps near the top vs near the bottom
    def sample(up):
        c = rng.normal(size=3) * 0.3 + [0, 0, 1.0 if up else -1.0]
        return np.exp(-4 * np.sum((shape.verts - c) ** 2, 1))

    X = np.stack([sample(i % 2 == 0) for i in range(40)])
    y = np.arange(40) % 2
    clf = InvariantSpectralClassifier(evecs, mass, evals, maps=[T], n_basis=30).fit(X, y)
    assert clf.score(X, y) >= 0.9
    np.testing.assert_allclose(clf.decision_function(X[:, T]), clf.decision_function(X), atol=1e-10)


def test_generator_estimator_equals_whole_group_estimator():
    shape, gens = mirror_symmetric_components(3, 2)
    L, M = symmetrize_operators(*laplacian(shape), gens)
    evals, evecs = eigenbasis(L, M, k=60)
    mass = M.diagonal()
    rng = np.random.default_rng(3)
    idx = rng.choice(shape.n_verts, 80, replace=False)
    y = rng.normal(size=80)
    gen_fit = InvariantSpectralRegressor(evecs, mass, evals, maps=gens).fit(idx, y)
    # reference: the whole group (8 elements) averages the eigenbasis; fit in its span
    R = reynolds_average(evecs, group_elements(gens))
    U, s, _ = np.linalg.svd(np.sqrt(mass)[:, None] * R, full_matrices=False)
    basis = U[:, s > 1e-8 * s[0]] / np.sqrt(mass)[:, None]
    A = basis[idx]
    coef = np.linalg.solve(A.T @ A + 1e-8 * np.eye(A.shape[1]), A.T @ y)
    np.testing.assert_allclose(gen_fit.function(), basis @ coef, atol=1e-6)
    every = np.arange(shape.n_verts)
    for g in group_elements(gens):
        np.testing.assert_allclose(gen_fit.predict(g), gen_fit.predict(every), atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_symmetry_projection_layer(dtype):
    _, T = mirror_symmetric_sphere(1)
    x = torch.randn(len(T), 4, dtype=dtype, requires_grad=True)
    layer = SymmetryProjection(anti_channels=[3])
    y = layer(x, torch.as_tensor(T)[None])
    Tt = torch.as_tensor(T)
    assert torch.allclose(y[Tt, :3], y[:, :3]) and torch.allclose(y[Tt, 3], -y[:, 3])
    assert torch.allclose(layer(y, [Tt]), y)  # a projection: applying it twice changes nothing
    y.sum().backward()
    assert x.grad is not None
    with pytest.raises(ConfigError, match="maps must be"):
        layer(x, torch.zeros(1, 3, dtype=torch.long))
