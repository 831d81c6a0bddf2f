"""`meshlearn data synthetic`, `meshlearn train` and `meshlearn eval` from the command line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from meshlearn.cli import app
from meshlearn.errors import DatasetError

runner = CliRunner()


def test_data_train_eval(tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    r = runner.invoke(app, ["data", "synthetic", "--out", str(data), "--n", "4", "--vertices", "350", "--seed", "2", "-q"])
    assert r.exit_code == 0, r.output
    assert (data / "template.ply").exists() and len(list((data / "train" / "labels").iterdir())) == 3
    r = runner.invoke(app, ["train", "--task", "segmentation", "--data", str(data), "--out", str(run), "--epochs", "1",
                            "--k", "12", "--width", "8", "--blocks", "1", "--threads", "1", "--quiet"])
    assert r.exit_code == 0, r.output
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1
    r = runner.invoke(app, ["eval", str(run), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    assert {"accuracy", "mean_iou", "face_accuracy_area_weighted"} <= set(out)
    r = runner.invoke(app, ["eval", str(run)])
    assert r.exit_code == 0 and "IoU left_foot" in r.output


def test_wrong_folder_is_a_dataset_error(tmp_path):
    r = runner.invoke(app, ["train", "--task", "segmentation", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "-q"])
    assert r.exit_code != 0 and isinstance(r.exception, DatasetError)
    assert "matches no known dataset layout" in str(r.exception)


def test_demo_runs_the_pipeline_and_resumes(tmp_path):
    args = ["demo", "--out", str(tmp_path), "--n", "4", "--vertices", "350", "--epochs", "1", "--workers", "1", "-q"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "vertex accuracy" in r.output and (tmp_path / "predictions.png").read_bytes()[:4] == b"\x89PNG"
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0.0 <= metrics["accuracy"] <= 1.0
    r = runner.invoke(app, args)  # a second run reuses the data and the finished checkpoint
    assert r.exit_code == 0 and "reusing" in r.output and "resuming" in r.output
