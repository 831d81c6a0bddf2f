"""Global readouts: the formulas, invariance to the vertex order, the area-weighted mean's
independence of the sampling, and every net's global outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import meshlearn
from meshlearn.errors import ConfigError
from meshlearn.nets import ChebNet, DiffusionNet, GemCNN, PatchConvNet, SpectralFilterNet
from meshlearn.nets.readout import GlobalReadout, global_max, global_mean, global_outputs, pool_outputs
from meshlearn.shape import Shape
from meshlearn.testing import bumpy_sphere, icosphere

NETS = [
    (DiffusionNet, dict(width=8, n_blocks=2)),
    (ChebNet, dict(width=8, n_layers=2)),
    (SpectralFilterNet, dict(width=8, n_layers=2)),
    (PatchConvNet, dict(width=8, n_layers=2)),
    (GemCNN, dict(width=4, n_blocks=2, hidden=8)),
]


def test_formulas():
    y = torch.tensor([[1.0, 5.0], [3.0, -1.0], [2.0, 0.0]])
    mass = torch.tensor([1.0, 2.0, 1.0])
    assert torch.allclose(global_mean(y, mass), torch.tensor([(1 + 6 + 2) / 4, (5 - 2) / 4]))
    assert torch.equal(global_max(y), torch.tensor([3.0, 5.0]))
    ops = type("Ops", (), {"mass": mass, "faces": None})()
    assert torch.equal(GlobalReadout("max")(y, ops), global_max(y))
    assert torch.allclose(GlobalReadout("mean")(y, ops), global_mean(y, mass))
    assert global_outputs("mean") == "global" and global_outputs("max") == "global_max"
    with pytest.raises(ConfigError, match="readout must be one of mean, max"):
        GlobalReadout("sum")
    with pytest.raises(ConfigError, match="outputs must be one of"):
        pool_outputs(y, ops, "pooled")


def _permuted(shape: Shape, perm: np.ndarray) -> Shape:
    """The same mesh with vertex i of the result being vertex perm[i] of ``shape``."""
    inverse = np.argsort(perm)
    return Shape(shape.verts[perm], inverse[shape.faces])


@pytest.mark.parametrize("net_cls,kw", NETS, ids=[c.__name__ for c, _ in NETS])
@pytest.mark.parametrize("outputs", ["global", "global_max"])
def test_every_net_reads_out_one_vector_invariant_to_the_vertex_order(net_cls, kw, outputs):
    shape = bumpy_sphere(2, amplitude=0.2, seed=1)
    perm = np.random.default_rng(3).permutation(shape.n_verts)
    spec = meshlearn.OperatorSpec.for_net(net_cls, k=24, inputs="hks", dtype="float64")
    a = meshlearn.compute_operators(shape, spec).to("cpu", torch.float64)
    b = meshlearn.compute_operators(_permuted(shape, perm), spec).to("cpu", torch.float64)
    torch.manual_seed(0)
    net = net_cls(a.hks.shape[1], 5, outputs=outputs, **kw).double().eval()
    torch.manual_seed(0)
    per_vertex = net_cls(a.hks.shape[1], 5, outputs="vertices", **kw).double().eval()
    with torch.no_grad():
        ya, yb = net(a.hks, a), net(b.hks, b)
        va = per_vertex(a.hks, a)
    assert ya.shape == (5,)
    # the readout of the same weights' per-vertex outputs
    assert torch.allclose(ya, pool_outputs(va, a, outputs), atol=1e-12)
    # same surface, vertices in another order: the same vector (up to the frames' and patches'
    # own dependence on the order, which the gauge-invariant nets keep small)
    tol = 1e-6 if net_cls in (DiffusionNet, ChebNet, SpectralFilterNet) else 0.05
    assert torch.allclose(ya, yb, atol=tol * float(ya.abs().max())), (ya, yb)


def test_area_weighted_mean_does_not_depend_on_the_sampling():
    """f(p) = z + x^2 on the unit sphere has mean 1/3 over the surface. On a sphere whose
    vertices crowd towards the north pole the plain vertex mean is far off; the area-weighted
    mean stays within the discretisation error on both meshings."""
    even = icosphere(4)
    v = even.verts + np.array([0.0, 0.0, 0.7])
    crowded = Shape(v / np.linalg.norm(v, axis=1, keepdims=True), even.faces)
    values = []
    for shape in (even, crowded):
        _, M = meshlearn.geometry.laplacian(shape, kind="cotan")
        f = torch.from_numpy(shape.verts[:, 2] + shape.verts[:, 0] ** 2)[:, None]
        mass = torch.from_numpy(M.diagonal())
        values.append((float(global_mean(f, mass)), float(global_mean(f, None))))
    (weighted_even, plain_even), (weighted_crowded, plain_crowded) = values
    assert abs(weighted_even - 1 / 3) < 5e-3 and abs(weighted_crowded - 1 / 3) < 1e-2
    assert abs(weighted_crowded - weighted_even) < 1e-2
    assert abs(plain_crowded - 1 / 3) > 0.2  # what the weighting corrects


def test_segmentation_head_still_refuses_global_outputs():
    from meshlearn.nets.heads import SegmentationHead

    with pytest.raises(ConfigError):
        SegmentationHead(4, 3, outputs="global")
