"""Checkpoints: weights-only loading, refusal of pickled objects, mismatches named, RNG states
restored, and which checkpoint `meshlearn eval` reads."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import meshlearn
from meshlearn.cli import app
from meshlearn.datasets import write_dataset
from meshlearn.errors import CheckpointError, ConfigError, MeshlearnError
from meshlearn.train import TrainConfig, fit
from meshlearn.train.checkpoint import (
    checkpoint_path,
    config_of,
    load_checkpoint,
    load_model_state,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from meshlearn.train.evaluate import evaluate, load_run


class Payload:
    """Unpickling this object would touch a file: the code a downloaded checkpoint could run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_checkpoint_holds_tensors_and_plain_values_only(tmp_path):
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters())
    net(torch.ones(4, 3)).sum().backward()
    opt.step()
    state = {"config": TrainConfig(net_options={"K": 3}).to_dict(), "meta": {"spec": {"k": 8}, "n": np.int64(4)},
             "model": net.state_dict(), "optimizer": opt.state_dict(), "rng": rng_state(), "array": np.arange(3)}
    save_checkpoint(tmp_path / "a.pt", state)
    back = load_checkpoint(tmp_path / "a.pt")
    assert back["meshlearn_version"] == meshlearn.__version__
    assert back["config"] == state["config"] and back["meta"]["n"] == 4 and type(back["meta"]["n"]) is int
    assert torch.equal(back["array"], torch.arange(3))
    torch.testing.assert_close(back["model"]["weight"], net.weight.detach(), rtol=0, atol=0)
    opt2 = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    opt2.load_state_dict(back["optimizer"])
    with pytest.raises(TypeError, match=r"state\['meta'\]\['obj'\] is a Payload"):
        save_checkpoint(tmp_path / "b.pt", {"model": {}, "config": {}, "meta": {"obj": Payload(tmp_path / "x")}})
    assert not (tmp_path / "b.pt").exists()


def test_pickled_object_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "downloaded.pt"
    torch.save({"model": {}, "config": {}, "extra": Payload(marker)}, path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: refused: the file holds pickled Python objects")
    assert "weights_only=False" in msg and "if you trust" in msg and "retrain" in msg
    assert not marker.exists()
    assert isinstance(e.value, MeshlearnError) and isinstance(e.value, ConfigError)
    # the same trick inside what looks like a config
    torch.save({"model": {}, "config": TrainConfig()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)


def test_missing_truncated_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint; train first"):
        load_checkpoint(tmp_path / "none.pt")
    save_checkpoint(tmp_path / "ok.pt", {"model": {"w": torch.ones(2)}, "config": {}})
    blob = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="not a readable meshlearn checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no model or config inside"):
        load_checkpoint(tmp_path / "other.pt")


def test_rng_state_round_trips_through_a_checkpoint(tmp_path):
    random.seed(5)
    np.random.seed(6)
    torch.manual_seed(7)
    np.random.standard_normal()  # leaves a cached Gaussian in numpy's legacy state
    save_checkpoint(tmp_path / "r.pt", {"model": {}, "config": {}, "rng": rng_state()})
    expected = (random.random(), np.random.standard_normal(3).tolist(), torch.rand(3))
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    set_rng_state(load_checkpoint(tmp_path / "r.pt")["rng"])
    got = (random.random(), np.random.standard_normal(3).tolist(), torch.rand(3))
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])


