"""--log tensorboard: event files beside metrics.jsonl with every metric, the learning rate and
pictures of a validation shape's predictions; --log none writes none."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from meshlearn.datasets import write_dataset
from meshlearn.errors import MissingDependencyError
from meshlearn.train import TrainConfig, fit
from meshlearn.train.run_log import RunLog, TensorBoardLog, open_run_log, scalar_tag, tensorboard_available


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tb")
    return write_dataset(root / "data", n=5, seed=4, n_vertices=300, test_fraction=0.4, progress=False)


def _config(data, out, **kw):
    base = dict(data=str(data), out=str(out), cache=str(out.parent / "cache"), model="cheb", epochs=2, k=8, width=8,
                n_blocks=1, lr=1e-2, threads=1, val_fraction=0.34)
    return TrainConfig(**{**base, **kw})


def test_scalar_tags():
    assert [scalar_tag(k) for k in ("train_loss", "val_acc", "lr", "train_loss_ce")] == [
        "train/loss", "val/acc", "lr", "train/loss_ce"]


def test_event_files_hold_every_metric_and_a_picture(data, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    fit(_config(data, out, log="tensorboard", image_every=2), progress=False)
    events = sorted(out.glob("events.out.tfevents.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(out), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    records = [json.loads(s) for s in (out / "metrics.jsonl").read_text().splitlines()]
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/acc", "val/loss", "val/acc", "lr", "time_s"} <= tags
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
        logged = acc.Scalars(scalar_tag(key))
        assert [e.step for e in logged] == [1, 2]
        np.testing.assert_allclose([e.value for e in logged], [r[key] for r in records], rtol=1e-6)
    images = acc.Tags()["images"]
    assert images == ["predictions/body_002"]  # the held-out validation shape
    (picture,) = acc.Images(images[0])  # epoch 2 only (every 2 epochs)
    assert picture.step == 2 and picture.width == 640 and picture.height == 320
    assert picture.encoded_image_string[:4] == b"\x89PNG"


def test_resumed_run_continues_the_same_event_log(data, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    fit(_config(data, out, log="tensorboard", image_every=0, epochs=1), progress=False)
    fit(_config(data, out, log="tensorboard", image_every=0, epochs=3), resume=True, progress=False)
    acc = EventAccumulator(str(out))
    acc.Reload()
    assert [e.step for e in acc.Scalars("train/loss")] == [1, 2, 3]
    assert acc.Tags()["images"] == []


def test_log_none_and_auto(data, tmp_path, monkeypatch):
    out = tmp_path / "none"
    fit(_config(data, out, log="none"), progress=False)
    assert not list(out.glob("events.out.tfevents.*")) and (out / "metrics.jsonl").exists()
    cfg = _config(data, tmp_path / "x", log="auto")
    expected = TensorBoardLog if tensorboard_available() else RunLog
    log = open_run_log(cfg, tmp_path / "x")
    assert type(log) is expected
    log.close()
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if the tb extra were missing
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    assert not tensorboard_available()
    assert type(open_run_log(cfg, tmp_path / "x")) is RunLog
    with pytest.raises(MissingDependencyError, match=r'meshlearn\[tb\]'):
        open_run_log(cfg.replace(log="tensorboard"), tmp_path / "x")
