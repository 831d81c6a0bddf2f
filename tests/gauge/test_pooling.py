"""Parallel-transport pooling: coarser levels (geometry), pooling / unpooling (gauge), against the
definitions: area-weighted averages, exact gauge equivariance, flat transport, rigid motions."""

import numpy as np
import pytest
import torch

import meshlearn
from meshlearn.errors import ConfigError
from meshlearn.gauge import FeatureType, change_pool_gauge, rotate, transport_pool, transport_unpool
from meshlearn.gauge.testing import random_angles
from meshlearn.geometry import GaugePoolData, gauge_data, gauge_pooling, tangent_frames
from meshlearn.geometry.angles import wrap_angle
from meshlearn.geometry.pooling import farthest_point_sampling, vertex_areas
from meshlearn.shape import Shape
from meshlearn.testing import bumpy_sphere, grid, icosphere, random_rotation


def _pool_data(shape, frames=None, **kw):
    frames = tangent_frames(shape) if frames is None else frames
    return gauge_pooling(shape, frames, gauge_data(shape, frames), **kw)


@pytest.fixture(scope="module")
def sphere():
    return bumpy_sphere(3)


@pytest.fixture(scope="module")
def sphere_pool(sphere):
    return _pool_data(sphere)


def test_levels_structure(sphere, sphere_pool):
    pd = sphere_pool
    assert pd.n_levels == 2 and list(pd.n_verts) == [642, 161, 41]  # ceil(0.25 V) each
    for k in (1, 2):
        index, cluster, pt, w, g = pd.level(k)
        n_fine = pd.n_verts[k - 1]
        assert cluster.shape == pt.shape == w.shape == (n_fine,)
        assert index.shape == (pd.n_verts[k],)
        # every kept vertex is its own cluster, with no transport
        np.testing.assert_array_equal(cluster[index], np.arange(len(index)))
        np.testing.assert_allclose(pt[index], 0.0, atol=0)
        np.testing.assert_allclose(np.bincount(cluster, w), 1.0, atol=1e-14)
        # the coarse graph is symmetric and its transport exactly antisymmetric
        src, dst = g.edge_index
        keys = src * len(index) + dst
        assert (np.diff(keys) > 0).all()
        rev = np.searchsorted(keys, dst * len(index) + src)
        np.testing.assert_array_equal(keys[rev], dst * len(index) + src)
        np.testing.assert_array_equal(g.transport[rev], -g.transport)
    with pytest.raises(ConfigError, match="levels 1..2"):
        pd.level(3)


