"""decimate(): under the vertex budget, still the same surface."""

from __future__ import annotations

import numpy as np
import pytest

from meshlearn import InvalidMeshError
from meshlearn.preprocess.decimate import decimate
from meshlearn.testing import icosphere, sphere_points


def test_mesh_is_simplified_under_budget_and_stays_a_unit_sphere():
    s = icosphere(4)  # 2562 vertices
    d = decimate(s, 600)
    assert 100 < d.n_verts <= 600
    np.testing.assert_allclose(np.linalg.norm(d.verts, axis=1), 1.0, atol=0.02)
    assert d.area() == pytest.approx(4 * np.pi, rel=0.03)
    # still a closed genus-0 surface: Euler characteristic V - E + F = 2
    edges = np.sort(d.faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    E = len(np.unique(edges, axis=0))
    assert d.n_verts - E + d.n_faces == 2
    assert any("decimated from 2562" in r for r in d.repairs)


def test_point_cloud_keeps_every_nth_point():
    p = sphere_points(3000)
    d = decimate(p, 1000)
    assert d.faces is None and d.n_verts == 1000
    np.testing.assert_array_equal(d.verts, p.verts[::3])


def test_within_budget_is_returned_unchanged_and_a_tiny_budget_is_refused():
    s = icosphere(1)
    assert decimate(s, s.n_verts) is s
    with pytest.raises(InvalidMeshError, match="at least 4"):
        decimate(s, 3)
