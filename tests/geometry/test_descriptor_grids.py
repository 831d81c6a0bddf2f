"""The fixed unit-area HKS/WKS grids: the same channel means the same time or energy on every shape.

Scaling a surface by s multiplies its eigenvalues by 1/s^2 and its M-orthonormal eigenvectors by
1/s; on the unit-area grid the descriptors of a shape and of its scaled copy are equal, whatever
the scale and (at times/energies the basis resolves) whatever the number of eigenpairs.
"""

from __future__ import annotations

import numpy as np
import pytest

import meshlearn
from meshlearn.errors import ConfigError
from meshlearn.geometry import OperatorSpec, compute_operators
from meshlearn.geometry.spectral import (
    UNIT_AREA_HKS_TIMES,
    hks,
    hks_times,
    unit_area_basis,
    unit_area_hks,
    unit_area_hks_times,
    unit_area_wks,
    unit_area_wks_energies,
)
from meshlearn.testing import bumpy_sphere


@pytest.fixture(scope="module")
def shapes():
    shape = bumpy_sphere(3, amplitude=0.2, seed=1)
    return shape, shape.with_(verts=shape.verts * 3.7)


def _basis(shape, k):
    o = compute_operators(shape, OperatorSpec(k=k, dtype="float64"))
    return o.evals, o.evecs, o.mass


def test_grids_are_fixed():
    t = unit_area_hks_times(16)
    assert t.shape == (16,) and np.all(np.diff(np.log(t)) > 0)
    np.testing.assert_allclose(np.diff(np.log(t)), np.log(t[1] / t[0]))  # log-spaced
    np.testing.assert_allclose([t[0], t[-1]], UNIT_AREA_HKS_TIMES)
    e = unit_area_wks_energies(8)
    np.testing.assert_allclose(np.diff(e), e[1] - e[0])


def test_unit_area_basis_undoes_scaling(shapes):
    (la, pa, ma), (lb, pb, mb) = _basis(shapes[0], 30), _basis(shapes[1], 30)
    ea, _ = unit_area_basis(la, pa, ma)
    eb, _ = unit_area_basis(lb, pb, mb)
    np.testing.assert_allclose(ea[1:], eb[1:], rtol=1e-8)
    np.testing.assert_allclose(lb[1:] * 3.7**2, la[1:], rtol=1e-8)


def test_descriptors_are_scale_invariant(shapes):
    (la, pa, ma), (lb, pb, mb) = _basis(shapes[0], 60), _basis(shapes[1], 60)
    for f in (unit_area_hks, unit_area_wks):
        np.testing.assert_allclose(f(la, pa, ma), f(lb, pb, mb), rtol=1e-7)
    # the old, shape-relative grid is scale-invariant in its times but not in its values (1/area)
    old_a, old_b = hks(la, pa, hks_times(la)), hks(lb, pb, hks_times(lb))
    np.testing.assert_allclose(old_a, old_b * 3.7**2, rtol=1e-7)


def test_channels_do_not_depend_on_k(shapes):
    """The time of channel j is fixed, so more eigenpairs only refine it (unlike the old grid,
    whose shortest time moves with lambda_K)."""
    a60, a120 = _basis(shapes[0], 60), _basis(shapes[0], 120)
    h60, h120 = unit_area_hks(*a60), unit_area_hks(*a120)
    t = unit_area_hks_times(16)
    resolved = t > 0.05  # exp(-lambda_60 t) is negligible there
    np.testing.assert_allclose(h60[:, resolved], h120[:, resolved], rtol=1e-6)
    assert not np.isclose(hks_times(a60[0])[0], hks_times(a120[0])[0], rtol=0.1)


def test_operator_spec_grid(shapes):
    shape = shapes[0]
    new = compute_operators(shape, OperatorSpec(operators="hks,wks", k=40, dtype="float64"))
    old = compute_operators(shape, OperatorSpec(operators="hks,wks", k=40, dtype="float64", descriptor_grid="spectrum"))
    np.testing.assert_allclose(new.hks, unit_area_hks(new.evals, new.evecs, new.mass))
    np.testing.assert_allclose(new.wks, unit_area_wks(new.evals, new.evecs, new.mass))
    np.testing.assert_allclose(old.hks, hks(old.evals, old.evecs, hks_times(old.evals)))
    # keys: descriptor specs change with the grid, spectral-only specs do not mention it
    spec_new, spec_old = OperatorSpec(operators="hks"), OperatorSpec(operators="hks", descriptor_grid="spectrum")
    assert spec_new.key() != spec_old.key()
    assert "descriptor_grid" not in OperatorSpec().to_dict()
    assert OperatorSpec.from_dict(spec_new.to_dict()) == spec_new
    # a stored descriptor spec from before the option reads as the shape-relative grid
    legacy = spec_old.to_dict()
    del legacy["descriptor_grid"]
    assert OperatorSpec.from_dict(legacy) == spec_old
    # the grid never blocks reusing an eigenbasis
    assert spec_old.covers(OperatorSpec(k=64)) and not spec_old.covers(spec_new)
    with pytest.raises(ConfigError, match="descriptor_grid"):
        OperatorSpec(descriptor_grid="auto")


def test_bad_mass():
    with pytest.raises(ConfigError, match="positive total mass"):
        unit_area_hks(np.array([0.0, 1.0]), np.ones((3, 2)), np.zeros(3))
    with pytest.raises(ConfigError, match="mass"):
        unit_area_wks(np.array([0.0, 1.0]), np.ones((3, 2)), np.ones(4))
    assert meshlearn.geometry.unit_area_hks is unit_area_hks
