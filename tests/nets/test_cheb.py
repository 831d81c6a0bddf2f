"""ChebNet: the Chebyshev recurrence equals the polynomial filter in the full eigenbasis, the Gershgorin
bound brackets lambda_max, shapes, batches, devices and invariance."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import torch

import meshlearn
from meshlearn.errors import ConfigError
from meshlearn.nets import ChebConv, ChebNet
from meshlearn.nets.cheb import gershgorin_lambda_max
from meshlearn.testing import bumpy_sphere, icosphere, random_rigid_motion, sphere_points

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

def _ops(shape, kinds=frozenset({"laplacian"}), k=16, dtype=torch.float32, device="cpu"):
    spec = meshlearn.OperatorSpec(operators=kinds, k=k, dtype="float64" if dtype == torch.float64 else "float32")
    return meshlearn.compute_operators(shape, spec).to(device, dtype)


@pytest.fixture(scope="module")
def small64():
    """icosphere(1) in float64 with its complete eigen-decomposition (42 eigenpairs)."""
    ops = _ops(icosphere(1), dtype=torch.float64)
    L = ops.L.to_dense().numpy()
    m = ops.mass.numpy()
    evals, evecs = sla.eigh(L, np.diag(m))
    return ops, evals, evecs


def test_gershgorin_bound_brackets_lambda_max(small64):
    ops, evals, _ = small64
    bound = gershgorin_lambda_max(ops.L, ops.mass)
    # Gershgorin: never below; the spike's Rayleigh quotient L_ii / m_i <= lambda_max: at most twice
    assert evals[-1] <= bound * (1 + 1e-12)
    assert bound <= 2 * evals[-1] * (1 + 1e-12)


def test_recurrence_is_the_chebyshev_filter_in_the_eigenbasis(small64):
    ops, evals, evecs = small64
    K = 5
    conv = ChebConv(1, 1, K=K, bias=False).double()
    theta = torch.tensor([0.7, -0.3, 0.5, 0.2, -0.4], dtype=torch.float64)
    with torch.no_grad():
        conv.linear.weight.copy_(theta[None, :])
    x = torch.randn(ops.n_verts, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    lam_max = gershgorin_lambda_max(ops.L, ops.mass)
    y = conv(x, ops, lambda_max=lam_max).detach().numpy()[:, 0]
    # p(s) = sum_k theta_k T_k(s) with T_k(cos a) = cos(k a), at s = 2 lambda / lambda_max - 1
    s = np.clip(2 * evals / lam_max - 1, -1, 1)
    p = sum(theta[k].item() * np.cos(k * np.arccos(s)) for k in range(K))
    coef = evecs.T @ (ops.mass.numpy() * x.numpy()[:, 0])
    expected = evecs @ (p * coef)
    assert np.allclose(y, expected, atol=1e-10)


def test_chebyshev_terms_stay_bounded(small64):
    # |T_k(s)| <= 1 on [-1, 1], so the M-norm of every term is at most that of x
    ops, _, _ = small64
    conv = ChebConv(1, 1, K=12).double()
    x = torch.randn(ops.n_verts, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    terms = conv.basis(x, ops)
    norms = (ops.mass[:, None] * terms**2).sum(0).sqrt()
    assert torch.all(norms <= norms[0] * (1 + 1e-9))


@pytest.mark.parametrize("outputs", ["vertices", "faces", "global"])
def test_forward_backward_shapes(outputs):
    ops = _ops(bumpy_sphere(2))
    net = ChebNet(3, 4, width=16, n_layers=3, K=4, outputs=outputs)
    y = net(ops.verts, ops)
    expected = {"vertices": (ops.n_verts, 4), "faces": (ops.faces.shape[0], 4), "global": (4,)}[outputs]
    assert y.shape == expected
    y.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


def test_point_cloud_and_mixed_batch():
    cloud, mesh = _ops(sphere_points(250)), _ops(bumpy_sphere(2))
    net = ChebNet(3, 2, width=16, n_layers=2, K=3)
    ys = net([cloud.verts, mesh.verts], [cloud, mesh])
    assert [y.shape for y in ys] == [(250, 2), (mesh.n_verts, 2)]
    assert all(torch.isfinite(y).all() for y in ys)
    sum(y.sum() for y in ys).backward()


def test_hks_input_is_invariant_to_rigid_motion():
    shape = bumpy_sphere(2, amplitude=0.15)
    kinds = meshlearn.OperatorSpec.for_net(ChebNet, inputs="hks").operators
    a, b = _ops(shape, kinds), _ops(random_rigid_motion(shape, seed=4), kinds)
    net = ChebNet(a.hks.shape[1], 3, width=16, n_layers=3).eval()
    with torch.no_grad():
        ya, yb = net(a.hks, a), net(b.hks, b)
    assert (ya - yb).abs().max() <= 1e-3 * ya.abs().max()


@pytest.mark.parametrize("device", DEVICES)
def test_moving_model_and_operators_to_a_device(device):
    shape = bumpy_sphere(2)
    net = ChebNet(3, 4, width=16, n_layers=3)
    ops = _ops(shape)
    with torch.no_grad():
        ref = net(ops.verts, ops)
        moved = _ops(shape, device=device)
        y = net.to(device)(moved.verts, moved)
    assert y.device.type == device
    assert torch.allclose(y.cpu(), ref, atol=1e-5)


def test_requires_and_bad_input():
    assert ChebNet.requires == {"laplacian"}
    assert meshlearn.OperatorSpec.for_net(ChebNet).operators == {"laplacian"}
    with pytest.raises(ConfigError, match="K must"):
        ChebConv(2, 2, K=0)
    with pytest.raises(ConfigError, match="outputs"):
        ChebNet(2, 2, outputs="nowhere")
    ops = _ops(icosphere(1))
    with pytest.raises(ConfigError, match="input channels"):
        ChebNet(4, 2, width=8, n_layers=1)(ops.verts, ops)
    with pytest.raises(ConfigError, match="mass"):
        gershgorin_lambda_max(ops.L, torch.zeros(ops.n_verts))
