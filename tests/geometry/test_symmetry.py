"""Symmetry detection, exact symmetrisation, and the group's action on eigenspaces."""

import numpy as np
import pytest

from meshlearn.errors import ConfigError
from meshlearn.geometry import eigenbasis, laplacian
from meshlearn.geometry.invariant_basis import (
    cluster_eigenvalues,
    eigenspace_actions,
    group_elements,
    invariant_basis,
    reynolds_average,
)
from meshlearn.geometry.symmetry import as_symmetry_map, detect_reflections, permute_operator, symmetrize_operators
from meshlearn.testing import mirror_symmetric_body, mirror_symmetric_components, mirror_symmetric_sphere


def test_detects_the_mirror_reflection():
    shape, T = mirror_symmetric_sphere(3)
    maps = detect_reflections(shape)
    assert maps, "no symmetry found on an exactly symmetric shape"
    best = maps[0]
    err = np.linalg.norm(shape.verts[best.vertex_map] - shape.verts[T], axis=1)
    assert np.mean(err <= 0.01 * shape.diameter()) >= 0.95
    assert best.score >= 0.95 and best.residual < 1e-3


def test_detects_the_left_right_symmetry_of_a_mirrored_body():
    shape, T = mirror_symmetric_body()
    maps = detect_reflections(shape)
    assert maps
    err = np.linalg.norm(shape.verts[maps[0].vertex_map] - shape.verts[T], axis=1)
    assert np.mean(err <= 0.01 * shape.diameter()) >= 0.95


def test_symmetrized_operators_are_exactly_invariant():
    shape, T = mirror_symmetric_sphere(2)
    L, M = laplacian(shape)
    # break the symmetry a little, as a real scan would
    rng = np.random.default_rng(0)
    noisy = shape.with_(verts=shape.verts + 1e-3 * rng.normal(size=shape.verts.shape))
    L, M = laplacian(noisy)
    assert abs(permute_operator(L, T) - L).max() > 1e-6
    Ls, Ms = symmetrize_operators(L, M, [T])
    assert abs(permute_operator(Ls, T) - Ls).max() < 1e-13
    assert abs(permute_operator(Ms, T) - Ms).max() < 1e-13
    # still a Laplacian: symmetric, rows sum to zero, mass total unchanged
    assert abs(Ls - Ls.T).max() < 1e-13
    np.testing.assert_allclose(np.asarray(Ls.sum(1)).ravel(), 0, atol=1e-12)
    assert Ms.diagonal().sum() == pytest.approx(M.diagonal().sum())


def test_non_bijective_map_is_refused():
    shape, T = mirror_symmetric_sphere(1)
    L, M = laplacian(shape)
    bad = T.copy()
    bad[0] = bad[1]
    with pytest.raises(ConfigError, match="permutation"):
        symmetrize_operators(L, M, [bad])
    with pytest.raises(ConfigError, match="indices"):
        as_symmetry_map(np.array([0, 5]), 2)


def test_actions_are_orthogonal_and_invariant_basis_is_exact():
    shape, T = mirror_symmetric_sphere(2)
    L, M = symmetrize_operators(*laplacian(shape), [T])
    evals, evecs = eigenbasis(L, M, k=40)
    mass = M.diagonal()
    clusters = cluster_eigenvalues(evals)
    for A in (a[0] for a in eigenspace_actions(evecs, mass, [T], clusters)):
        np.testing.assert_allclose(A @ A.T, np.eye(len(A)), atol=1e-8)
    for sign in (1, -1):
        B = invariant_basis(evecs, mass, [T], evals=evals, signs=[sign])
        np.testing.assert_allclose(B[T], sign * B, atol=1e-12)
        np.testing.assert_allclose(B.T @ (mass[:, None] * B), np.eye(B.shape[1]), atol=1e-10)
    n_inv = invariant_basis(evecs, mass, [T], evals=evals).shape[1]
    n_anti = invariant_basis(evecs, mass, [T], evals=evals, signs=[-1]).shape[1]
    assert n_inv + n_anti == 40  # the eigenbasis splits into even and odd functions


def test_generators_give_the_whole_group_average():
    shape, gens = mirror_symmetric_components(3, 2)
    L, M = symmetrize_operators(*laplacian(shape), gens)
    evals, evecs = eigenbasis(L, M, k=60)
    mass = M.diagonal()
    clusters = cluster_eigenvalues(evals, rtol=1e-8)
    assert any(len(c) == 3 for c in clusters), "three identical components give triple eigenvalues"
    B = invariant_basis(evecs, mass, gens, clusters=clusters)
    elements = group_elements(gens)
    assert len(elements) == 8
    R = reynolds_average(evecs, elements)  # the whole-group average spans the invariant subspace
    # same subspace: projecting R onto span(B) loses nothing, and the dimensions agree
    proj = B @ (B.T @ (mass[:, None] * R))
    np.testing.assert_allclose(proj, R, atol=1e-8)
    assert np.linalg.matrix_rank(R, tol=1e-8) == B.shape[1]
