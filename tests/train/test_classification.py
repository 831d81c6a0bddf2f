"""Shape classification end to end (data -> train -> eval -> view) and the class lists of every
task: taken from all splits, and a label the model cannot predict is an error naming the file."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from meshlearn.cli import app
from meshlearn.datasets import write_dataset
from meshlearn.errors import ConfigError, DatasetError
from meshlearn.train import TrainConfig, fit
from meshlearn.train.classes import dataset_classes, segmentation_class_count
from meshlearn.train.config import parse_augment
from meshlearn.train.evaluate import evaluate
from meshlearn.train.metrics import ClassificationScores, SegmentationScores

runner = CliRunner()
TINY = ["--k", "12", "--width", "8", "--blocks", "1", "--threads", "1", "--log", "none", "--quiet"]


@pytest.fixture(scope="module")
def classes_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("classes")
    r = runner.invoke(app, ["data", "synthetic", "--task", "classification", "--out", str(root / "d"), "--n", "12",
                            "--classes", "3", "--vertices", "150", "--seed", "1", "-q"])
    assert r.exit_code == 0, r.output
    return root / "d"


@pytest.fixture(scope="module")
def trained(classes_data, tmp_path_factory):
    run = tmp_path_factory.mktemp("run") / "r"
    r = runner.invoke(app, ["train", "--task", "classification", "--data", str(classes_data), "--out", str(run),
                            "--epochs", "2", *TINY])
    assert r.exit_code == 0, r.output
    return run


def test_cli_train_eval_writes_accuracy_confusion_and_predictions(classes_data, trained):
    assert json.loads((trained / "classes.json").read_text()) == ["capsule", "double_torus", "torus"]
    assert len((trained / "metrics.jsonl").read_text().splitlines()) == 2
    r = runner.invoke(app, ["eval", str(trained), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    assert out["task"] == "classification" and out["n_shapes"] == 3
    assert 0.0 <= out["accuracy"] <= 1.0 and "mean_class_accuracy" in out
    confusion = np.array(out["confusion"])
    assert confusion.shape == (3, 3) and confusion.sum() == 3 and (confusion.sum(1) == 1).all()
    assert out["accuracy"] == pytest.approx(np.trace(confusion) / 3)
    assert out["class_names"] == ["capsule", "double_torus", "torus"]
    assert (trained / "confusion_test.png").read_bytes()[:4] == b"\x89PNG"
    rows = (trained / "predictions_test.csv").read_text().splitlines()
    assert rows[0] == "name,true,predicted,probability" and len(rows) == 4
    assert rows[1].startswith("capsule/capsule_003,capsule,")
    z = np.load(trained / "predictions" / "torus_003.npz")
    assert int(z["class_true"]) == 2 and list(z["class_names"]) == out["class_names"]
    assert z["probabilities"].shape == (3,) and abs(z["probabilities"].sum() - 1) < 1e-5
    r = runner.invoke(app, ["eval", str(trained)])
    assert r.exit_code == 0 and "accuracy double_torus" in r.output


def test_view_titles_the_predicted_class(classes_data, trained, tmp_path):
    pytest.importorskip("pyvista")
    mesh = classes_data / "test" / "torus" / "torus_003.ply"
    if not (trained / "predictions").is_dir():
        assert runner.invoke(app, ["eval", str(trained), "--quiet"]).exit_code == 0
    out = tmp_path / "view.vtp"
    r = runner.invoke(app, ["view", str(mesh), "--predictions", str(trained), "--export", str(out)])
    assert r.exit_code == 0, r.output
    assert "predicted" in r.output and "truth torus" in r.output and out.exists()


def test_eval_on_a_class_the_run_does_not_know_names_the_file(classes_data, trained, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(classes_data, other)
    for split in ("train", "test"):
        (other / split / "torus").rename(other / split / "ring")
    with pytest.raises(DatasetError, match=r"ring/torus_003\.ply: class 'ring' is not one of the 3 classes"):
        evaluate(trained, other)


def test_class_list_covers_every_split_and_the_dataset_list(classes_data, tmp_path):
    from meshlearn.datasets import read_dataset

    splits = read_dataset(classes_data)
    assert dataset_classes(splits, classes_data) == ("capsule", "double_torus", "torus")
    listed = tmp_path / "listed"
    shutil.copytree(classes_data, listed)
    (listed / "classes.txt").write_text("torus\ncapsule\ndouble_torus\nhelix\n")
    assert dataset_classes(read_dataset(listed), listed) == ("torus", "capsule", "double_torus", "helix")
    (listed / "classes.txt").write_text("torus\ncapsule\n")
    with pytest.raises(DatasetError, match=r"double_torus_000\.ply: its class folder 'double_torus' is not in"):
        dataset_classes(read_dataset(listed), listed)


def test_a_class_only_the_list_names_gets_an_output(classes_data, tmp_path):
    listed = tmp_path / "listed"
    shutil.copytree(classes_data, listed)
    (listed / "classes.txt").write_text("torus\ncapsule\ndouble_torus\nhelix\n")
    config = TrainConfig(task="classification", data=str(listed), out=str(tmp_path / "r"), epochs=1, k=12, width=8,
                         n_blocks=1, threads=1, log="none")
    result = fit(config, progress=False)
    assert json.loads((tmp_path / "r" / "classes.json").read_text()) == ["torus", "capsule", "double_torus", "helix"]
    assert result.model.last.out_features == 4


def test_classification_needs_class_folders(tmp_path):
    data = write_dataset(tmp_path / "bodies", n=3, seed=0, n_vertices=300, test_fraction=0.34, progress=False)
    config = TrainConfig(task="classification", data=str(data), out=str(tmp_path / "r"), epochs=1, k=8, width=4,
                         n_blocks=1, threads=1, log="none")
    with pytest.raises(DatasetError, match="classification needs class folders"):
        fit(config, progress=False)


def test_segmentation_classes_come_from_every_split(tmp_path):
    """A part that only a test shape shows still gets an output; evaluating on a dataset with a
    label beyond the run's classes names the label file instead of clipping it."""
    from meshlearn.datasets import read_dataset

    data = write_dataset(tmp_path / "bodies", n=3, seed=0, n_vertices=300, test_fraction=0.34, progress=False)
    (data / "parts.txt").unlink()
    n_parts = segmentation_class_count(read_dataset(data))
    test_label = next((data / "test" / "labels").iterdir())
    labels = np.loadtxt(test_label, dtype=np.int64)
    labels[:5] = n_parts + 2  # a part no training shape has
    np.savetxt(test_label, labels, fmt="%d")
    assert segmentation_class_count(read_dataset(data)) == n_parts + 3
    config = TrainConfig(task="segmentation", data=str(data), out=str(tmp_path / "r"), epochs=1, k=8, width=4,
                         n_blocks=1, threads=1, log="none", val_fraction=0.0)
    fit(config, progress=False)
    assert evaluate(tmp_path / "r")["n_shapes"] == 1  # the test part is one of the run's classes
    labels[:5] = n_parts + 3
    np.savetxt(test_label, labels, fmt="%d")
    with pytest.raises(DatasetError, match=rf"{test_label.name}: label {n_parts + 3} is outside the {n_parts + 3} classes"):
        evaluate(tmp_path / "r")


