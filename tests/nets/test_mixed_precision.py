"""Every net under autocast: `meshlearn train --amp` runs the matrix products in float16 on CUDA
while operators and other inputs stay float32; bfloat16 autocast on the CPU mixes types the
same way, so the mixture is tested here on any machine."""

import numpy as np
import pytest
import torch

import meshlearn
from meshlearn.nets import ChebNet, DiffusionNet, GemCNN, PatchConvNet, SpectralFilterNet
from meshlearn.testing import bumpy_sphere


@pytest.fixture(scope="module")
def shape():
    return bumpy_sphere(3)


@pytest.mark.parametrize("cls", [DiffusionNet, ChebNet, PatchConvNet, SpectralFilterNet, GemCNN])
def test_forward_and_backward_under_autocast(shape, cls):
    ops = meshlearn.compute_operators(shape, meshlearn.OperatorSpec.for_net(cls, k=32)).to("cpu")
    torch.manual_seed(0)
    net = cls(3, 4)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        y = net(ops.verts, ops)
    assert y.shape == (shape.n_verts, 4) and torch.isfinite(y).all()
    y.float().square().mean().backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    net.eval()
    with torch.no_grad():
        full = net(ops.verts, ops)
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            low = net(ops.verts, ops)
    scale = float(full.abs().max())
    np.testing.assert_allclose(low.float().numpy(), full.numpy(), atol=0.05 * scale)
