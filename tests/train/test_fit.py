"""fit / evaluate end to end on tiny synthetic data (CPU, seconds): determinism, resume, DDP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from meshlearn.datasets import write_dataset
from meshlearn.errors import ConfigError, DatasetError
from meshlearn.train import TrainConfig, fit
from meshlearn.train.checkpoint import load_checkpoint
from meshlearn.train.evaluate import evaluate


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("bodies")
    return write_dataset(root / "data", n=6, seed=1, n_vertices=350, test_fraction=0.34, progress=False)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("cache"))


def _config(data, out, cache, **kw):
    base = dict(data=str(data), out=str(out), cache=cache, epochs=2, k=16, width=16, n_blocks=2,
                dropout=0.1, lr=5e-3, threads=1, val_fraction=0.25)
    base.update(kw)
    return TrainConfig(**base)


def _weights(path):
    return load_checkpoint(path)["model"]


def _same_weights(a, b, atol=0.0):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=atol, rtol=0.0 if atol == 0 else 1e-4)


def test_segmentation_train_and_eval(data, cache, tmp_path):
    cfg = _config(data, tmp_path / "run", cache, task="segmentation", epochs=3)
    res = fit(cfg, progress=False)
    lines = [json.loads(s) for s in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3] and lines == res.history
    assert lines[-1]["train_loss"] < lines[0]["train_loss"]
    for name in ("last.pt", "best.pt", "config.yaml"):
        assert (tmp_path / "run" / name).exists()
    assert load_checkpoint(tmp_path / "run" / "last.pt")["config"] == cfg.to_dict()
    out = evaluate(tmp_path / "run")
    assert 0.0 <= out["accuracy"] <= 1.0 and 0.0 <= out["mean_iou"] <= 1.0
    assert 0.0 <= out["face_accuracy_area_weighted"] <= 1.0 and len(out["per_class_iou"]) == 12
    preds = sorted((tmp_path / "run" / "predictions").glob("*.npz"))
    assert [p.stem for p in preds] == ["body_004", "body_005"]
    with np.load(preds[0]) as z:
        assert z["pred"].shape == z["gt"].shape == (z["verts"].shape[0],)
        assert z["pred_faces"].shape == (z["faces"].shape[0],)
    assert json.loads((tmp_path / "run" / "eval_test.json").read_text())["accuracy"] == out["accuracy"]


def test_same_seed_same_model(data, cache, tmp_path):
    a = fit(_config(data, tmp_path / "a", cache, task="segmentation"), progress=False)
    b = fit(_config(data, tmp_path / "b", cache, task="segmentation"), progress=False)
    _same_weights(a.model.state_dict(), b.model.state_dict())
    assert a.history == [dict(h, time_s=a.history[i]["time_s"]) for i, h in enumerate(b.history)]


class _Killed(Exception):
    pass


def test_resume_matches_an_uninterrupted_run(data, cache, tmp_path):
    full = fit(_config(data, tmp_path / "full", cache, task="segmentation", epochs=4), progress=False)

    def kill_after_two(epoch, record):
        if epoch == 2:
            raise _Killed

    cfg = _config(data, tmp_path / "cut", cache, task="segmentation", epochs=4)
    with pytest.raises(_Killed):
        fit(cfg, progress=False, callback=kill_after_two)
    assert load_checkpoint(tmp_path / "cut" / "last.pt")["epoch"] == 2
    # A killed process may have appended a line for an epoch it never checkpointed.
    with (tmp_path / "cut" / "metrics.jsonl").open("a") as fh:
        fh.write(json.dumps({"epoch": 3, "train_loss": 9.9}) + "\n")
    resumed = fit(cfg, resume=True, progress=False)
    _same_weights(full.model.state_dict(), resumed.model.state_dict())
    strip = lambda hs: [{k: v for k, v in h.items() if k != "time_s"} for h in hs]  # noqa: E731
    assert strip(resumed.history) == strip(full.history)
    lines = [json.loads(s) for s in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3, 4]


def test_template_correspondence_train_and_eval(data, cache, tmp_path):
    fit(_config(data, tmp_path / "corr", cache, task="correspondence", method="template", inputs="xyz", epochs=2),
        progress=False)
    out = evaluate(tmp_path / "corr", n_points=50, k_refine=16)
    assert out["n_pairs"] == 2 and out["n_points"] == 50
    for key in ("mean_geodesic_error", "mean_geodesic_error_initial", "pck_0.05", "template_accuracy"):
        assert np.isfinite(out[key])
    assert out["mean_geodesic_error_x100"] == pytest.approx(100 * out["mean_geodesic_error"])
    flip = out["symmetric_flip"]  # the synthetic data ship .sym.vts: errors against the mirror too
    assert 0.0 <= flip["symmetry_confusions"] <= 1.0 - out["pck_0.05"] + 1e-12
    assert np.isfinite(flip["mean_geodesic_error"]) and 0.0 <= flip["pck_0.05"] <= 1.0
    f = np.asarray(out["pck_curve"]["fractions"])
    assert np.all(np.diff(f) >= 0) and f[-1] <= 1.0
    assert (tmp_path / "corr" / "pck_test.png").stat().st_size > 1000
    assert (tmp_path / "corr" / "template.ply").exists()
    with np.load(tmp_path / "corr" / "predictions" / "body_004.npz") as z:
        assert z["match"].shape == z["gt"].shape


def test_resume_without_checkpoint_and_bad_options(data, cache, tmp_path):
    with pytest.raises(ConfigError, match="no checkpoint"):
        fit(_config(data, tmp_path / "none", cache, task="segmentation"), resume=True, progress=False)
    with pytest.raises(ConfigError, match="task must be one of"):
        TrainConfig(task="classify")
    with pytest.raises(ConfigError, match="model must be one of"):
        TrainConfig(model="resnet")
    with pytest.raises(DatasetError, match="matches no known dataset layout"):
        fit(_config(tmp_path, tmp_path / "x", cache, task="segmentation"), progress=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_agree_with_one(data, cache, tmp_path):
    """torchrun with 2 CPU processes and a global batch of 2 ends with the single-process weights."""
    single = fit(_config(data, tmp_path / "one", cache, task="segmentation", batch_size=2, val_fraction=0.0,
                         dropout=0.0), progress=False)
    exe = Path(sys.executable).parent / "meshlearn"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port()),
           str(exe), "train", "--task", "segmentation", "--data", str(data), "--out", str(tmp_path / "two"),
           "--cache", cache, "--epochs", "2", "--k", "16", "--width", "16", "--blocks", "2", "--dropout", "0",
           "--lr", "5e-3", "--batch-size", "2", "--val-fraction", "0", "--quiet"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _same_weights(single.model.state_dict(), _weights(tmp_path / "two" / "last.pt"), atol=1e-5)


def test_eigen_coarse_reaches_the_operator_spec():
    from meshlearn.train.model import operator_spec

    for task in ("segmentation", "correspondence"):
        spec = operator_spec(TrainConfig(task=task, model="diffusionnet", k=32, fmap_k=16, eigen_coarse=20000))
        assert "spectral" in spec.operators and spec.k == 32 and spec.eigen_coarse == 20000
    # a functional-map run's eigenbasis holds the maps' eigenpairs too; the template method's does not need to
    assert operator_spec(TrainConfig(task="correspondence", k=32, fmap_k=60)).k == 60
    assert operator_spec(TrainConfig(task="correspondence", method="template", k=32, fmap_k=60)).k == 32
    assert operator_spec(TrainConfig(model="diffusionnet")).eigen_coarse == 0
    with pytest.raises(ConfigError, match="eigen_coarse"):
        TrainConfig(eigen_coarse=-1)
