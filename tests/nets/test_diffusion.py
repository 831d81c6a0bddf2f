"""DiffusionNet and its blocks: diffusion against the heat equation's exact solution on eigenvectors,
invariances (rigid motion, frame rotation, remeshing), devices, batches and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial import ConvexHull, cKDTree

import meshlearn
from meshlearn.errors import ConfigError
from meshlearn.nets import DiffusionNet
from meshlearn.nets.diffusion_block import Dropout, ImplicitDiffusion, LearnedTimeDiffusion, SpatialGradientFeatures
from meshlearn.shape import Shape
from meshlearn.testing import bumpy_sphere, icosphere, random_rigid_motion, sphere_points

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
FULL = frozenset({"spectral", "gradients", "hks"})

def _ops(shape, kinds=FULL, k=32, dtype=torch.float32, device="cpu"):
    spec = meshlearn.OperatorSpec(operators=kinds, k=k, dtype="float64" if dtype == torch.float64 else "float32")
    return meshlearn.compute_operators(shape, spec).to(device, dtype)


@pytest.fixture(scope="module")
def bumpy_ops():
    return _ops(bumpy_sphere(2, amplitude=0.15))


@pytest.fixture(scope="module")
def cloud_ops():
    return _ops(sphere_points(300))


# --- diffusion against the exact heat semigroup --------------------------------------------------


def test_spectral_diffusion_of_eigenvectors_is_exact():
    ops = _ops(icosphere(2), frozenset({"spectral"}), k=20, dtype=torch.float64)
    diff = LearnedTimeDiffusion(20, method="spectral").double()
    t = diff.times(ops.mass)  # (C,) absolute times, one per channel
    area = float(ops.mass.sum())
    assert torch.allclose(t, diff.log_time.exp() * area)
    out = diff(ops.evecs, ops)  # channel c carries eigenvector c
    expected = ops.evecs * torch.exp(-ops.evals * t)
    assert torch.allclose(out, expected, atol=1e-10)


def test_implicit_diffusion_is_one_backward_euler_step():
    # (M + tL)^-1 M phi = phi / (1 + t lambda) for an eigenpair L phi = lambda M phi
    ops = _ops(icosphere(2), frozenset({"spectral"}), k=12, dtype=torch.float64)
    diff = LearnedTimeDiffusion(12, method="implicit").double()
    t = diff.times(ops.mass)
    out = diff(ops.evecs, ops)
    expected = ops.evecs / (1 + t * ops.evals)
    assert torch.allclose(out, expected, atol=1e-8)


def test_implicit_diffusion_gradients_match_finite_differences():
    ops = _ops(icosphere(1), frozenset({"laplacian"}), dtype=torch.float64)
    x = torch.randn(ops.n_verts, 3, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.01, 0.1, 0.5], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, t: ImplicitDiffusion.apply(x, t, ops.L, ops.mass), (x, t))


def test_spectral_and_implicit_agree_on_smooth_signals():
    ops = _ops(icosphere(3), frozenset({"spectral"}), k=16, dtype=torch.float64)
    z = ops.verts[:, 2:3].clone()  # a first-order spherical harmonic: eigenvalue 2 on the unit sphere
    coef = ops.evecs.T @ (ops.mass[:, None] * z)
    x = ops.evecs @ coef  # its band-limited part
    spec = LearnedTimeDiffusion(1, "spectral", t_init=(1e-3, 1e-3)).double()
    impl = LearnedTimeDiffusion(1, "implicit", t_init=(1e-3, 1e-3)).double()
    with torch.no_grad():
        a, b = spec(x, ops), impl(x, ops)
        t = float(spec.times(ops.mass))
    lam = ops.evals[:, None]
    assert torch.allclose(a, ops.evecs @ (torch.exp(-lam * t) * coef), atol=1e-8)
    assert torch.allclose(b, ops.evecs @ (coef / (1 + lam * t)), atol=1e-8)
    # exp(-a) - 1 / (1 + a) <= a^2 / 2 for a = lambda t >= 0
    assert (a - b).abs().max() <= 0.5 * float((lam.max() * t) ** 2)
    # and the smooth answer: z * exp(-2 t), up to the 642-vertex sphere's discretisation (10%)
    assert torch.allclose(a, z * math.exp(-2 * t), atol=0.1 * 2 * t)


def test_gradient_features_do_not_depend_on_the_tangent_frame():
    gen = torch.Generator().manual_seed(1)
    layer = SpatialGradientFeatures(8).double()
    gx, gy = torch.randn(50, 8, generator=gen, dtype=torch.float64), torch.randn(50, 8, generator=gen, dtype=torch.float64)
    phi = torch.rand(50, 1, generator=gen, dtype=torch.float64) * 2 * math.pi  # rotate each vertex's frame
    rx, ry = torch.cos(phi) * gx - torch.sin(phi) * gy, torch.sin(phi) * gx + torch.cos(phi) * gy
    assert torch.allclose(layer(gx, gy), layer(rx, ry), atol=1e-12)


def test_gradient_features_are_the_real_part_of_a_complex_product():
    gen = torch.Generator().manual_seed(2)
    layer = SpatialGradientFeatures(6).double()
    gx, gy = torch.randn(20, 6, generator=gen, dtype=torch.float64), torch.randn(20, 6, generator=gen, dtype=torch.float64)
    v = torch.complex(gx, gy)
    A = torch.complex(layer.A_re.weight, layer.A_im.weight)
    expected = torch.tanh((v.conj() * (v @ A.T)).real)
    assert torch.allclose(layer(gx, gy), expected, atol=1e-12)


def test_dropout_keeps_the_mean_and_is_off_in_eval():
    drop = Dropout(0.5)
    x = torch.ones(200_000, 1)
    y = drop.train()(x)
    assert abs(float((y == 0).double().mean()) - 0.5) < 0.01  # binomial sd ~0.001
    assert abs(float(y.mean()) - 1.0) < 0.01
    assert torch.equal(drop.eval()(x), x)


# --- the net --------------------------------------------------------------------------------------


@pytest.mark.parametrize("outputs,rows", [("vertices", "V"), ("faces", "F"), ("global", None)])
def test_forward_backward_shapes_on_a_mesh(bumpy_ops, outputs, rows):
    net = DiffusionNet(3, 5, width=16, n_blocks=2, outputs=outputs)
    y = net(bumpy_ops.verts, bumpy_ops)
    n = {"V": bumpy_ops.n_verts, "F": bumpy_ops.faces.shape[0], None: None}[rows]
    assert y.shape == ((n, 5) if n else (5,))
    y.square().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    assert net.blocks[0].diffusion.log_time.grad.abs().sum() > 0  # diffusion times learn


def test_point_cloud(cloud_ops):
    net = DiffusionNet(3, 4, width=16, n_blocks=2)
    y = net(cloud_ops.verts, cloud_ops)
    assert y.shape == (300, 4) and torch.isfinite(y).all()
    y.sum().backward()
    with pytest.raises(ConfigError, match="point cloud"):
        DiffusionNet(3, 4, width=8, n_blocks=1, outputs="faces")(cloud_ops.verts, cloud_ops)


def test_implicit_mode_forward_backward(bumpy_ops):
    net = DiffusionNet(3, 2, width=8, n_blocks=1, diffusion="implicit")
    assert net.requires == {"laplacian", "gradients"}
    y = net(bumpy_ops.verts, bumpy_ops)
    y.sum().backward()
    assert torch.isfinite(net.blocks[0].diffusion.log_time.grad).all()


def test_requires_follows_the_configuration():
    assert DiffusionNet.requires == {"spectral", "gradients"}
    assert DiffusionNet(3, 2, with_gradient_features=False).requires == {"spectral"}
    spec = meshlearn.OperatorSpec.for_net(DiffusionNet(3, 2, diffusion="implicit"))
    assert {"laplacian", "gradients"} <= spec.operators and "spectral" not in spec.operators


def test_batch_of_meshes_of_different_sizes(bumpy_ops, cloud_ops):
    small = _ops(icosphere(1))
    net = DiffusionNet(3, 3, width=16, n_blocks=2)
    ys = net([bumpy_ops.verts, small.verts, cloud_ops.verts], [bumpy_ops, small, cloud_ops])
    assert [y.shape[0] for y in ys] == [bumpy_ops.n_verts, 42, 300]
    assert all(torch.isfinite(y).all() for y in ys)
    sum(y.sum() for y in ys).backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


def test_hks_input_is_invariant_to_rigid_motion():
    shape = bumpy_sphere(2, amplitude=0.15)
    a, b = _ops(shape), _ops(random_rigid_motion(shape, seed=3))
    net = DiffusionNet(a.hks.shape[1], 4, width=16, n_blocks=2).eval()
    with torch.no_grad():
        ya, yb = net(a.hks, a), net(b.hks, b)
    assert (ya - yb).abs().max() <= 1e-3 * ya.abs().max()


@pytest.mark.parametrize("device", DEVICES)
def test_moving_model_and_operators_to_a_device(bumpy_ops, device):
    torch.manual_seed(0)
    net = DiffusionNet(3, 4, width=16, n_blocks=2).eval()
    shape = bumpy_sphere(2, amplitude=0.15)
    with torch.no_grad():
        ref = net(bumpy_ops.verts, bumpy_ops)
        ops = _ops(shape, device=device)
        y = net.to(device)(ops.verts, ops)
        ops64 = _ops(shape, dtype=torch.float64, device=device)
        y64 = net.to(device, torch.float64)(ops64.verts, ops64)
    assert y.device.type == device
    assert torch.allclose(y.cpu(), ref, atol=1e-5)
    assert torch.allclose(y64.cpu().float(), ref, atol=1e-4)
    built = DiffusionNet(3, 4, width=8, n_blocks=1, device=device)
    assert all(p.device.type == device for p in built.parameters())


def _bumpy_radius(v: np.ndarray, amplitude: float = 0.15, seed: int = 0) -> np.ndarray:
    """The radial displacement of meshlearn.testing.bumpy_sphere, evaluated at unit directions v."""
    rng = np.random.default_rng(seed)
    dirs = rng.normal(size=(6, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    return 1.0 + amplitude * np.sin(3.0 * v @ dirs.T + rng.uniform(0, 2 * np.pi, 6)).mean(1)


def test_outputs_survive_remeshing():
    """Same surface, two unrelated triangulations (icosphere vs convex hull of a Fibonacci lattice):
    per-channel Pearson correlation of the outputs, compared at nearest vertices, is at least 0.97
    (measured: 0.998)."""
    a = bumpy_sphere(3, amplitude=0.15)
    ico_dirs = a.verts / np.linalg.norm(a.verts, axis=1, keepdims=True)
    assert np.allclose(a.verts, ico_dirs * _bumpy_radius(ico_dirs)[:, None])
    pts = sphere_points(900, seed=5).verts
    hull = ConvexHull(pts)
    faces = hull.simplices.copy()
    flip = np.einsum("ij,ij->i", np.cross(pts[faces[:, 1]] - pts[faces[:, 0]], pts[faces[:, 2]] - pts[faces[:, 0]]), pts[faces[:, 0]]) < 0
    faces[flip] = faces[flip][:, ::-1]
    b = Shape(pts * _bumpy_radius(pts)[:, None], faces, source="fibonacci bumpy sphere")
    oa, ob = _ops(a, k=64), _ops(b, k=64)
    torch.manual_seed(0)
    net = DiffusionNet(3, 6, width=32, n_blocks=3).eval()
    with torch.no_grad():
        ya, yb = net(oa.verts, oa).numpy(), net(ob.verts, ob).numpy()
    nearest = cKDTree(a.verts).query(b.verts)[1]
    corr = [np.corrcoef(ya[nearest, c], yb[:, c])[0, 1] for c in range(6)]
    assert min(corr) >= 0.97, corr


def test_bad_input_is_reported():
    with pytest.raises(ConfigError, match="outputs"):
        DiffusionNet(3, 2, outputs="edges")
    with pytest.raises(ConfigError, match="diffusion"):
        DiffusionNet(3, 2, diffusion="explicit")
    with pytest.raises(ConfigError, match="dropout"):
        DiffusionNet(3, 2, dropout=1.5)
    ops = _ops(icosphere(1), frozenset({"spectral"}), k=8)
    with pytest.raises(ConfigError, match="input channels"):
        DiffusionNet(5, 2, width=8, n_blocks=1, with_gradient_features=False)(ops.verts, ops)
    with pytest.raises(ConfigError, match="missing fields"):
        DiffusionNet(3, 2, width=8, n_blocks=1)(ops.verts, ops)


def test_real_mesh_and_scan_points(shared_meshes):
    from meshlearn.nets import ChebNet, PatchConvNet

    kinds = frozenset({"spectral", "gradients", "patches"})
    shapes = [meshlearn.load(shared_meshes / "clean" / "bunny_small.ply"),
              meshlearn.load(shared_meshes / "pointclouds" / "spot_points.ply")]
    opss = [_ops(s, kinds, k=32) for s in shapes]
    xs = [o.verts - o.verts.mean(0) for o in opss]
    for net in (DiffusionNet(3, 4, width=16, n_blocks=2), ChebNet(3, 4, width=16, n_layers=2), PatchConvNet(3, 4, width=8, n_layers=1)):
        ys = net(xs, opss)
        assert [y.shape for y in ys] == [(s.verts.shape[0], 4) for s in shapes]
        assert all(torch.isfinite(y).all() for y in ys)
        sum(y.sum() for y in ys).backward()
        assert all(torch.isfinite(p.grad).all() for p in net.parameters())
