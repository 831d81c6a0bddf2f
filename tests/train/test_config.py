"""Run files: TrainConfig to and from YAML, command-line overrides, network options, and a run
repeated bit for bit from its folder's config.yaml."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from typer.testing import CliRunner

from meshlearn.cli import app
from meshlearn.cli.train import _OPTIONS
from meshlearn.datasets import write_dataset
from meshlearn.errors import ConfigError
from meshlearn.train import TrainConfig
from meshlearn.train.checkpoint import load_checkpoint
from meshlearn.train.config import METHOD_DEFAULTS, parse_net_options
from meshlearn.train.model import build_model, check_net_options, net_class, net_option_names, operator_spec

runner = CliRunner()


def test_round_trip_keeps_every_option(tmp_path):
    cfg = TrainConfig(task="correspondence", data="d", out="o", model="gem", epochs=7, lr=3e-4, dropout=0.25,
                      cache="c", amp=True, seed=11, net_options={"max_order": 3, "band_limit": None, "n_samples": 5})
    path = cfg.to_file(tmp_path / "run.yaml")
    text = path.read_text()
    for name in TrainConfig.field_names():
        if name != "net_options":
            assert f"\n{name}:" in text, name
    assert "\nnet:\n  max_order: 3\n" in text
    back = TrainConfig.from_file(path)
    assert back == cfg and back.lr == 3e-4 and isinstance(back.epochs, int)


def test_file_values_are_type_checked_and_coerced(tmp_path):
    path = tmp_path / "run.yaml"
    # PyYAML reads 1e-3 (no dot) as a string; an integral float is an int option's value
    path.write_text("lr: 1e-3\nepochs: 4.0\nval_fraction: 0\ndata: 2024\n")
    cfg = TrainConfig.from_file(path)
    assert (cfg.lr, cfg.epochs, cfg.val_fraction, cfg.data) == (1e-3, 4, 0.0, "2024")
    assert type(cfg.epochs) is int and type(cfg.val_fraction) is float
    for bad, match in [("epochs: three", "epochs must be an int"), ("epochs: 2.5", "epochs must be an int"),
                       ("amp: 1", "amp must be a bool"), ("lr: fast", "lr must be a float"),
                       ("epochs: true", "epochs must be an int"), ("model: rnn", "model must be one of"),
                       ("net: [K, 8]", "must be a mapping"), ("epochs: null", "epochs needs a value"),
                       ("- epochs", "expected a mapping"), ("epochs: [", "not valid YAML")]:
        path.write_text(bad + "\n")
        with pytest.raises(ConfigError, match=match) as e:
            TrainConfig.from_file(path)
        assert str(path) in str(e.value)
    with pytest.raises(ConfigError, match="no such run file"):
        TrainConfig.from_file(tmp_path / "missing.yaml")


def test_unknown_key_names_the_file_the_closest_option_and_the_valid_ones(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("epoch: 3\n")
    with pytest.raises(ConfigError) as e:
        TrainConfig.from_file(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: unknown training option 'epoch'") and "did you mean 'epochs'?" in msg
    assert "valid options: amp, augment, batch_size" in msg and "net," in msg
    path.write_text("zzzz: 1\n")
    with pytest.raises(ConfigError) as e:
        TrainConfig.from_file(path)
    assert "did you mean" not in str(e.value)
    # net_options is written `net:` in a file; the dataclass name is not a second spelling
    path.write_text("net_options: {K: 3}\n")
    with pytest.raises(ConfigError, match="did you mean 'net'"):
        TrainConfig.from_file(path)


def test_overrides_replace_the_file_and_merge_net_options(tmp_path):
    path = TrainConfig(model="cheb", epochs=9, width=12, net_options={"K": 4, "bias": False}).to_file(tmp_path / "r.yaml")
    cfg = TrainConfig.from_file(path, {"epochs": 2, "net_options": {"K": 7}})
    assert (cfg.epochs, cfg.width, cfg.model) == (2, 12, "cheb")
    assert cfg.net_options == {"K": 7, "bias": False}


def test_parse_net_options_reads_yaml_scalars():
    assert parse_net_options(["K=8", "band_limit=null", "checkpoint=true", "diffusion=implicit", "t=1.5"]) == {
        "K": 8, "band_limit": None, "checkpoint": True, "diffusion": "implicit", "t": 1.5}
    for bad in ["K", "=3", "1x=2"]:
        with pytest.raises(ConfigError, match="NAME=VALUE"):
            parse_net_options([bad])


def test_net_options_reach_every_constructor_and_are_checked():
    gem = {"max_order", "n_samples", "band_limit", "hidden", "checkpoint", "nonlinearity", "scales", "blocks_per_scale"}
    expected = {"diffusionnet": {"diffusion", "with_gradient_features"}, "cheb": {"K"}, "patch": {"n_rho", "n_theta"},
                "spectral": {"n_basis"}, "gem": gem}
    for model, names in expected.items():
        assert set(net_option_names(net_class(model))) == names, model
    cheb = build_model(TrainConfig(model="cheb", width=8, n_blocks=2, net_options={"K": 3}), 3, 5)
    assert all(conv.K == 3 for conv in cheb.convs)
    spectral = build_model(TrainConfig(model="spectral", width=8, n_blocks=1, net_options={"n_basis": 6}), 3, 5)
    assert spectral.filters[0].n_basis == 6
    patch = build_model(TrainConfig(model="patch", width=8, n_blocks=1, net_options={"n_rho": 2, "n_theta": 5}), 3, 5)
    assert any(getattr(m, "n_theta", None) == 5 and m.n_rho == 2 for m in patch.modules())
    with pytest.raises(ConfigError, match=r"ChebNet \(--model cheb\) takes no argument 'k' \(did you mean 'K'\?\); its options: K"):
        check_net_options(TrainConfig(model="cheb", net_options={"k": 8}))
    with pytest.raises(ConfigError, match="'width' of ChebNet is set by --width"):
        build_model(TrainConfig(model="cheb", net_options={"width": 8}), 3, 5)
    with pytest.raises(ConfigError, match="rejects the network options"):
        build_model(TrainConfig(model="cheb", net_options={"K": "eight"}), 3, 5)


def test_net_options_change_the_operators_a_net_reads():
    assert "spectral" in operator_spec(TrainConfig()).operators
    implicit = operator_spec(TrainConfig(net_options={"diffusion": "implicit", "with_gradient_features": False}))
    assert "laplacian" in implicit.operators and "spectral" not in implicit.operators
    state = torch.get_rng_state()
    operator_spec(TrainConfig(net_options={"diffusion": "implicit"}))
    assert torch.equal(state, torch.get_rng_state())  # the instance it builds draws nothing


def test_command_line_defaults_are_trainconfig_defaults():
    import typer.main

    command = typer.main.get_command(app).commands["train"]
    defaults = {p.name: p.default for p in command.params}
    fields = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.name not in ("net_options", "fmap_options")}
    assert set(_OPTIONS.values()) == set(fields)
    for param, option in _OPTIONS.items():
        if option in ("data", "out", "cache", "split_file"):  # paths: none given
            assert defaults[param] is None
        else:
            assert defaults[param] == fields[option], option


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("bodies")
    return write_dataset(root / "data", n=6, seed=3, n_vertices=350, test_fraction=0.34, progress=False)


def _train(*args):
    r = runner.invoke(app, ["train", *map(str, args), "--quiet"])
    assert r.exit_code == 0, (r.output, r.exception)
    return r


def _records(run):
    return [{k: v for k, v in json.loads(s).items() if k != "time_s"} for s in (run / "metrics.jsonl").read_text().splitlines()]


def test_config_file_repeats_a_run_bit_for_bit(data, tmp_path):
    cache = tmp_path / "cache"
    run, again = tmp_path / "run", tmp_path / "again"
    _train("--data", data, "--out", run, "--cache", cache, "--model", "cheb", "--net-option", "K=3", "--epochs", 2,
           "--width", 8, "--blocks", 2, "--lr", 5e-3, "--seed", 4, "--threads", 1, "--val-fraction", 0.25, "--log", "none")
    saved = TrainConfig.from_file(run / "config.yaml")
    assert saved.net_options == {"K": 3} and saved.seed == 4 and saved.out == str(run)
    assert load_checkpoint(run / "last.pt")["config"] == saved.to_dict()
    _train("--config", run / "config.yaml", "--out", again)
    assert TrainConfig.from_file(again / "config.yaml") == saved.replace(out=str(again))
    a, b = load_checkpoint(run / "last.pt"), load_checkpoint(again / "last.pt")
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert _records(run) == _records(again) and len(_records(run)) == 2

    # flags given on the command line win over the file, the rest comes from it
    third = tmp_path / "third"
    _train("--config", run / "config.yaml", "--out", third, "--epochs", 1, "--net-option", "K=2", "--seed", 0)
    cfg = TrainConfig.from_file(third / "config.yaml")
    assert (cfg.epochs, cfg.seed, cfg.net_options, cfg.width, cfg.lr, cfg.model) == (1, 0, {"K": 2}, 8, 5e-3, "cheb")
    assert len(_records(third)) == 1


def test_bad_run_file_and_missing_options_fail_before_training(data, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(f"data: {data}\nout: {tmp_path / 'r'}\nmodle: cheb\n")
    r = runner.invoke(app, ["train", "--config", str(path)])
    assert r.exit_code != 0 and isinstance(r.exception, ConfigError)
    assert "unknown training option 'modle' (did you mean 'model'?)" in str(r.exception)
    path.write_text(f"data: {data}\nmodel: cheb\n")
    r = runner.invoke(app, ["train", "--config", str(path), "--net-option", "order=3"])
    assert isinstance(r.exception, ConfigError) and "no --out given" in str(r.exception)
    r = runner.invoke(app, ["train", "--config", str(path), "--out", str(tmp_path / "r"), "--net-option", "order=3"])
    assert isinstance(r.exception, ConfigError) and "takes no argument 'order'" in str(r.exception)
    assert not (tmp_path / "r" / "cache").exists()  # refused before any preprocessing
    r = runner.invoke(app, ["train", "--out", str(tmp_path / "r")])
    assert isinstance(r.exception, ConfigError) and "no --data given" in str(r.exception)


# ----- per-model defaults -------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["diffusionnet", "gem", "cheb", "patch", "spectral"])
@pytest.mark.parametrize("task", ["segmentation", "classification"])
def test_model_defaults_fill_what_is_not_given(model, task):
    from meshlearn.train.config import model_defaults

    cfg = TrainConfig(task=task, model=model)
    defaults = model_defaults(model, task)
    for name, value in defaults.items():
        if name == "net_options":
            assert all(cfg.net_options[k] == v for k, v in value.items())
        else:
            assert getattr(cfg, name) == value
    assert cfg.width is not None and cfg.lr is not None and cfg.n_blocks is not None
    # the resolved values are what the run builds: the net gets the model's width and depth
    net = build_model(cfg, 3, 4)
    if hasattr(net, "width"):
        assert net.width == defaults["width"]


def test_explicit_values_win_over_the_model_defaults(monkeypatch):
    from meshlearn.train import config as config_module

    monkeypatch.setitem(config_module.MODEL_DEFAULTS, "cheb",
                        {"width": 24, "n_blocks": 3, "lr": 5e-3, "net_options": {"K": 9, "bias": True},
                         "classification": {"lr": 2e-4, "net_options": {"K": 4}}})
    assert (TrainConfig(model="cheb").width, TrainConfig(model="cheb").lr) == (24, 5e-3)
    # a task's own entries replace the model's for that task only
    cls = TrainConfig(task="classification", model="cheb")
    assert (cls.width, cls.lr, cls.net_options) == (24, 2e-4, {"K": 4})
    assert TrainConfig(task="classification", model="cheb", lr=1e-2).lr == 1e-2
    cfg = TrainConfig(model="cheb", width=8, lr=1e-4, n_blocks=2, net_options={"K": 3})
    assert (cfg.width, cfg.lr, cfg.n_blocks) == (8, 1e-4, 2)
    assert cfg.net_options == {"K": 3, "bias": True}  # the user's K, the default's other names
    # the functional-map methods keep their width and learning rate, the model the rest
    fmap = TrainConfig(task="correspondence", model="cheb")
    assert (fmap.width, fmap.lr, fmap.n_blocks) == (128, METHOD_DEFAULTS["fmap-unsupervised"]["lr"], 3)
    sup = TrainConfig(task="correspondence", method="fmap-supervised", model="cheb")
    assert (sup.width, sup.lr, sup.n_blocks) == (128, METHOD_DEFAULTS["fmap-supervised"]["lr"], 3)
    template = TrainConfig(task="correspondence", method="template", model="cheb")
    assert (template.width, template.lr, template.n_blocks) == (24, 5e-3, 3)


def test_config_yaml_records_the_resolved_defaults(tmp_path):
    from meshlearn.cli.train import resolve_train_config
    from meshlearn.train.config import MODEL_DEFAULTS

    cfg = resolve_train_config(None, {"model": "gem", "data": "d", "out": str(tmp_path)}, [])
    path = cfg.to_file(tmp_path / "config.yaml")
    text = path.read_text()
    assert f"width: {MODEL_DEFAULTS['gem']['width']}\n" in text and "lr: null" not in text and "n_blocks: null" not in text
    back = TrainConfig.from_file(path)
    assert back == cfg
    # a run file read back keeps its recorded width even after the model's default changes
    given = resolve_train_config(path, {"width": 24}, ["n_samples=5"])
    assert (given.width, given.model, given.net_options["n_samples"]) == (24, "gem", 5)
    assert given.lr == cfg.lr


def test_unknown_model_is_still_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="model must be one of diffusionnet, gem, cheb, patch, spectral"):
        TrainConfig(model="gemcnn")
    path = tmp_path / "r.yaml"
    path.write_text("model: unet\n")
    with pytest.raises(ConfigError, match=r"r\.yaml: model must be one of"):
        TrainConfig.from_file(path)


def test_help_names_the_defaults_of_every_model():
    from meshlearn.train.config import MODEL_DEFAULTS

    result = runner.invoke(app, ["train", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.replace("│", " ").split())  # the help's lines are wrapped inside a box
    for model, values in MODEL_DEFAULTS.items():
        assert f"{model} {values['width']:g}" in text and f"{model} {values['lr']:g}" in text


def test_a_checkpoint_saved_before_the_model_defaults_rebuilds_its_net(tmp_path):
    import inspect

    from meshlearn.nets import PatchConvNet
    from meshlearn.train.checkpoint import config_of

    built_then = inspect.signature(PatchConvNet.__init__).parameters["n_theta"].default
    new = TrainConfig(model="patch", data="d", out="o")
    assert new.net_options["n_theta"] != built_then  # the default this test is about
    old = {**new.to_dict(), "net_options": {}}  # what a run of an earlier version stored
    assert config_of({"config": old}, tmp_path / "best.pt").net_options["n_theta"] == built_then
    # a run of this version recorded its options, and keeps them
    assert config_of({"config": new.to_dict()}, tmp_path / "best.pt") == new
    given = {**new.to_dict(), "net_options": {"n_rho": 2}}
    assert config_of({"config": given}, tmp_path / "best.pt").net_options == {"n_rho": 2, "n_theta": built_then}