def test_mismatched_weights_and_options_are_named(tmp_path):
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    sd = net.state_dict()
    bad = {k: v for k, v in sd.items() if k != "1.bias"}
    bad["2.weight"] = torch.zeros(1)
    bad["0.weight"] = torch.zeros(5, 3)
    with pytest.raises(CheckpointError) as e:
        load_model_state(net, bad, tmp_path / "old.pt", "0.0.9")
    msg = str(e.value)
    assert str(tmp_path / "old.pt") in msg and "written by 0.0.9" in msg
    assert "missing: 1.bias" in msg and "unexpected: 2.weight" in msg and "0.weight (5, 3) vs (4, 3)" in msg
    load_model_state(net, sd, tmp_path / "ok.pt")
    with pytest.raises(CheckpointError, match=r"old\.pt: its training options do not fit meshlearn .* \(written by 0\.0\.9.*'colour'"):
        config_of({"config": {"colour": "red"}, "meshlearn_version": "0.0.9"}, tmp_path / "old.pt")
    assert config_of({"config": {"epochs": 3}}, tmp_path / "old.pt").epochs == 3  # options it lacks: defaults


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    data = write_dataset(root / "data", n=5, seed=2, n_vertices=300, test_fraction=0.4, progress=False)
    cfg = TrainConfig(data=str(data), out=str(root / "run"), model="cheb", epochs=3, k=8, width=8, n_blocks=1,
                      lr=1e-2, threads=1, val_fraction=0.34, log="none", net_options={"K": 2})
    fit(cfg, progress=False)
    return root / "run"


def test_fit_writes_weights_only_checkpoints(run):
    for name in ("last.pt", "best.pt"):
        # no class, function or other global beyond what weights-only loading allows
        assert torch.serialization.get_unsafe_globals_in_checkpoint(str(run / name)) == [], name
        state = torch.load(run / name, weights_only=True)
        assert state["config"]["net_options"] == {"K": 2} and state["meshlearn_version"] == meshlearn.__version__


def test_eval_defaults_to_best_then_last(run, tmp_path):
    assert checkpoint_path(run) == run / "best.pt"
    assert checkpoint_path(run, "last") == run / "last.pt"
    with pytest.raises(CheckpointError, match="best, last or a .pt file"):
        checkpoint_path(run, "newest")
    best = load_checkpoint(run / "best.pt")
    config, meta, net = load_run(run)
    assert config.net_options == {"K": 2}
    for k, v in net.state_dict().items():
        assert torch.equal(v, best["model"][k])
    assert evaluate(run)["checkpoint"] == "best.pt"
    r = CliRunner().invoke(app, ["eval", str(run), "--checkpoint", "last", "--json"])
    assert r.exit_code == 0, r.output
    assert '"checkpoint": "last.pt"' in r.output

    only_last = tmp_path / "only_last"
    only_last.mkdir()
    (only_last / "last.pt").write_bytes((run / "last.pt").read_bytes())
    assert checkpoint_path(only_last) == only_last / "last.pt"
    assert load_run(only_last)[0].epochs == 3


def test_checkpoint_whose_weights_no_longer_fit_gets_a_clear_error(run, tmp_path):
    state = load_checkpoint(run / "last.pt")
    state["model"] = {k.replace("convs.0", "layers.0"): v for k, v in state["model"].items()}
    state["meshlearn_version"] = "0.0.1"
    buf = io.BytesIO()
    torch.save(state, buf)
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "last.pt").write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError, match=r"last\.pt: the weights do not fit ChebNet .*0\.0\.1.*missing: convs\.0"):
        load_run(folder)


def test_a_checkpoint_of_the_old_format_is_refused_then_resaved_and_resumes(run, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(run, old, ignore=shutil.ignore_patterns("cache"))
    state = load_checkpoint(old / "last.pt")
    random.seed(1)
    np.random.seed(2)
    state["rng"] = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    state["config"] = dict(state["config"], out=str(old), epochs=4)
    torch.save(state, old / "last.pt")  # numpy arrays pickled as objects, as older versions wrote
    with pytest.raises(CheckpointError, match="older ones held numpy RNG states"):
        load_checkpoint(old / "last.pt")
    save_checkpoint(old / "last.pt", torch.load(old / "last.pt", weights_only=False))
    set_rng_state(load_checkpoint(old / "last.pt")["rng"])
    assert random.random() == random.Random(1).random()
    res = fit(config_of(state, old / "last.pt").replace(cache=str(run / "cache")), resume=True, progress=False)
    assert [h["epoch"] for h in res.history] == [1, 2, 3, 4]
