"""Named features against analytic answers on spheres, and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from meshlearn import geometry
from meshlearn.geometry.operators import Operators
from meshlearn.testing import icosphere
from meshlearn.viz import FeatureError, compute_feature, operator_features
from meshlearn.viz.features import channel, check_length


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small dense eigenproblems: one BLAS thread is fastest, and immune to a busy machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def sphere():
    return icosphere(3, radius=2.0)


def test_positions_and_normals(sphere):
    np.testing.assert_array_equal(compute_feature(sphere, "xyz"), sphere.verts)
    n = compute_feature(sphere, "normals")
    cos = np.sum(n * sphere.verts / 2.0, axis=1)
    assert np.allclose(np.linalg.norm(n, axis=1), 1.0) and cos.min() > np.cos(0.02)  # outward, radial within 0.02 rad


def test_curvatures_of_a_sphere(sphere):
    """Radius 2: Gaussian curvature 1/4 everywhere, mean curvature +1/2 (convex, outward normals)."""
    K = compute_feature(sphere, "gaussian_curvature")
    H = compute_feature(sphere, "mean")
    assert K.shape == H.shape == (sphere.n_verts, 1)
    np.testing.assert_allclose(np.median(K), 0.25, rtol=0.02)
    np.testing.assert_allclose(np.median(H), 0.5, rtol=0.02)
    # the sign follows the orientation: turned inside out, the sphere is concave
    inside_out = compute_feature(sphere.with_(faces=sphere.faces[:, ::-1]), "mean")
    np.testing.assert_allclose(np.median(inside_out), -0.5, rtol=0.02)


def test_eigenfunctions_of_a_sphere(sphere):
    """The first eigenfunction is constant; the next three span the linear functions x, y, z."""
    ev = compute_feature(sphere, "eig", k=8)
    assert ev.shape == (sphere.n_verts, 8)
    assert np.ptp(ev[:, 0]) < 1e-6 * np.abs(ev[:, 0]).max()
    coef, *_ = np.linalg.lstsq(ev[:, 1:4], sphere.verts, rcond=None)
    resid = np.linalg.norm(ev[:, 1:4] @ coef - sphere.verts) / np.linalg.norm(sphere.verts)
    assert resid < 1e-2


def test_hks_is_constant_on_a_sphere(sphere):
    h = compute_feature(sphere, "hks", k=16)
    assert h.shape[0] == sphere.n_verts and h.shape[1] > 1
    assert (np.ptp(h, axis=0) / h.mean(0)).max() < 0.05  # every point alike


def test_geodesic_is_great_circle(sphere):
    if not hasattr(geometry, "geodesic_distance"):
        pytest.skip("meshlearn.geometry.geodesic_distance is not available in this build")
    d = compute_feature(sphere, "geodesic:5")[:, 0]
    u = sphere.verts / 2.0
    exact = 2.0 * np.arccos(np.clip(u @ u[5], -1, 1))
    assert np.abs(d - exact).max() < 0.05 * exact.max()


def test_feature_errors(sphere):
    with pytest.raises(FeatureError, match="unknown feature 'curly'.*hks"):
        compute_feature(sphere, "curly")
    with pytest.raises(FeatureError, match="out of range.*642 vertices"):
        compute_feature(sphere, "geodesic:642")
    with pytest.raises(FeatureError, match="geodesic:<i>"):
        compute_feature(sphere, "geodesic:x")
    from meshlearn.testing import sphere_points

    with pytest.raises(FeatureError, match="point cloud"):
        compute_feature(sphere_points(100), "mean")
    with pytest.raises(FeatureError, match="3 channels .0 to 2.; channel 3"):
        channel(sphere.verts, 3, name="xyz")
    assert channel(sphere.verts, -1).tolist() == sphere.verts[:, 2].tolist()
    with pytest.raises(FeatureError, match="10 rows.*642 vertices"):
        check_length(sphere, np.zeros((10, 2)), name="hks")


def test_operator_features():
    V = 5
    frames = np.tile(np.eye(3), (V, 1, 1))
    ops = Operators(verts=np.zeros((V, 3)), hks=np.ones((V, 3)), evecs=np.ones((V, 4)), mass=np.ones(V), frames=frames)
    f = operator_features(ops)
    assert set(f) == {"hks", "evecs", "mass", "normals"}
    assert f["mass"].shape == (V, 1)
    np.testing.assert_array_equal(f["normals"], np.tile([0.0, 0.0, 1.0], (V, 1)))
