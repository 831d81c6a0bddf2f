"""GemCNN: invariance under gauge changes and rigid motions, training, configuration."""

import math

import numpy as np
import pytest
import torch

import meshlearn
from meshlearn.errors import ConfigError
from meshlearn.gauge import rotate_frames
from meshlearn.gauge.testing import random_angles
from meshlearn.geometry.frames import tangent_frames
from meshlearn.geometry.operators import Operators
from meshlearn.geometry.transport import gauge_data
from meshlearn.nets.gem import GemCNN
from meshlearn.testing import bumpy_sphere, random_rigid_motion, random_rotation


def _ops(shape, frames=None, dtype=torch.float64):
    """Torch operators with gauge data for ``shape`` (frames: default tangent frames)."""
    frames = tangent_frames(shape) if frames is None else frames
    ops = Operators(verts=shape.verts, faces=shape.faces, frames=frames, gauge=gauge_data(shape, frames=frames))
    return ops.to("cpu", dtype)


@pytest.fixture(scope="module")
def sphere():
    return bumpy_sphere(2)


def _rel(a, b):
    return float((a - b).norm() / b.norm())


def test_output_shapes_and_batches(sphere):
    ops = _ops(sphere, dtype=torch.float32)
    net = GemCNN(3, 5, width=4, n_blocks=2, seed=0)
    assert net(ops.verts, ops).shape == (sphere.n_verts, 5)
    ys = net([ops.verts, ops.verts[:, :3] * 2], [ops, ops])
    assert [tuple(y.shape) for y in ys] == [(sphere.n_verts, 5)] * 2
    faces = GemCNN(3, 5, width=4, n_blocks=1, outputs="faces", seed=0)(ops.verts, ops)
    assert faces.shape == (sphere.n_faces, 5)
    assert GemCNN(3, 2, width=4, n_blocks=2, outputs="global", seed=0)(ops.verts, ops).shape == (2,)


def test_the_spec_for_the_net_computes_gauge_data(sphere):
    spec = meshlearn.OperatorSpec.for_net(GemCNN)
    assert "gauge" in spec.operators and GemCNN.requires == frozenset({"gauge"})
    ops = meshlearn.compute_operators(sphere, spec).to("cpu")
    assert GemCNN(3, 2, width=4, n_blocks=2, seed=0)(ops.verts, ops).shape == (sphere.n_verts, 2)


def test_gauge_change_on_the_sampling_grid_changes_nothing(sphere):
    # Frame rotations by multiples of 2 pi / N commute exactly with every layer.
    net = GemCNN(4, 3, width=8, n_blocks=3, n_samples=7, seed=1).double()
    frames = tangent_frames(sphere)
    k = torch.randint(0, 7, (sphere.n_verts,), generator=torch.Generator().manual_seed(2))
    g = k.double() * 2 * math.pi / 7
    x = torch.randn(sphere.n_verts, 4, dtype=torch.float64)
    with torch.no_grad():
        y = net(x, _ops(sphere, frames))
        y_moved = net(x, _ops(sphere, rotate_frames(frames, g).numpy()))
    torch.testing.assert_close(y_moved, y, atol=1e-9, rtol=0)


def test_random_gauge_change_changes_outputs_within_the_nonlinearity_error(sphere):
    # Off the sampling grid the regular nonlinearity is only approximately equivariant.
    # Measured relative change of the outputs (random init, random scalar inputs, 3 seeds):
    # N = 7: 1.4-1.6e-2; N = 15: 2.5-2.8e-3. Tolerances: 4e-2 and 8e-3.
    frames = tangent_frames(sphere)
    g = random_angles(sphere.n_verts, seed=3)
    x = torch.randn(sphere.n_verts, 4, dtype=torch.float64)
    before, after = _ops(sphere, frames), _ops(sphere, rotate_frames(frames, g).numpy())
    errors = {}
    for n_samples, tol in ((7, 4e-2), (15, 8e-3)):
        net = GemCNN(4, 5, width=16, n_blocks=3, n_samples=n_samples, seed=0).double()
        with torch.no_grad():
            errors[n_samples] = _rel(net(x, after), net(x, before))
        assert errors[n_samples] < tol
    assert errors[15] < errors[7]


