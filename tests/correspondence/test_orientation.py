"""Orientation of maps: the oriented area form of descriptor gradients tells a map from its mirror image."""

from __future__ import annotations

import numpy as np
import pytest

from meshlearn import OperatorSpec, compute_operators
from meshlearn.correspondence.orientation import choose_orientation, orientation_agreement, oriented_descriptor_pairs
from meshlearn.errors import ConfigError
from meshlearn.testing import mirror_symmetric_sphere, random_rigid_motion

SPEC = OperatorSpec(operators=frozenset({"wks", "gradients"}), k=60, n_wks=64, dtype="float64")


def _chi(shape):
    o = compute_operators(shape, SPEC)
    return oriented_descriptor_pairs(o.wks, o.grad_x, o.grad_y, o.mass), o.mass


@pytest.fixture(scope="module")
def pair():
    """A mirror-symmetric shape A, its reflection S, and B: a rigidly moved copy with shuffled
    vertices; T_true sends vertex i of A to its copy in B."""
    a, S = mirror_symmetric_sphere(3, seed=2)
    perm = np.random.default_rng(0).permutation(a.n_verts)  # copy vertex y = original perm[y]
    inv = np.empty_like(perm)
    inv[perm] = np.arange(perm.size)
    b = random_rigid_motion(a.with_(verts=a.verts[perm], faces=inv[a.faces]), seed=4)
    S_b = inv[S[perm]]  # B's reflection: copy vertex y -> copy of the mirror of its original
    return a, b, inv, S_b


def test_the_true_map_agrees_and_its_mirror_image_disagrees(pair):
    a, b, T_true, S_b = pair
    (chi_a, m_a), (chi_b, _) = _chi(a), _chi(b)
    assert orientation_agreement(chi_a, chi_b, T_true, m_a) == pytest.approx(1.0, abs=1e-6)  # rigid motion: intrinsic
    assert orientation_agreement(chi_a, chi_b, S_b[T_true], m_a) == pytest.approx(-1.0, abs=1e-6)  # reversed


def test_choose_orientation_undoes_a_flip(pair):
    a, b, T_true, S_b = pair
    (chi_a, m_a), (chi_b, _) = _chi(a), _chi(b)
    out, flipped, keep, flip = choose_orientation(S_b[T_true], S_b, chi_a, chi_b, m_a)
    assert flipped and keep < 0 < flip
    np.testing.assert_array_equal(out, T_true)
    out, flipped, _, _ = choose_orientation(T_true, S_b, chi_a, chi_b, m_a)
    assert not flipped
    np.testing.assert_array_equal(out, T_true)


def test_scale_of_the_descriptors_and_the_shape_does_not_matter(pair):
    a = pair[0]
    o = compute_operators(a, SPEC)
    chi = oriented_descriptor_pairs(o.wks, o.grad_x, o.grad_y, o.mass)
    np.testing.assert_allclose(oriented_descriptor_pairs(5.0 * o.wks, o.grad_x, o.grad_y, o.mass), chi, atol=1e-12)
    big = compute_operators(a.with_(verts=3.0 * a.verts), SPEC)  # the same WKS grid (unit area), bigger shape
    np.testing.assert_allclose(oriented_descriptor_pairs(big.wks, big.grad_x, big.grad_y, big.mass), chi, atol=1e-8)


def test_bad_input():
    with pytest.raises(ConfigError, match="at least two channels"):
        oriented_descriptor_pairs(np.ones((4, 1)), np.eye(4), np.eye(4), np.ones(4))
    with pytest.raises(ConfigError, match="expected chi_a"):
        orientation_agreement(np.ones((4, 3)), np.ones((5, 3)), np.zeros(3, dtype=int), np.ones(4))
