"""Metrics against hand-computed answers and analytic geodesics."""

from __future__ import annotations

import numpy as np
import pytest

from meshlearn.geometry.geodesics import GeodesicSolver
from meshlearn.testing import icosphere
from meshlearn.train.metrics import (
    SegmentationScores,
    face_labels_from_vertices,
    geodesic_errors,
    pck_curve,
    plot_pck,
)


def test_accuracy_and_iou_by_hand():
    s = SegmentationScores(3)
    true = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])
    assert s.add(pred, true, mass=np.array([1, 1, 1, 1, 1, 5.0])) == pytest.approx(4 / 6)
    out = s.summary()
    # class 0: TP 1, FP 1 (last vertex), FN 1 -> 1/3; class 1: TP 2, FP 1 -> 2/3; class 2: TP 1, FN 1 -> 1/2
    np.testing.assert_allclose(out["per_class_iou"], [1 / 3, 2 / 3, 1 / 2])
    assert out["mean_iou"] == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert out["accuracy_area_weighted"] == pytest.approx(4 / 10)


def test_face_accuracy_is_area_weighted():
    s = SegmentationScores(2)
    s.add(np.zeros(3), np.zeros(3), pred_faces=np.array([0, 1]), true_faces=np.array([0, 0]), face_area=np.array([3.0, 1.0]))
    assert s.summary()["face_accuracy_area_weighted"] == pytest.approx(0.75)


def test_face_majority_label():
    faces = np.array([[0, 1, 2], [2, 3, 4], [0, 3, 5]])
    labels = np.array([1, 1, 0, 2, 2, 7])
    np.testing.assert_array_equal(face_labels_from_vertices(faces, labels), [1, 2, 1])


def test_geodesic_error_of_antipodal_points_on_a_sphere():
    """d = pi r between antipodes; normalised by sqrt(4 pi r^2) it is sqrt(pi) / 2 for any r."""
    for r in (1.0, 3.0):
        s = icosphere(4, radius=r)
        top = int(np.argmax(s.verts[:, 2]))
        bottom = int(np.argmin(s.verts[:, 2]))
        D = GeodesicSolver(s).distances([top])
        err = geodesic_errors(D, np.array([bottom]), s.area())
        assert err[0] == pytest.approx(np.sqrt(np.pi) / 2, rel=0.03)
        assert geodesic_errors(D, np.array([top]), s.area())[0] == pytest.approx(0.0, abs=1e-6)


def test_pck_curve_counts_errors_at_or_below(tmp_path):
    t, f = pck_curve(np.array([0.0, 0.05, 0.1, 0.3]), thresholds=np.array([0.0, 0.05, 0.2, 0.5]))
    np.testing.assert_allclose(f, [0.25, 0.5, 0.75, 1.0])
    plot_pck({"a": (t, f)}, tmp_path / "pck.png")
    assert (tmp_path / "pck.png").read_bytes()[:4] == b"\x89PNG"


def test_refinement_repairs_a_few_wrong_matches():
    """Projecting a near-identity map on a smooth basis and back restores the identity."""
    import torch

    from meshlearn import OperatorSpec, compute_operators
    from meshlearn.testing import bumpy_sphere
    from meshlearn.train.evaluate import match_pair, refine_map

    s = bumpy_sphere(3, amplitude=0.2)
    ops = compute_operators(s, OperatorSpec(operators=frozenset({"spectral"}), k=40)).to("cpu", torch.float64)
    V = s.n_verts
    rng = np.random.default_rng(0)
    truth = torch.arange(V)
    T0 = truth.clone()
    wrong = torch.from_numpy(rng.choice(V, V // 20, replace=False))
    T0[wrong] = torch.from_numpy(rng.integers(0, V, wrong.numel()))
    T = refine_map(T0, ops, ops, k=40, iterations=2)
    assert (T == truth).float().mean() > 0.97 and (T[wrong] == wrong).float().mean() > 0.9
    # Restricted to candidates (the truth among four random vertices), the right one is chosen.
    cand = torch.from_numpy(rng.integers(0, V, (V, 5)))
    cand[torch.arange(V), torch.from_numpy(rng.integers(0, 5, V))] = truth
    T = refine_map(T0, ops, ops, k=40, candidates=cand)
    assert (T == truth).float().mean() > 0.97
    # Matching by template probabilities recovers the permutation that one-hot logits encode.
    perm = torch.from_numpy(rng.permutation(V))
    logits_b = torch.full((V, V), -5.0)
    logits_b[torch.arange(V), perm] = 5.0  # vertex y of B is template point perm[y]
    logits_a = logits_b[torch.argsort(perm)]  # vertex x of A is template point x
    np.testing.assert_array_equal(match_pair(logits_a, logits_b).numpy(), torch.argsort(perm).numpy())
