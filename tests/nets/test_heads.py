"""Task heads and functional maps: pooling formulas, exact recovery of a known vertex permutation by
descriptor matching, functional maps and ZoomOut."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import meshlearn
from meshlearn.errors import ConfigError
from meshlearn.nets.heads import (
    DescriptorHead,
    SegmentationHead,
    TemplateCorrespondenceHead,
    fmap_correspondence,
    fmap_to_pointwise,
    functional_map,
    global_mean,
    match_descriptors,
    pointwise_to_fmap,
    vertices_to_faces,
    zoomout,
)
from meshlearn.testing import bumpy_sphere

K = 30

@pytest.fixture(scope="module")
def pair():
    """A bumpy sphere (A) and the same surface with its vertices shuffled (B): B's vertex y is A's
    vertex perm[y], so the true map B -> A is T = perm."""
    shape = bumpy_sphere(2, amplitude=0.2, seed=3)
    # the per-shape descriptor grid, on which the noise level below was measured to defeat plain
    # nearest neighbours (the unit-area grid's descriptors are more distinctive: 0.994 direct)
    spec = meshlearn.OperatorSpec(operators=frozenset({"spectral", "hks", "wks"}), k=K, dtype="float64",
                                  descriptor_grid="spectrum")
    a = meshlearn.compute_operators(shape, spec).to("cpu", torch.float64)
    perm = torch.from_numpy(np.random.default_rng(7).permutation(a.n_verts))
    desc_a = torch.cat([a.hks, a.wks, a.verts], dim=1)  # 35 descriptors >= K
    return a, perm, desc_a


def test_pooling_formulas():
    y = torch.tensor([[1.0, 0.0], [2.0, 3.0], [4.0, 6.0], [8.0, 9.0]])
    faces = torch.tensor([[0, 1, 2], [1, 2, 3]])
    assert torch.allclose(vertices_to_faces(y, faces), torch.tensor([[7 / 3, 3.0], [14 / 3, 6.0]]))
    mass = torch.tensor([1.0, 1.0, 2.0, 0.0])
    assert torch.allclose(global_mean(y, mass), torch.tensor([(1 + 2 + 8) / 4, (0 + 3 + 12) / 4]))
    assert torch.allclose(global_mean(y, None), y.mean(0))
    with pytest.raises(ConfigError, match="point cloud"):
        vertices_to_faces(y, None)


def test_heads_shapes():
    x = torch.randn(10, 6)
    faces = torch.tensor([[0, 1, 2], [2, 3, 4]])
    assert SegmentationHead(6, 3)(x).shape == (10, 3)
    assert SegmentationHead(6, 3, outputs="faces")(x, faces).shape == (2, 3)
    with pytest.raises(ConfigError, match="per-vertex or per-face"):
        SegmentationHead(6, 3, outputs="global")
    head = TemplateCorrespondenceHead(6, 50)
    assert head(x).shape == (10, 50) and head.predict(x).dtype == torch.long
    d = DescriptorHead(6, 8)(x)
    assert d.shape == (10, 8) and torch.allclose(d.norm(dim=1), torch.ones(10))


def test_match_descriptors_recovers_a_permutation(pair):
    a, perm, desc_a = pair
    T = match_descriptors(desc_a, desc_a[perm], chunk=50)  # chunks smaller than V exercise the loop
    assert torch.equal(T, perm)
    with pytest.raises(ConfigError, match="same D"):
        match_descriptors(desc_a, desc_a[:, :3])


def test_pointwise_to_fmap_of_the_true_map_is_the_identity(pair):
    # evecs_b = evecs_a[perm] is an M_b-orthonormal basis of B, and C = evecs_b^T M_b evecs_a[perm] = I
    a, perm, _ = pair
    C = pointwise_to_fmap(perm, a.evecs, a.evecs[perm], a.mass[perm])
    assert torch.allclose(C, torch.eye(K, dtype=C.dtype), atol=1e-9)


def test_functional_map_solves_the_regularised_least_squares(pair):
    # with descriptors whose coefficients span all K modes, C = I is the unique zero of both terms
    a, perm, _ = pair
    desc = torch.randn(a.n_verts, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    C = functional_map(desc, desc[perm], a.evecs, a.evecs[perm], a.mass, a.mass[perm], a.evals, a.evals, mu=1e-3)
    assert C.shape == (K, K)
    assert torch.allclose(C, torch.eye(K, dtype=C.dtype), atol=1e-8)
    with pytest.raises(ConfigError, match="evals"):
        functional_map(desc, desc, a.evecs, a.evecs, a.mass, a.mass, mu=1e-3)


def test_functional_map_from_intrinsic_descriptors_gives_the_map(pair):
    # HKS / WKS / xyz span only ~12 modes; the commutativity term fills in the rest
    a, perm, desc_a = pair
    C = functional_map(desc_a, desc_a[perm], a.evecs, a.evecs[perm], a.mass, a.mass[perm], a.evals, a.evals, mu=1e-1)
    assert (C - torch.eye(K, dtype=C.dtype)).abs().max() < 0.01
    T = fmap_to_pointwise(C, a.evecs, a.evecs[perm])
    assert (T == perm).double().mean() >= 0.99


def test_functional_map_is_differentiable_in_the_descriptors(pair):
    a, perm, desc_a = pair
    d = desc_a.clone().requires_grad_()
    C = functional_map(d, d[perm], a.evecs, a.evecs[perm], a.mass, a.mass[perm], a.evals, a.evals)
    (C - torch.eye(K, dtype=C.dtype)).square().sum().backward()
    assert torch.isfinite(d.grad).all()


def test_zoomout_recovers_the_map_from_a_small_start(pair):
    a, perm, _ = pair
    evecs_b = a.evecs[perm]
    noise = torch.randn(6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    C0 = torch.eye(6, dtype=torch.float64) + 0.2 * noise  # a rough estimate of the true 6 x 6 map
    coarse = (fmap_to_pointwise(C0, a.evecs, evecs_b) == perm).double().mean()
    C, T = zoomout(C0, a.evecs, evecs_b, a.mass[perm], k_final=K, step=2)
    fine = (T == perm).double().mean()
    assert C.shape == (K, K)
    assert coarse < 0.5 and fine >= 0.99
    with pytest.raises(ConfigError, match="k_final"):
        zoomout(C0, a.evecs, evecs_b, a.mass[perm], k_final=K + 5)
    with pytest.raises(ConfigError, match="square"):
        zoomout(C0[:4], a.evecs, evecs_b, a.mass[perm], k_final=K)


def test_fmap_correspondence_with_noisy_descriptors(pair):
    # noise that breaks plain nearest-neighbour matching; the band-limited map survives it
    a, perm, desc_a = pair
    gen = torch.Generator().manual_seed(4)
    desc_b = desc_a[perm] + 0.1 * desc_a.std(0) * torch.randn(desc_a.shape, generator=gen, dtype=torch.float64)
    b = dataclasses.replace(a, evecs=a.evecs[perm], mass=a.mass[perm])
    direct = (match_descriptors(desc_a, desc_b) == perm).double().mean()
    T = fmap_correspondence(desc_a, desc_b, a, b, k=20, k_final=K)
    assert (T == perm).double().mean() >= 0.99 > direct  # measured: 1.0 against 0.95
    with pytest.raises(ConfigError, match="eigenpairs"):
        fmap_correspondence(desc_a, desc_b, a, b, k=K + 1)
