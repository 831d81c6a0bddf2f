"""Training from a cache made by `meshlearn preprocess`, under a memory limit, and sharded reads
under DDP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from meshlearn.cli import app
from meshlearn.datasets import DEFAULT_NORMALIZE, MeshDataset, read_dataset, write_dataset
from meshlearn.preprocess import read_manifest
from meshlearn.train import TrainConfig, fit
from meshlearn.train.loader import check_cache_recipe
from meshlearn.train.model import operator_spec

runner = CliRunner()
SMALL = ["--k", "16", "--width", "8", "--blocks", "1", "--threads", "1", "--quiet"]


def _no_compute(*args, **kwargs):
    raise AssertionError("the cache made by `meshlearn preprocess` must answer every request")


def test_preprocess_then_train_and_eval_compute_nothing(tmp_path, monkeypatch):
    data, cache, run = tmp_path / "bodies", tmp_path / "cache", tmp_path / "run"
    r = runner.invoke(app, ["data", "synthetic", "--out", str(data), "--n", "5", "--vertices", "350", "--seed", "3", "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["preprocess", str(data), "--out", str(cache), "--for", "diffusionnet", "--k", "16",
                            "-j", "1", "-q"])
    assert r.exit_code == 0, r.output
    records = read_manifest(cache / "manifest.jsonl")
    assert records and all(rec["normalize"] == DEFAULT_NORMALIZE and rec["clean"] is False for rec in records)
    assert check_cache_recipe(cache, DEFAULT_NORMALIZE) is None
    assert "normalize=radius" in check_cache_recipe(cache, "area") and "--normalize area" in check_cache_recipe(cache, "area")

    monkeypatch.setattr("meshlearn.geometry.operators._compute", _no_compute)
    r = runner.invoke(app, ["train", "--task", "segmentation", "--data", str(data), "--cache", str(cache),
                            "--out", str(run), "--epochs", "1", *SMALL])
    assert r.exit_code == 0, (r.output, r.exception)
    r = runner.invoke(app, ["eval", str(run), "--json"])
    assert r.exit_code == 0, (r.output, r.exception)
    assert 0.0 <= json.loads(r.output.strip().splitlines()[-1])["accuracy"] <= 1.0
    splits = json.loads((run / "splits.json").read_text())
    parts = read_dataset(data)
    assert sorted(splits["train"] + splits["val"]) == sorted(rec.name for rec in parts["train"].records)
    assert splits["test"] == [rec.name for rec in parts["test"].records] and len(splits["val"]) == 0  # round(0.4)


def test_defaults_agree_between_preprocess_and_train():
    import inspect

    from meshlearn.cli.preprocess import preprocess_cmd
    from meshlearn.cli.train import train_cmd

    pre = inspect.signature(preprocess_cmd).parameters
    tr = inspect.signature(train_cmd).parameters
    assert pre["normalize"].default.default == tr["normalize"].default.default == DEFAULT_NORMALIZE
    assert TrainConfig().normalize == DEFAULT_NORMALIZE and pre["clean"].default.default is False


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("bodies")
    return write_dataset(root / "data", n=7, seed=5, n_vertices=350, test_fraction=0.3, progress=False)


def _config(data, out, cache, **kw):
    base = dict(task="segmentation", data=str(data), out=str(out), cache=str(cache), epochs=2, k=16, width=8,
                n_blocks=1, lr=5e-3, threads=1, val_fraction=0.25, loader_workers=0)
    base.update(kw)
    return TrainConfig(**base)


def test_training_from_a_cache_larger_than_the_memory_limit(data, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    ds = MeshDataset(read_dataset(data)["train"], operator_spec(_config(data, tmp_path, cache)), cache=cache)
    sizes = [it.nbytes() for it in ds]
    limit = int(1.5 * max(sizes))
    assert sum(sizes) > 2 * limit and len(sizes) == 5  # the cache is larger than the limit

    seen = []
    original = MeshDataset.__getitem__

    def spy(self, index):
        item = original(self, index)
        seen.append((self.max_resident_bytes, self.resident_bytes, len(self._resident)))
        return item

    monkeypatch.setattr(MeshDataset, "__getitem__", spy)
    res = fit(_config(data, tmp_path / "run", cache, max_resident_mb=limit / 2**20, epochs=3), progress=False)
    assert len(res.history) == 3 and np.isfinite(res.history[-1]["val_loss"])
    assert len(seen) >= 3 * 5  # every epoch read every training and validation shape
    assert all(cap == int(limit / 2**20 * 2**20) and held <= cap and n <= 1 for cap, held, n in seen)
    # the same run without any items held ends with the same weights: holding is only a cache
    again = fit(_config(data, tmp_path / "run0", cache, max_resident_mb=0, epochs=3), progress=False)
    for k, v in res.model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), again.model.state_dict()[k].numpy())


def test_loader_workers_give_the_same_run(data, tmp_path):
    cache = tmp_path / "cache"
    a = fit(_config(data, tmp_path / "a", cache, loader_workers=0), progress=False)
    b = fit(_config(data, tmp_path / "b", cache, loader_workers=2), progress=False)
    for k, v in a.model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), b.model.state_dict()[k].numpy())
    strip = lambda hs: [{k: v for k, v in h.items() if k != "time_s"} for h in hs]  # noqa: E731
    assert strip(a.history) == strip(b.history)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_each_ddp_rank_reads_only_its_shard(data, tmp_path):
    from torch.utils.data.distributed import DistributedSampler

    run, cache, epochs = tmp_path / "two", tmp_path / "cache", 2
    exe = Path(sys.executable).parent / "meshlearn"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port()),
           str(exe), "train", "--task", "segmentation", "--data", str(data), "--out", str(run), "--cache", str(cache),
           "--epochs", str(epochs), "--batch-size", "2", "--val-fraction", "0.25", "--loader-workers", "0",
           "--log-reads", *SMALL]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    splits = json.loads((run / "splits.json").read_text())
    train, val = splits["train"], splits["val"]
    assert len(train) == 4 and len(val) == 1
    for rank in (0, 1):
        expected = []
        for epoch in range(epochs):
            sampler = DistributedSampler(range(len(train)), num_replicas=2, rank=rank, shuffle=True, seed=0)
            sampler.set_epoch(epoch)
            expected += [train[i] for i in sampler] + val[rank::2]
        read = [line.split()[1] for line in (run / "reads" / f"rank{rank}.txt").read_text().splitlines()]
        assert sorted(read) == sorted(expected), (rank, read, expected)


def test_steps_per_epoch_bounds_the_reads(data, tmp_path):
    run = tmp_path / "run"
    fit(_config(data, run, tmp_path / "cache", steps_per_epoch=1, batch_size=2, val_fraction=0.0, log_reads=True),
        progress=False)
    reads = (run / "reads" / "rank0.txt").read_text().splitlines()
    assert len(reads) == 2 * 2  # two epochs of one step of two shapes