def test_rigid_motion_with_intrinsic_inputs(sphere):
    # The net reads only the gauge data, and the frames follow the shape (their x axis points at
    # a reference neighbour), so frames recomputed from the moved shape are the moved frames and
    # the outputs agree to round-off.
    net = GemCNN(3, 4, width=8, n_blocks=3, seed=2).double()
    moved = random_rigid_motion(sphere, seed=5)
    R = torch.as_tensor(random_rotation(np.random.default_rng(5)))  # the rotation random_rigid_motion drew
    frames = tangent_frames(sphere)
    np.testing.assert_allclose(tangent_frames(moved), (torch.as_tensor(frames) @ R.T).numpy(), atol=1e-12)
    x = torch.randn(sphere.n_verts, 3, dtype=torch.float64)  # any per-vertex invariant input
    with torch.no_grad():
        y = net(x, _ops(sphere, frames))
        assert _rel(net(x, _ops(moved)), y) < 1e-12


def _ops_for(net, shape):
    spec = meshlearn.OperatorSpec.for_net(net, dtype="float64")
    return meshlearn.compute_operators(shape, spec).to("cpu", torch.float64)


@pytest.mark.parametrize(
    "name, options",
    [
        ("spot.ply", {}),
        ("bunny_small.ply", {}),
        ("fox.ply", {}),
        ("fox.ply", {"nonlinearity": "norm"}),
        ("bunny_small.ply", {"nonlinearity": "gated", "scales": 3}),
    ],
    ids=str,
)
def test_geometry_only_input_is_invariant_under_rigid_motion(shared_meshes, name, options):
    # x = 1 everywhere: the output depends on the geometry only, through the gauge data (and the
    # coarser levels), which a rigid motion leaves unchanged. Measured: at most 3e-15 relative
    # (max over vertices), against 2.9e-2 with frames taken from world axes.
    shape = meshlearn.load(shared_meshes / "clean" / name)
    moved = random_rigid_motion(shape, seed=11)
    net = GemCNN(1, 5, width=8, seed=0, **options).double()
    x = torch.ones(shape.n_verts, 1, dtype=torch.float64)
    with torch.no_grad():
        a, b = net(x, _ops_for(net, shape)), net(x, _ops_for(net, moved))
    err = float(((a - b).abs().max(1).values / a.abs().max(1).values.clamp_min(1e-30)).max())
    assert err < 1e-6


@pytest.mark.parametrize("nonlinearity", ["norm", "gated"])
def test_exact_nonlinearities_make_the_net_exactly_gauge_invariant(sphere, nonlinearity):
    # Any frame rotation, not only multiples of 2 pi / N: measured 1e-15 relative.
    net = GemCNN(4, 3, width=8, n_blocks=3, nonlinearity=nonlinearity, seed=1).double()
    frames = tangent_frames(sphere)
    g = random_angles(sphere.n_verts, seed=3)
    x = torch.randn(sphere.n_verts, 4, dtype=torch.float64)
    with torch.no_grad():
        y = net(x, _ops(sphere, frames))
        y_moved = net(x, _ops(sphere, rotate_frames(frames, g).numpy()))
    assert _rel(y_moved, y) < 1e-10


def test_multiscale_net_is_gauge_invariant_and_uses_the_levels(sphere):
    from meshlearn.geometry.pooling import gauge_pooling

    net = GemCNN(3, 4, width=8, scales=3, nonlinearity="norm", seed=0).double()
    assert net.requires == {"gauge", "gauge_pool"} and GemCNN.requires == {"gauge"}
    spec = meshlearn.OperatorSpec.for_net(net)
    assert "gauge_pool" in spec.operators and spec.pool_levels == 2
    frames = tangent_frames(sphere)
    g = random_angles(sphere.n_verts, seed=4)

    def ops(fr):
        o = _ops(sphere, fr)
        gd = gauge_data(sphere, frames=fr)
        o.pool = gauge_pooling(sphere, fr, gd, levels=2).to("cpu", torch.float64)
        return o

    x = torch.randn(sphere.n_verts, 3, dtype=torch.float64)
    with torch.no_grad():
        y = net(x, ops(frames))
        assert _rel(net(x, ops(rotate_frames(frames, g).numpy())), y) < 1e-10
        # the coarse levels matter: other clusters (a different ratio) give other outputs
        o = _ops(sphere, frames)
        o.pool = gauge_pooling(sphere, frames, gauge_data(sphere, frames=frames), levels=2, ratio=0.4).to("cpu", torch.float64)
        assert _rel(net(x, o), y) > 1e-3
    with pytest.raises(ConfigError, match="coarser levels"):
        net(x, _ops(sphere, frames))
    short = ops(frames)
    short.pool = gauge_pooling(sphere, frames, gauge_data(sphere, frames=frames), levels=1).to("cpu", torch.float64)
    with pytest.raises(ConfigError, match="pool_levels=2"):
        net(x, short)


