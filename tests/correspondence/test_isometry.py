"""Functional maps of isometries: a surface against its vertex-permuted, rigidly moved copy.

An isometry commutes with the Laplace-Beltrami operator, so its functional map sends each
eigenspace onto the eigenspace of the same eigenvalue (block-diagonal on clusters of equal
eigenvalues) and, preserving the area, is orthogonal. On the icosphere the clusters are the
near-degenerate groups of the sphere's l(l+1) (split by the icosahedral symmetry).
"""

from __future__ import annotations

import numpy as np
import torch

from meshlearn.correspondence import fmap_to_pointwise, functional_map, pointwise_to_fmap, zoomout

K = 25  # a cluster boundary of the icosphere's spectrum


def _clusters(evals: torch.Tensor, k: int) -> torch.Tensor:
    """(k, k) bool: True inside the diagonal blocks of clusters of equal eigenvalues."""
    ev = evals[:k].numpy()
    starts = np.concatenate([[0], np.where(np.diff(ev) > 1e-6 * ev.max())[0] + 1, [k]])
    mask = torch.zeros(k, k, dtype=torch.bool)
    for s, e in zip(starts[:-1], starts[1:]):
        mask[s:e, s:e] = True
    return mask


def test_fmap_of_an_isometry_is_orthogonal_and_block_diagonal(sphere_pair):
    p = sphere_pair
    ea, eb = p.a.evecs[:, :K], p.b.evecs[:, :K]
    assert torch.allclose(p.a.evals[:K], p.b.evals[:K], rtol=1e-8, atol=1e-8)
    C = pointwise_to_fmap(p.perm, ea, eb, p.b.mass)
    eye = torch.eye(K, dtype=C.dtype)
    assert (C.T @ C - eye).abs().max() < 1e-10
    assert (C @ C.T - eye).abs().max() < 1e-10
    blocks = _clusters(p.a.evals, K)
    assert blocks.sum() < K * K / 4  # the test means something: most entries are off the blocks
    assert C[~blocks].abs().max() < 1e-8
    # the map commutes with the Laplacian
    comm = C * p.a.evals[None, :K] - p.b.evals[:K, None] * C
    assert comm.abs().max() < 1e-8 * p.a.evals[K - 1]
    # and its pointwise map is the permutation itself
    assert torch.equal(fmap_to_pointwise(C, ea, eb), p.perm)


def test_solver_map_is_block_diagonal(sphere_pair):
    """The commutativity term confines the solver's C to the eigenvalue clusters."""
    p = sphere_pair
    ea, eb = p.a.evecs[:, :K], p.b.evecs[:, :K]
    da, db = torch.cat([p.a.hks, p.a.wks], 1), torch.cat([p.b.hks, p.b.wks], 1)
    C = functional_map(da, db, ea, eb, p.a.mass, p.b.mass, p.a.evals[:K], p.b.evals[:K], mu=1e-2)
    blocks = _clusters(p.a.evals, K)
    assert (C[~blocks] ** 2).sum() < 1e-5 * (C**2).sum()


def test_solver_recovers_the_permutation(bumpy_pair):
    """Without symmetry, intrinsic descriptors (HKS + WKS) determine the map: vertex-exact."""
    p = bumpy_pair
    k = 30
    ea, eb = p.a.evecs[:, :k], p.b.evecs[:, :k]
    da, db = torch.cat([p.a.hks, p.a.wks], 1), torch.cat([p.b.hks, p.b.wks], 1)
    C = functional_map(da, db, ea, eb, p.a.mass, p.b.mass, p.a.evals[:k], p.b.evals[:k], mu=1e-2)
    assert (fmap_to_pointwise(C, ea, eb) == p.perm).double().mean() > 0.99
    C60, T = zoomout(C, p.a.evecs, p.b.evecs, p.b.mass, k_final=60, step=5)
    assert torch.equal(T, p.perm)
    eye = torch.eye(60, dtype=C60.dtype)
    assert (C60.T @ C60 - eye).abs().max() < 1e-8
