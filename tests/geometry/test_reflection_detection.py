"""Approximate reflection search: initial guesses on mixed eigenspaces, the isometric ZoomOut
refinement, the distortion score, and the "no symmetry" report."""

import numpy as np
import pytest

from meshlearn.errors import ConfigError
from meshlearn.geometry import eigenbasis, laplacian
from meshlearn.geometry.reflection_candidates import descriptor_complement_fmaps, sign_pattern_fmaps
from meshlearn.geometry.reflection_search import (
    ReflectionCandidate,
    commutativity_error,
    fixed_share,
    normalised_wks,
    rank_candidates,
    search_reflection,
)
from meshlearn.geometry.self_map_refinement import isometric_fmap, zoomout_self_map
from meshlearn.geometry.symmetry import detect_reflections
from meshlearn.testing import bumpy_sphere, mirror_symmetric_sphere


@pytest.fixture(scope="module")
def mirror_sphere():
    shape, T = mirror_symmetric_sphere(3)
    L, M = laplacian(shape)
    evals, evecs = eigenbasis(L, M, k=41)
    return shape, T, evals[1:], evecs[:, 1:], M.diagonal()


def _mixed_basis(evals, phi, mass, T):
    """The basis with an even and an odd eigenfunction of a close pair rotated by 45 degrees into
    each other and given their mean eigenvalue: what an eigensolver returns for a degenerate pair."""
    signs = np.sign(np.einsum("vk,v,vk->k", phi, mass, phi[T]))
    i = next(j for j in range(1, 8) if signs[j] != signs[j - 1] and evals[j] - evals[j - 1] < 0.1 * evals[j])
    pair = [i - 1, i]
    c = np.sqrt(0.5)
    phi = phi.copy()
    phi[:, pair] = phi[:, pair] @ np.array([[c, -c], [c, c]])
    evals = evals.copy()
    evals[pair] = evals[pair].mean()
    return evals, phi


def test_exact_symmetry_has_an_isometric_functional_map(mirror_sphere):
    shape, T, evals, phi, mass = mirror_sphere
    C = phi[:, :20].T @ (mass[:, None] * phi[T, :20])
    assert commutativity_error(phi[:, :20], mass, evals[:20], T) < 1e-3
    np.testing.assert_allclose(isometric_fmap(C, evals[:20]), C, atol=2e-3)
    Q = isometric_fmap(np.random.default_rng(0).normal(size=(6, 6)), evals[:6])
    np.testing.assert_allclose(Q.T @ Q, np.eye(6), atol=1e-12)


def test_zoomout_keeps_an_exact_symmetry(mirror_sphere):
    shape, T, evals, phi, mass = mirror_sphere
    T2, C, resid = zoomout_self_map(phi, mass, T, [10, 20, 40], evals=evals)
    assert np.mean(T2 == T) >= 0.99 and resid < 1e-3


def test_descriptor_complement_recovers_a_mixed_eigenspace(mirror_sphere):
    shape, T, evals, phi, mass = mirror_sphere
    evals, phi = _mixed_basis(evals, phi, mass, T)
    m = 4
    C_true = phi[:, :m].T @ (mass[:, None] * phi[T, :m])
    assert np.abs(C_true - np.diag(np.diag(C_true))).max() > 0.9  # the pair is mixed
    desc = normalised_wks(evals, phi, mass)
    guesses = descriptor_complement_fmaps(phi, mass, desc, m)
    best = min(np.abs(C - C_true).max() for _, C in guesses)
    assert best < 1e-3
    assert min(np.abs(C - C_true).max() for _, C in sign_pattern_fmaps(m)) > 0.5


def test_search_finds_the_reflection_of_a_mixed_eigenspace(mirror_sphere):
    shape, T, evals, phi, mass = mirror_sphere
    evals, phi = _mixed_basis(evals, phi, mass, T)
    cands = search_reflection(evals, phi, mass, verts=shape.verts, faces=shape.faces)
    best = cands[0]
    err = np.linalg.norm(shape.verts[best.vertex_map] - shape.verts[T], axis=1)
    assert np.mean(err <= 0.01 * shape.diameter()) >= 0.95
    assert best.orientation < 0.1 and best.commutativity < 0.01 and best.descriptor_error < 0.05


def test_approximate_search_finds_an_exact_map(mirror_sphere):
    shape, T, evals, phi, mass = mirror_sphere
    best = search_reflection(evals, phi, mass, verts=shape.verts, faces=shape.faces)[0]
    assert np.mean(best.vertex_map == T) >= 0.95
    assert best.commutativity < 0.01 and best.orientation < 0.1 and best.descriptor_error < 0.05