def test_scores_refuse_labels_out_of_range_instead_of_clipping():
    seg = SegmentationScores(3)
    seg.add(np.array([0, 1, 2]), np.array([0, 1, 1]))
    with pytest.raises(DatasetError, match="a.txt: label 3 is outside the 3 classes"):
        seg.add(np.array([0, 1]), np.array([0, 3]), source="a.txt")
    with pytest.raises(DatasetError, match="b.ply: class -1 is outside"):
        ClassificationScores(("a", "b")).add(0, -1, source="b.ply")


def test_classification_scores():
    s = ClassificationScores(("a", "b", "c"))
    for pred, true in [(0, 0), (0, 0), (1, 0), (1, 1), (2, 1)]:
        s.add(pred, true)
    out = s.summary()
    assert out["accuracy"] == pytest.approx(3 / 5)
    assert out["per_class_accuracy"] == [pytest.approx(2 / 3), 0.5, None]
    assert out["mean_class_accuracy"] == pytest.approx((2 / 3 + 0.5) / 2)
    assert out["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 0]]


def test_a_class_missing_from_test_keeps_its_index(classes_data, trained, tmp_path):
    """Class indices are the run's, not the split's: with test/capsule gone, double_torus and
    torus (the split's classes 0 and 1) are still scored as the run's classes 1 and 2."""
    other = tmp_path / "other"
    shutil.copytree(classes_data, other)
    shutil.rmtree(other / "test" / "capsule")
    out = evaluate(trained, other)
    assert out["class_names"] == ["capsule", "double_torus", "torus"] and out["n_shapes"] == 2
    assert np.array(out["confusion"]).sum(1).tolist() == [0, 1, 1]
    assert out["per_class_accuracy"][0] is None


def test_augment_options_and_task_defaults():
    assert parse_augment("so3,aniso") == ("so3", "aniso")
    with pytest.raises(ConfigError, match="two rotations"):
        TrainConfig(augment="y,so3")
    with pytest.raises(ConfigError, match="augment must be one of"):
        TrainConfig(augment="twist")
    c = TrainConfig(task="classification")
    assert (c.inputs, c.augment, c.readout) == ("hks", "so3,aniso", "mean")
    assert (TrainConfig().inputs, TrainConfig().augment) == ("xyz", "y")
    assert TrainConfig(task="classification", inputs="xyz").augment == "so3,aniso"


def test_anisotropic_scaling_augmentation_stretches_along_random_axes():
    import torch

    from meshlearn.train.model import input_features

    verts = torch.randn(50, 3, dtype=torch.float64)
    ops = type("Ops", (), {"verts": verts})()
    x = input_features(ops, "xyz", augment="none,aniso", rng=np.random.default_rng(0)).double()
    A = torch.linalg.lstsq(verts, x).solution.T  # x = verts @ A.T
    s = torch.linalg.svdvals(A)
    assert torch.allclose(A, A.T, atol=1e-8)  # a pure stretch (no rotation with "none")
    assert float(s.max() / s.min()) > 1.01 and 0.8 * 0.9 - 1e-9 <= float(s.min()) and float(s.max()) <= 1.25 * 1.1 + 1e-9


def test_readout_max_trains_too(classes_data, tmp_path):
    config = TrainConfig(task="classification", data=str(classes_data), out=str(tmp_path / "r"), epochs=1, k=12,
                         width=8, n_blocks=1, threads=1, log="none", readout="max", model="cheb")
    result = fit(config, progress=False)
    assert result.model.outputs == "global_max"
    assert evaluate(tmp_path / "r")["n_shapes"] == 3

