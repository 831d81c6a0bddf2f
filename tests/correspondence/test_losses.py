"""Loss terms vanish on the ground truth of an isometry and grow away from it."""

from __future__ import annotations

import pytest
import torch

from meshlearn.correspondence import (
    Bijectivity,
    CombinedLoss,
    Coupling,
    FmapSupervised,
    LaplacianCommutativity,
    Orthogonality,
    PairMaps,
    PointwiseSupervised,
    pointwise_to_fmap,
    soft_fmap,
    unsupervised_loss,
)
from meshlearn.errors import ConfigError

K = 25


@pytest.fixture(scope="module")
def truth(sphere_pair):
    """Maps of the icosphere isometry both ways, and descriptors that single out each vertex."""
    p = sphere_pair
    ea, eb = p.a.evecs[:, :K], p.b.evecs[:, :K]
    inv = torch.empty_like(p.perm)
    inv[p.perm] = torch.arange(len(p.perm))
    C_ab = pointwise_to_fmap(p.perm, ea, eb, p.b.mass)
    C_ba = pointwise_to_fmap(inv, eb, ea, p.a.mass)
    # unit positions in A's frame: the same point of the sphere has the same descriptor on A and B
    fa = torch.nn.functional.normalize(p.a.verts, dim=1)
    fb = fa[p.perm]
    tau = 1e-4  # neighbours differ in cosine by ~5e-3, so the soft map is the permutation to e^-50
    maps = PairMaps(
        C_ab=C_ab[None], C_ba=C_ba[None], evals_a=p.a.evals[None, :K], evals_b=p.b.evals[None, :K],
        C_ab_soft=soft_fmap(fa, fb, ea, eb, p.b.mass, tau)[None], C_ba_soft=soft_fmap(fb, fa, eb, ea, p.a.mass, tau)[None],
        C_ab_gt=C_ab[None], feat_a=[fa], feat_b=[fb], corr=[(p.perm, torch.arange(len(p.perm)))], tau=tau,
    )
    return maps


def test_every_term_vanishes_on_the_ground_truth(truth):
    for loss in (Bijectivity(), Orthogonality(), LaplacianCommutativity(1.0), Coupling(), FmapSupervised(), PointwiseSupervised(chunk=100)):
        assert float(loss(truth)) < 1e-12, loss.name


def test_terms_grow_away_from_the_ground_truth(truth):
    g = torch.Generator().manual_seed(0)
    noise = 0.05 * torch.randn(truth.C_ab.shape, generator=g, dtype=torch.float64)
    bad = PairMaps(**{**truth.__dict__, "C_ab": truth.C_ab + noise})
    for loss in (Bijectivity(), Orthogonality(), LaplacianCommutativity(1.0), Coupling(), FmapSupervised()):
        assert float(loss(bad)) > 1e-3, loss.name
    # the squared Frobenius norms: the supervised term is exactly ||noise||^2
    assert torch.isclose(FmapSupervised(2.0)(bad), 2 * (noise**2).sum())
    wrong = PairMaps(**{**truth.__dict__, "tau": 1.0})  # a warm soft map puts little mass on the truth
    assert float(PointwiseSupervised()(wrong)) > 1.0


def test_combined_loss_sums_named_terms(truth):
    bad = PairMaps(**{**truth.__dict__, "C_ab": 1.1 * truth.C_ab})
    loss = unsupervised_loss(laplacian=1e-3)
    total, terms = loss(bad)
    assert set(terms) == {"bijectivity", "orthogonality", "laplacian_commutativity", "coupling"}
    assert abs(float(total) - sum(terms.values())) < 1e-12
    # orthogonality of 1.1 C_ab (C_ba exact): ||1.21 I - I||^2 = 0.21^2 K
    assert abs(terms["orthogonality"] - 0.21**2 * K) < 1e-9
    assert abs(terms["coupling"] - 0.01 * K) < 1e-9  # ||0.1 C_ab||^2 with C_ab orthogonal
    loss2 = CombinedLoss.from_weights({"fmap_supervised": 3.0, "bijectivity": 0.0})
    total2, terms2 = loss2(bad)
    assert list(terms2) == ["fmap_supervised"] and abs(float(total2) - 3 * 0.01 * K) < 1e-9


def test_missing_inputs_and_bad_configs(truth):
    with pytest.raises(ConfigError, match="needs C_ba"):
        Bijectivity()(PairMaps(C_ab=truth.C_ab))
    with pytest.raises(ConfigError, match="needs C_ab_soft"):
        Coupling()(PairMaps(C_ab=truth.C_ab))
    with pytest.raises(ConfigError, match="unknown loss"):
        CombinedLoss.from_weights({"nope": 1.0})
    with pytest.raises(ConfigError, match="once"):
        CombinedLoss([Orthogonality(), Orthogonality()])
    with pytest.raises(ConfigError, match="weight"):
        Orthogonality(-1.0)