def test_order_0_pooling_is_the_area_weighted_average(sphere, sphere_pool):
    _, cluster, pt, w, _ = sphere_pool.level(1)
    f = np.random.default_rng(0).normal(size=(sphere.n_verts, 3))
    pooled = transport_pool(torch.as_tensor(f), cluster, torch.as_tensor(pt), torch.as_tensor(w), 161, FeatureType.scalar(3))
    area = vertex_areas(sphere)
    expected = np.stack([np.bincount(cluster, area * f[:, i]) / np.bincount(cluster, area) for i in range(3)], 1)
    np.testing.assert_allclose(pooled.numpy(), expected, atol=1e-13)
    np.testing.assert_allclose(area.sum(), sphere.area(), rtol=1e-12)
    # unpooling scalars copies the cluster's value; pooling a constant gives the constant
    back = transport_unpool(pooled, cluster, torch.as_tensor(pt), FeatureType.scalar(3))
    np.testing.assert_allclose(back.numpy(), expected[cluster], atol=0)
    ones = transport_pool(torch.ones(sphere.n_verts, 1, dtype=torch.float64), cluster, torch.as_tensor(pt), torch.as_tensor(w), 161, FeatureType.scalar(1))
    np.testing.assert_allclose(ones.numpy(), 1.0, atol=1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pooling_and_unpooling_commute_with_gauge_changes(sphere_pool, dtype):
    t = FeatureType({0: 2, 1: 3, 2: 2, 5: 1})
    _, cluster, pt, w, _ = sphere_pool.level(1)
    cluster = torch.as_tensor(cluster)
    pt, w = torch.as_tensor(pt, dtype=dtype), torch.as_tensor(w, dtype=dtype)
    gf, gc = random_angles(642, seed=1, dtype=dtype), random_angles(161, seed=2, dtype=dtype)
    pt2 = change_pool_gauge(cluster, pt, gf, gc)
    x = torch.randn(642, t.dim, dtype=dtype)
    y = transport_pool(x, cluster, pt, w, 161, t)
    y2 = transport_pool(rotate(x, -gf, t), cluster, pt2, w, 161, t)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    assert float((y2 - rotate(y, -gc, t)).abs().max()) < tol * float(y.abs().max())
    z = torch.randn(161, t.dim, dtype=dtype)
    u = transport_unpool(z, cluster, pt, t)
    u2 = transport_unpool(rotate(z, -gc, t), cluster, pt2, t)
    assert float((u2 - rotate(u, -gf, t)).abs().max()) < tol * float(u.abs().max())
    # unpooling undoes the transport of pooling: a coarse vertex's own value comes back
    index = torch.as_tensor(sphere_pool.level(1)[0])
    torch.testing.assert_close(transport_unpool(z, cluster, pt, t)[index], z)


def test_flat_grid_transport_is_the_rotation_between_frames():
    s = grid(16, jitter=0.3, seed=2)
    s = s.with_(verts=s.verts @ random_rotation(4).T)
    fr = tangent_frames(s)
    pd = _pool_data(s, fr)
    index, cluster, pt, _, g = pd.level(1)
    kept = fr[index]
    # on a plane transport along any path is the identity in space: the angle from p's frame
    # to c's is the angle of x_p in c's frame
    c = kept[cluster]
    between = np.arctan2(np.einsum("ij,ij->i", fr[:, 0], c[:, 1]), np.einsum("ij,ij->i", fr[:, 0], c[:, 0]))
    np.testing.assert_allclose(wrap_angle(pt - between), 0.0, atol=1e-12)
    src, dst = g.edge_index
    between = np.arctan2(np.einsum("ij,ij->i", kept[dst, 0], kept[src, 1]), np.einsum("ij,ij->i", kept[dst, 0], kept[src, 0]))
    np.testing.assert_allclose(wrap_angle(g.transport - between), 0.0, atol=1e-12)
    # and the coarse angles are the projected directions
    off = s.verts[index][dst] - s.verts[index][src]
    proj = np.arctan2(np.einsum("ij,ij->i", off, kept[src, 1]), np.einsum("ij,ij->i", off, kept[src, 0]))
    np.testing.assert_allclose(wrap_angle(g.angle - proj), 0.0, atol=1e-12)


@pytest.mark.parametrize("name", ["spot.ply", "bunny_small.ply", "fox.ply"])
def test_levels_do_not_change_under_a_rigid_motion(shared_meshes, name):
    shape = meshlearn.load(shared_meshes / "clean" / name)
    rng = np.random.default_rng(7)
    moved = shape.with_(verts=shape.verts @ random_rotation(rng).T + rng.normal(size=3))
    a, b = _pool_data(shape), _pool_data(moved)
    for f in ("n_verts", "n_edges", "index", "cluster", "edge_index"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    np.testing.assert_allclose(a.weight, b.weight, atol=1e-12)
    for f in ("pool_transport", "angle", "transport"):
        assert np.abs(wrap_angle(getattr(a, f) - getattr(b, f))).max() < 1e-10, f


def test_every_component_gets_a_coarse_vertex():
    a, b = icosphere(2), icosphere(0)  # 162 + 12 vertices; the small one far away
    s = Shape(np.vstack([a.verts, b.verts * 0.1 + 5.0]), np.vstack([a.faces, b.faces + a.n_verts]))
    pd = _pool_data(s, levels=1, ratio=0.02)
    index, cluster, *_ = pd.level(1)
    assert (index >= a.n_verts).any() and (index < a.n_verts).any()
    assert (cluster >= 0).all()


def test_point_cloud_levels():
    from meshlearn.testing import sphere_points

    cloud = sphere_points(600, seed=4)
    pd = _pool_data(cloud, levels=2)
    _, cluster, _, w, _ = pd.level(1)
    np.testing.assert_allclose(w, 1.0 / np.bincount(cluster)[cluster])  # equal weights on clouds
    assert list(pd.n_verts) == [600, 150, 38]


def test_farthest_point_sampling_spreads_and_breaks_ties_by_index():
    pts = np.array([[0.0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 2, 0], [0, -2, 0]])
    np.testing.assert_array_equal(farthest_point_sampling(pts, 3), [0, 3, 4])
    np.testing.assert_array_equal(farthest_point_sampling(pts, 5), [0, 3, 4, 1, 2])


def test_operators_and_cache_round_trip(tmp_path, sphere):
    spec = meshlearn.OperatorSpec(operators="gauge_pool", pool_levels=1, pool_ratio=0.5)
    assert spec.operators >= {"gauge", "frames", "gauge_pool"}
    a = meshlearn.compute_operators(sphere, spec, cache=tmp_path)
    b = meshlearn.compute_operators(sphere, spec, cache=tmp_path)  # read back
    assert isinstance(b.pool, GaugePoolData) and list(b.pool.n_verts) == [642, 321]
    np.testing.assert_array_equal(a.pool.cluster, b.pool.cluster)
    assert b.pool.weight.dtype == np.float32
    t = b.to("cpu", torch.float64).pool
    assert t.n_verts == (642, 321) and t.cluster.dtype == torch.int64 and t.angle.dtype == torch.float64
    assert "pool_levels" not in meshlearn.OperatorSpec().to_dict()
    assert spec.key() != meshlearn.OperatorSpec(operators="gauge_pool").key()


def test_bad_parameters():
    with pytest.raises(ConfigError, match="pool_levels"):
        meshlearn.OperatorSpec(operators="gauge_pool", pool_levels=0)
    with pytest.raises(ConfigError, match="pool_ratio"):
        meshlearn.OperatorSpec(operators="gauge_pool", pool_ratio=1.0)
    s = icosphere(1)
    with pytest.raises(ConfigError, match="pool_ratio"):
        _pool_data(s, ratio=0.0)
    t = FeatureType.scalar(2)
    with pytest.raises(ConfigError, match="rows"):
        transport_pool(torch.zeros(5, 2), torch.zeros(4, dtype=torch.long), torch.zeros(4), torch.ones(4), 1, t)
    with pytest.raises(ConfigError, match="features of shape"):
        transport_unpool(torch.zeros(5, 3), torch.zeros(4, dtype=torch.long), torch.zeros(4), t)