def test_basis_grown_on_every_vertex_beyond_the_sample_keeps_the_exact_map(mirror_sphere):
    """With ``sample_k`` below the basis size the refinement continues on every vertex up to all K
    eigenfunctions: an exact reflection stays exact there, and its functional map is K x K."""
    shape, T, evals, phi, mass = mirror_sphere
    best = search_reflection(evals, phi, mass, verts=shape.verts, faces=shape.faces, sample_k=20)[0]
    assert best.fmap.shape == (phi.shape[1], phi.shape[1])
    assert np.mean(best.vertex_map == T) >= 0.95
    assert best.commutativity < 0.01 and best.orientation < 0.1 and best.descriptor_error < 0.05


def test_a_sample_basis_below_two_eigenfunctions_is_refused(mirror_sphere):
    shape, _, evals, phi, mass = mirror_sphere
    with pytest.raises(ConfigError, match="sample_k must be at least 2"):
        search_reflection(evals, phi, mass, verts=shape.verts, faces=shape.faces, sample_k=1)


def test_asymmetric_shape_reports_no_symmetry_with_its_scores():
    found = detect_reflections(bumpy_sphere(3, 0.1, seed=0))
    assert not found
    assert found.message.startswith("no symmetry found") and "commutativity error" in found.message
    assert "share left in place" in found.message
    best = found.best_candidate
    assert best is not None and np.isfinite(best.descriptor_error) and best.descriptor_error > 0.4


def test_involution_projection_is_a_symmetric_orthogonal_involution(mirror_sphere):
    shape, T, evals, phi, mass = mirror_sphere
    rng = np.random.default_rng(1)
    Q = isometric_fmap(rng.normal(size=(8, 8)), evals[:8], involution=True)
    np.testing.assert_allclose(Q, Q.T, atol=1e-12)
    np.testing.assert_allclose(Q @ Q, np.eye(8), atol=1e-12)
    # the map of an exact reflection already is one: the projection keeps it
    C = phi[:, :20].T @ (mass[:, None] * phi[T, :20])
    np.testing.assert_allclose(isometric_fmap(C, evals[:20], involution=True), C, atol=2e-3)


def test_involutive_zoomout_keeps_an_exact_symmetry(mirror_sphere):
    shape, T, evals, phi, mass = mirror_sphere
    T2, C, resid = zoomout_self_map(phi, mass, T, [10, 20, 40, 40], evals=evals, involution=True)
    assert np.mean(T2 == T) >= 0.99 and resid < 1e-3
    np.testing.assert_allclose(C, C.T, atol=1e-12)
    np.testing.assert_allclose(C @ C, np.eye(40), atol=1e-12)


def test_fixed_share_of_a_sphere_mirror_is_the_zone_area(mirror_sphere):
    shape, T, evals, phi, mass = mirror_sphere
    # a reflection x -> -x moves a point by 2|x|: the points moved by less than 0.05 sqrt(area)
    # lie in the zone |x| < 0.025 sqrt(4 pi) r, whose share of a sphere's area is its height over 2r
    r = np.linalg.norm(shape.verts, axis=1).mean()
    zone = 0.025 * np.sqrt(mass.sum()) / r
    assert fixed_share(shape.verts, mass, T) == pytest.approx(zone, abs=0.03)
    assert fixed_share(shape.verts, mass, np.arange(shape.n_verts)) == 1.0


def test_maps_leaving_much_in_place_rank_last(mirror_sphere):
    shape, T, evals, phi, mass = mirror_sphere
    # identity on one half, the mirror on the other: not a reflection, but scores well otherwise
    half = np.where(shape.verts[:, 0] > 0, np.arange(shape.n_verts), T)
    assert fixed_share(shape.verts, mass, half) > 0.5
    C = np.eye(2)
    good = ReflectionCandidate(T, C, "good", 0.3, 0.3, 0.0, 0.05, fixed_share(shape.verts, mass, T))
    partial = ReflectionCandidate(half, C, "partial", 0.05, 0.1, 0.0, 0.01, fixed_share(shape.verts, mass, half))
    assert partial.rank_key < good.rank_key
    assert [c.start for c in rank_candidates([partial, good])] == ["good", "partial"]
    assert [c.start for c in rank_candidates([partial, good], max_fixed_share=1.0)] == ["partial", "good"]
