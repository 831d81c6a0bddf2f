"""Training deep functional maps with fit(): pairs, resume, learning, ground truth, invariance, errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from meshlearn.datasets import write_dataset
from meshlearn.errors import ConfigError, DatasetError
from meshlearn.geometry.operators import compute_operators
from meshlearn.shape import Shape
from meshlearn.train import TrainConfig, fit
from meshlearn.train.checkpoint import load_checkpoint
from meshlearn.train.fmap_model import build_fmap_model, load_fmap_run
from meshlearn.train.fmap_step import pair_error
from meshlearn.train.loader import make_dataset
from meshlearn.train.model import input_features, operator_spec
from meshlearn.train.pairs import PairSampler, epoch_pairs, validation_pairs


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("fmap_bodies")
    return write_dataset(root / "data", n=10, seed=3, n_vertices=400, test_fraction=0.3, progress=False)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fmap_cache"))


def _config(data, out, cache, **kw):
    base = dict(task="correspondence", data=str(data), out=str(out), cache=cache, epochs=2, k=30, fmap_k=20,
                width=16, n_blocks=2, fmap_dim=32, n_descriptors=32, threads=1, val_fraction=0.3, log="none")
    base.update(kw)
    return TrainConfig(**base)


def _strip(history):
    return [{k: v for k, v in h.items() if k != "time_s"} for h in history]


# ---------------------------------------------------------------------------------- pairs
def test_pairs_are_seeded_and_every_shape_comes_first_once():
    p = epoch_pairs(7, 7, seed=4, epoch=2)
    assert p.shape == (7, 2) and sorted(p[:, 0]) == list(range(7))
    assert np.all(p[:, 0] != p[:, 1]) and p.min() >= 0 and p.max() < 7
    np.testing.assert_array_equal(p, epoch_pairs(7, 7, seed=4, epoch=2))
    assert not np.array_equal(p, epoch_pairs(7, 7, seed=4, epoch=3))
    assert not np.array_equal(p, epoch_pairs(7, 7, seed=5, epoch=2))
    # more pairs than shapes: whole permutations end to end
    many = epoch_pairs(5, 12, seed=0, epoch=0)
    assert sorted(many[:5, 0]) == sorted(many[5:10, 0]) == list(range(5))
    assert sorted(np.bincount(many[:, 0], minlength=5)) == [2, 2, 2, 3, 3]
    # partners are uniform over the other shapes: every one is drawn over many epochs
    partners = np.concatenate([epoch_pairs(4, 4, 0, e) for e in range(30)])
    for a in range(4):
        assert set(partners[partners[:, 0] == a, 1]) == set(range(4)) - {a}


def test_ranks_split_the_epoch_pairs():
    one = PairSampler(7, 7, seed=1)
    one.set_epoch(3)
    ranks = [PairSampler(7, 7, seed=1, rank=r, world=2) for r in range(2)]
    for s in ranks:
        s.set_epoch(3)
    np.testing.assert_array_equal(np.concatenate([ranks[0].pairs()[:3], ranks[1].pairs()[:3]])[[0, 3, 1, 4, 2, 5]],
                                  one.pairs()[:6])
    assert len(ranks[0]) == len(ranks[1]) == 8  # 7 pairs padded to 8, 4 per rank, 2 shapes each
    assert list(one) == one.pairs().reshape(-1).tolist()
    np.testing.assert_array_equal(validation_pairs(3), [[0, 1], [1, 2], [2, 0]])
    assert validation_pairs(1).shape == (0, 2)


# ---------------------------------------------------------------------------------- fit
def test_unsupervised_run_is_reproducible_and_resumes_exactly(data, cache, tmp_path):
    full = fit(_config(data, tmp_path / "full", cache, epochs=2), progress=False)
    again = fit(_config(data, tmp_path / "again", cache, epochs=2), progress=False)
    assert _strip(full.history) == _strip(again.history)
    rec = full.history[0]
    for key in ("train_loss", "train_bijectivity", "train_orthogonality", "train_coupling", "val_loss",
                "val_coupling", "val_error", "val_error_soft"):
        assert np.isfinite(rec[key]), key
    assert rec["train_loss"] == pytest.approx(rec["train_bijectivity"] + rec["train_orthogonality"]
                                              + rec["train_coupling"])

    class Killed(Exception):
        pass

    def kill(epoch, record):
        if epoch == 1:
            raise Killed

    cfg = _config(data, tmp_path / "cut", cache, epochs=2)
    with pytest.raises(Killed):
        fit(cfg, progress=False, callback=kill)
    resumed = fit(cfg, resume=True, progress=False)
    assert _strip(resumed.history) == _strip(full.history)
    a, b = full.model.state_dict(), resumed.model.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=0.0, rtol=0.0)
    state = load_checkpoint(tmp_path / "full" / "best.pt")
    meta = state["meta"]
    assert meta["n_out"] == 32 and meta["fmap_k"] == 20 and meta["method"] == "fmap-unsupervised"
    assert meta["class_names"] == [] and meta["spec"]["k"] == 30 and meta["spec"]["n_wks"] == 32
    config, _, model = load_fmap_run(tmp_path / "full")
    assert config.method == "fmap-unsupervised" and model.k == 20


def _test_error(model, config, items) -> float:
    errs = []
    with torch.no_grad():
        n = len(items)
        for a, b in [(a, b) for a in range(n) for b in range(n) if a != b]:
            oa, ob = items[a].ops.to("cpu"), items[b].ops.to("cpu")
            maps = model.eval()(input_features(oa, config.inputs), oa, input_features(ob, config.inputs), ob, soft=False)
            errs.append(pair_error(maps.C_ab[0], oa, ob, items[a].targets["vts"], items[b].targets["vts"]))
    return float(np.mean(errs))


def test_unsupervised_training_improves_maps_of_unseen_test_pairs(tmp_path):
    """60 steps on 7 bodies of ~600 vertices, no ground truth: the maps between the 3 test bodies
    (all 6 ordered pairs) get closer to the truth than those of the untrained model."""
    data = write_dataset(tmp_path / "data", n=12, seed=3, n_vertices=600, test_fraction=0.25, progress=False)
    cfg = _config(data, tmp_path / "learn", str(tmp_path / "cache"), epochs=4, steps_per_epoch=15, lr=3e-3,
                  width=32, fmap_dim=64, val_fraction=0.2)
    fit(cfg, progress=False)
    test = make_dataset(cfg, "test").items
    _, meta, trained = load_fmap_run(tmp_path / "learn", "last")
    untrained = build_fmap_model(cfg, meta["n_in"])
    before, after = _test_error(untrained, cfg, test), _test_error(trained, cfg, test)
    assert after < 0.9 * before, (before, after)


def test_supervised_run_trains_on_the_ground_truth(data, cache, tmp_path):
    res = fit(_config(data, tmp_path / "sup", cache, method="fmap-supervised"), progress=False)
    assert res.history[-1]["train_fmap_supervised"] > 0 and "val_error" in res.history[-1]


def test_supervised_run_names_a_shape_without_ground_truth(data, cache, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(data, root)
    (root / "train" / "corres" / "body_001.vts").unlink()
    with pytest.raises(DatasetError, match=r"body_001\.ply: no ground-truth correspondences.*body_001\.vts"):
        fit(_config(root, tmp_path / "run", cache, method="fmap-supervised"), progress=False)


def test_a_folder_without_ground_truth_trains_unsupervised(data, cache, tmp_path):
    root = tmp_path / "classes"
    for split in ("train", "test"):
        for mesh in sorted((data / split / "meshes").glob("*.ply")):
            (root / split / "body").mkdir(parents=True, exist_ok=True)
            shutil.copy(mesh, root / split / "body" / mesh.name)
    res = fit(_config(root, tmp_path / "run", cache), progress=False)
    last = res.history[-1]
    assert "val_error" not in last and np.isfinite(last["val_loss"])
    lines = [json.loads(s) for s in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert _strip(lines) == _strip(res.history)
    assert load_checkpoint(tmp_path / "run" / "best.pt")["best"] == pytest.approx(
        max(-h["val_loss"] for h in res.history))


def test_rigid_motion_leaves_the_maps_unchanged(data, cache, tmp_path):
    cfg = _config(data, tmp_path / "rigid", cache, epochs=1)
    fit(cfg, progress=False)
    _, _, model = load_fmap_run(tmp_path / "rigid")
    spec = operator_spec(cfg)
    test = make_dataset(cfg, "test").items
    Q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))

    def match(shapes):
        ops = [compute_operators(s, spec).to("cpu") for s in shapes]
        x = [input_features(o, cfg.inputs) for o in ops]
        with torch.no_grad():
            maps = model(x[0], ops[0], x[1], ops[1], soft=False)
        from meshlearn.correspondence import fmap_to_pointwise

        return fmap_to_pointwise(maps.C_ab[0], ops[0].evecs[:, :cfg.fmap_k], ops[1].evecs[:, :cfg.fmap_k])

    shapes = [it.shape for it in test[:2]]
    moved = [Shape(s.verts @ Q.T + np.array([0.3, -1.0, 2.0]), s.faces) for s in shapes]
    T, T_moved = match(shapes), match(moved)
    assert (T == T_moved).float().mean() > 0.99


def test_too_few_eigenpairs_names_the_shape(data, cache, tmp_path):
    with pytest.raises(DatasetError, match=r"body_00\d\.ply: \d+ vertices, fewer than the --fmap-k 5000"):
        fit(_config(data, tmp_path / "few", cache, fmap_k=5000, k=16), progress=False)


def test_method_defaults_and_the_operator_spec():
    fm = TrainConfig(task="correspondence")
    assert fm.method == "fmap-unsupervised" and fm.inputs == "wks" and fm.lr_schedule == "cosine"
    assert fm.width == 128 and fm.fmap_dim == 256 and TrainConfig(task="correspondence", width=32).width == 32
    spec = operator_spec(fm)
    assert spec.k == max(fm.k, fm.fmap_k) and spec.n_wks == fm.n_descriptors == 128 and "wks" in spec.operators
    assert operator_spec(TrainConfig(task="correspondence", k=20, fmap_k=40)).k == 40
    template = TrainConfig(task="correspondence", method="template", inputs="xyz")
    assert template.lr_schedule == "step" and template.width == 64 and operator_spec(template).k == template.k
    seg = TrainConfig(task="segmentation", inputs="hks")
    assert seg.n_descriptors == 16 and seg.lr_schedule == "step" and operator_spec(seg).n_hks == 16
    with pytest.raises(ConfigError, match="lr_schedule must be one of step, cosine"):
        TrainConfig(lr_schedule="linear")


def test_the_run_file_holds_every_functional_map_setting(data, cache, tmp_path):
    from meshlearn.train.fmap_model import FMAP_DEFAULTS

    fit(_config(data, tmp_path / "run", cache, epochs=1, fmap_options={"tau": 0.1}), progress=False)
    saved = TrainConfig.from_file(tmp_path / "run" / "config.yaml")
    assert saved.fmap_options == {**FMAP_DEFAULTS, "tau": 0.1}
    _, _, model = load_fmap_run(tmp_path / "run")
    assert model.tau == 0.1 and model.solver.lam == FMAP_DEFAULTS["lam"]


def test_a_run_with_the_coupling_on_quadrature_points(data, cache, tmp_path):
    """``soft_points``: the coupling's soft maps on 100 farthest-point samples of each ~400-vertex
    body in training; the run repeats exactly, and validation sums over every vertex."""
    cfg = dict(epochs=1, fmap_options={"soft_points": 100})
    run = fit(_config(data, tmp_path / "run", cache, **cfg), progress=False)
    again = fit(_config(data, tmp_path / "again", cache, **cfg), progress=False)
    assert _strip(run.history) == _strip(again.history)
    rec = run.history[0]
    assert np.isfinite(rec["train_coupling"]) and np.isfinite(rec["val_error"])
    _, _, model = load_fmap_run(tmp_path / "run")
    assert model.soft_points == 100
    with pytest.raises(ConfigError, match="soft_points must be an integer"):
        fit(_config(data, tmp_path / "bad", cache, epochs=1, fmap_options={"soft_points": "many"}), progress=False)


@pytest.mark.slow
def test_two_gloo_processes_share_the_pairs_of_one(data, cache, tmp_path):
    """torchrun with 2 CPU processes and 2 pairs a step (one each) sees the pairs one process
    sees with 2 a step: the same losses, and weights equal up to float32 rounding."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    opts = dict(epochs=2, batch_size=2, dropout=0.0, steps_per_epoch=2)  # 4 pairs: no rank pads its share
    single = fit(_config(data, tmp_path / "one", cache, **opts), progress=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).parent / "meshlearn"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(port),
           str(exe), "train", "--task", "correspondence", "--data", str(data), "--out", str(tmp_path / "two"),
           "--cache", cache, "--epochs", "2", "--k", "30", "--fmap-k", "20", "--width", "16", "--blocks", "2",
           "--fmap-dim", "32", "--descriptors", "32", "--dropout", "0", "--batch-size", "2", "--val-fraction", "0.3",
           "--steps-per-epoch", "2", "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = [json.loads(s) for s in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    for a, b in zip(single.history, two):
        for key in ("train_loss", "train_coupling", "val_loss"):
            assert b[key] == pytest.approx(a[key], rel=1e-3), key
    theirs = load_checkpoint(tmp_path / "two" / "last.pt")["model"]
    for k, v in single.model.state_dict().items():
        torch.testing.assert_close(theirs[k], v, atol=1e-2, rtol=1e-2)
