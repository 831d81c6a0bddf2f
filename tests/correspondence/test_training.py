"""Unsupervised deep functional maps learn: a few dozen training steps on a few synthetic bodies
lower the geodesic error of pairs of bodies never seen in training.

Bodies from :func:`meshlearn.datasets.generate_shapes` (about 1000 vertices, each remeshed on its
own, posed, noised): the truth between two bodies comes from their template correspondences
(``vts``: the vertex of each body nearest to template vertex t). A small DiffusionNet on centred
xyz (the bodies stand upright facing +z) is trained with the unsupervised losses alone
(bijectivity, orthogonality, coupling), then the two held-out pairs are matched and scored by the
mean geodesic distance (heat method) between predicted and true vertices, normalised by
sqrt(area), over every fourth template vertex.
"""

from __future__ import annotations

import numpy as np
import torch

import meshlearn
from meshlearn.correspondence import DeepFunctionalMap, FunctionalMapSolver, adapt_to_pair, match_pair, unsupervised_loss
from meshlearn.datasets import generate_shapes
from meshlearn.geometry.geodesics import GeodesicSolver
from meshlearn.nets import DiffusionNet


def test_unsupervised_training_lowers_held_out_error():
    torch.manual_seed(0)
    bodies = list(generate_shapes(6, seed=0, n_vertices=1000, pose_amount=0.5))
    net = DiffusionNet(3, 64, width=32, n_blocks=2, dropout=0.0)
    spec = meshlearn.OperatorSpec.for_net(net, k=40)
    ops = [meshlearn.compute_operators(b.shape, spec).to("cpu", torch.float32) for b in bodies]
    x = [o.verts.float() - o.verts.float().mean(0) for o in ops]
    train, held_out = range(4), (4, 5)
    points = np.arange(0, len(bodies[0].vts), 4)  # template vertices scored
    solvers = {i: GeodesicSolver(bodies[i].shape, "heat") for i in held_out}
    dist = {i: np.stack([solvers[i].distance([int(v)]) for v in bodies[i].vts[points]]) for i in held_out}

    def error(model) -> float:
        errs = []
        for i, j in (held_out, held_out[::-1]):  # map B = j -> A = i
            T, _ = match_pair(model, x[i], ops[i], x[j], ops[j])
            pred = T[torch.from_numpy(bodies[j].vts[points])].numpy()
            errs.append(dist[i][np.arange(len(points)), pred].mean() / np.sqrt(bodies[i].shape.area()))
        return float(np.mean(errs))

    model = DeepFunctionalMap(net, k=20, solver=FunctionalMapSolver(lam=1e-3), tau=0.07)
    before = error(model)
    loss = unsupervised_loss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    pairs = [(i, j) for i in train for j in train if i != j]
    for _ in range(60):
        i, j = pairs[rng.integers(len(pairs))]
        opt.zero_grad()
        total, terms = loss(model(x[i], ops[i], x[j], ops[j]))
        assert set(terms) == {"bijectivity", "orthogonality", "coupling"}
        total.backward()
        opt.step()
    after = error(model)
    print(f"held-out geodesic error {before:.4f} -> {after:.4f}")
    assert after < 0.95 * before


def test_adaptation_and_matching_pipeline(bumpy_pair):
    """Test-time adaptation lowers the pair's unsupervised loss and leaves the model given alone;
    matching with ZoomOut returns a map of B into A and the grown functional map."""
    p = bumpy_pair
    a, b = p.a.to("cpu", torch.float32), p.b.to("cpu", torch.float32)
    torch.manual_seed(0)
    net = DiffusionNet(16, 32, width=16, n_blocks=1, dropout=0.0, with_gradient_features=False)
    model = DeepFunctionalMap(net, k=10)
    loss = unsupervised_loss()
    before_state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        start, _ = loss(model(a.wks, a, b.wks, b))
    tuned = adapt_to_pair(model, a.wks, a, b.wks, b, steps=15, lr=1e-2)
    with torch.no_grad():
        end, _ = loss(tuned(a.wks, a, b.wks, b))
    assert float(end) < 0.8 * float(start)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before_state.items())
    T, C = match_pair(model, a.wks, a, b.wks, b, k_final=30, zoomout_step=10, adapt_steps=2)
    assert T.shape == (b.n_verts,) and T.dtype == torch.int64 and int(T.max()) < a.n_verts
    assert C.shape == (30, 30)
    T_soft, C_soft = match_pair(model, a.wks, a, b.wks, b, source="soft")
    assert C_soft.shape == (10, 10) and T_soft.shape == (b.n_verts,)
