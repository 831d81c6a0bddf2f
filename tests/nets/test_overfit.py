"""Every net fits a tiny labelled set: three bumpy spheres, three parts each cut by height
(z < -0.3, -0.3 <= z < 0.3, z >= 0.3), xyz inputs; 100% training accuracy (eval mode, dropout off)
within 300 Adam steps (measured: 40 to 120)."""

from __future__ import annotations

import pytest
import torch

import meshlearn
from meshlearn.nets import ChebNet, DiffusionNet, PatchConvNet, SpectralFilterNet
from meshlearn.testing import bumpy_sphere

NETS = {
    # dropout 0.5 (the default) fights exactly this kind of memorisation: it gets there too, in 370 steps
    "diffusion": lambda: DiffusionNet(3, 3, width=32, n_blocks=2, dropout=0.1),
    "cheb": lambda: ChebNet(3, 3, width=32, n_layers=3, K=4),
    "spectral_filter": lambda: SpectralFilterNet(3, 3, width=32, n_layers=2),
    "patch": lambda: PatchConvNet(3, 3, width=16, n_layers=2),
}


@pytest.fixture(scope="module")
def dataset():
    kinds = frozenset({"spectral", "gradients", "patches"})
    spec = meshlearn.OperatorSpec(operators=kinds, k=32, patch_radius=0.15, patch_max=16)
    data = []
    for seed in range(3):
        shape = bumpy_sphere(2, amplitude=0.2, seed=seed)
        ops = meshlearn.compute_operators(shape, spec).to("cpu")
        z = ops.verts[:, 2]
        labels = (z >= -0.3).long() + (z >= 0.3).long()
        data.append((ops.verts.clone(), ops, labels))
    return data


@pytest.mark.parametrize("name", sorted(NETS))
def test_net_overfits_a_tiny_labelled_set(dataset, name):
    torch.manual_seed(0)
    net = NETS[name]()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    xs, opss, ys = zip(*dataset)
    accuracy = 0.0
    for step in range(300):
        net.train()
        logits = net(list(xs), list(opss))
        loss = sum(torch.nn.functional.cross_entropy(lg, y) for lg, y in zip(logits, ys))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 9:
            net.eval()
            with torch.no_grad():
                preds = net(list(xs), list(opss))
            correct = sum(int((p.argmax(1) == y).sum()) for p, y in zip(preds, ys))
            accuracy = correct / sum(len(y) for y in ys)
            if accuracy == 1.0:
                break
    assert accuracy == 1.0, f"{name}: {accuracy:.3f} after {step + 1} steps"
