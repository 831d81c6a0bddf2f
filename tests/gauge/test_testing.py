"""assert_gauge_equivariant accepts equivariant maps and rejects the others."""

import pytest
import torch

from meshlearn.gauge import FeatureType, rotate
from meshlearn.gauge.testing import assert_gauge_equivariant, synthetic_gauge


def test_accepts_a_pointwise_equivariant_map_and_rejects_a_broken_one():
    t = FeatureType.regular(2, 2)
    gauge = synthetic_gauge(15, 3)
    x = torch.randn(15, t.dim, dtype=torch.float64)

    def scale_and_rotate(x, gauge):  # commutes with rho: equivariant
        return 2.0 * rotate(x, torch.full(x.shape[:1], 0.4, dtype=x.dtype), t)

    assert assert_gauge_equivariant(scale_and_rotate, x, gauge, t, t) < 1e-12

    def add_to_every_component(x, gauge):  # a bias on rotating components breaks equivariance
        return x + 1.0

    with pytest.raises(AssertionError, match="not gauge equivariant"):
        assert_gauge_equivariant(add_to_every_component, x, gauge, t, t)

    def ignores_the_transport(x, gauge):  # reads a neighbour without transporting it
        ei = torch.as_tensor(gauge.edge_index)
        return torch.zeros_like(x).index_add(0, ei[0], x[ei[1]])

    with pytest.raises(AssertionError, match="vertex"):
        assert_gauge_equivariant(ignores_the_transport, x, gauge, t, t)