def test_multiscale_net_trains_and_checkpoints(sphere):
    net = GemCNN(3, 4, width=4, scales=2, blocks_per_scale=1, hidden=0, seed=0)
    ops = _ops_for(net, sphere)
    ops = ops.to("cpu", torch.float32)
    x = ops.verts.float()
    y = net(x, ops)
    assert y.shape == (sphere.n_verts, 4)
    y.square().sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    b = GemCNN(3, 4, width=4, scales=2, blocks_per_scale=1, hidden=0, seed=0, checkpoint=True)
    torch.testing.assert_close(b(x, ops), y.detach())


def test_xyz_inputs_are_not_rotation_invariant(sphere):
    # Documented: xyz as scalar input is the user's choice to break rigid-motion invariance.
    net = GemCNN(3, 4, width=8, n_blocks=2, seed=2).double()
    moved = random_rigid_motion(sphere, seed=5)
    with torch.no_grad():
        a = net(torch.as_tensor(sphere.verts), _ops(sphere))
        b = net(torch.as_tensor(moved.verts), _ops(moved))
    assert _rel(b, a) > 1e-2


def test_overfits_a_tiny_labelled_set():
    # Two shapes, 4 classes per vertex (quadrants of the xy coordinates), xyz inputs.
    shapes = [bumpy_sphere(1, seed=0), bumpy_sphere(1, seed=1)]
    ops = [_ops(s, dtype=torch.float32) for s in shapes]
    xs = [o.verts.float() for o in ops]
    labels = [((x[:, 0] > 0).long() * 2 + (x[:, 1] > 0).long()) for x in xs]
    net = GemCNN(3, 4, width=16, n_blocks=2, hidden=64, seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for step in range(300):
        opt.zero_grad()
        loss = sum(torch.nn.functional.cross_entropy(y, t) for y, t in zip(net(xs, ops), labels))
        loss.backward()
        opt.step()
        with torch.no_grad():
            acc = min(float((y.argmax(1) == t).float().mean()) for y, t in zip(net(xs, ops), labels))
        if acc == 1.0:
            break
    assert acc == 1.0, f"training accuracy {acc:.3f} after {step + 1} steps"


def test_same_seed_same_model_and_checkpointing_gives_the_same_gradients(sphere):
    ops = _ops(sphere, dtype=torch.float32)
    a, b = GemCNN(3, 2, width=4, seed=7), GemCNN(3, 2, width=4, seed=7, checkpoint=True)
    x = ops.verts.float()
    torch.testing.assert_close(a(x, ops), b(x, ops))
    a(x, ops).square().sum().backward()
    b(x, ops).square().sum().backward()
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, msg=name)
    assert not torch.equal(GemCNN(3, 2, width=4, seed=8)(x, ops), a(x, ops))


def test_configuration_errors(sphere):
    with pytest.raises(ConfigError, match="width"):
        GemCNN(3, 2, width=0)
    with pytest.raises(ConfigError, match="n_samples"):
        GemCNN(3, 2, max_order=3, n_samples=5)
    with pytest.raises(ConfigError, match="outputs"):
        GemCNN(3, 2, outputs="edges")
    with pytest.raises(ConfigError, match="nonlinearity must be one of 'regular', 'norm', 'gated'"):
        GemCNN(3, 2, nonlinearity="relu")
    with pytest.raises(ConfigError, match="scales"):
        GemCNN(3, 2, scales=0)
    net = GemCNN(3, 2, width=4, n_blocks=1, seed=0)
    ops = _ops(sphere, dtype=torch.float32)
    with pytest.raises(ConfigError, match="3 input channels"):
        net(torch.zeros(sphere.n_verts, 2), ops)
    with pytest.raises(ConfigError, match="gauge"):
        net(ops.verts, Operators(verts=ops.verts))
    small = bumpy_sphere(1)
    mixed = Operators(verts=ops.verts, gauge=_ops(sphere).gauge)
    mixed.verts = torch.as_tensor(small.verts)  # operators of another shape than the features
    with pytest.raises(ConfigError, match="another shape"):
        net(mixed.verts.float(), mixed)


def test_runs_on_a_point_cloud():
    from meshlearn.testing import sphere_points

    cloud = sphere_points(300, seed=1)
    ops = meshlearn.compute_operators(cloud, meshlearn.OperatorSpec.for_net(GemCNN, knn=8)).to("cpu")
    y = GemCNN(3, 2, width=4, n_blocks=2, seed=0)(ops.verts, ops)
    assert y.shape == (300, 2) and bool(torch.isfinite(y).all())

