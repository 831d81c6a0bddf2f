"""`meshlearn train` and `meshlearn eval`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..train.config import METHOD_DEFAULTS, MODEL_DEFAULTS, TASKS
from ._app import app, setup_logging


def _per_model(name: str) -> str:
    """``"diffusionnet 64, gem 16 (classification 8), ..."``: the per-model defaults of TrainConfig
    option ``name``, with those of a task that differ."""
    parts = []
    for model, entry in MODEL_DEFAULTS.items():
        if name not in entry:
            continue
        per_task = [f"{task} {entry[task][name]:g}" for task in TASKS if name in entry.get(task, {})]
        parts.append(f"{model} {entry[name]:g}" + (f" ({', '.join(per_task)})" if per_task else ""))
    return ", ".join(parts)


def _per_method(name: str) -> str:
    """``"fmap-unsupervised 0.002, ..."``: the correspondence methods' defaults of option ``name``."""
    return ", ".join(f"{method} {entry[name]:g}" for method, entry in METHOD_DEFAULTS.items() if name in entry)


def _per_model_net_options() -> str:
    parts = [f"{model} " + " ".join(f"{k}={v}" for k, v in entry["net_options"].items())
             for model, entry in MODEL_DEFAULTS.items() if entry.get("net_options")]
    return f" Defaults: {'; '.join(parts)}." if parts else ""


#: command-line parameter -> TrainConfig option, for the options a run file may also set
_OPTIONS = {
    "task": "task", "data": "data", "out": "out", "model": "model", "epochs": "epochs", "device": "device",
    "seed": "seed", "k": "k", "eigen_coarse": "eigen_coarse", "width": "width", "n_blocks": "n_blocks",
    "lr": "lr", "lr_step": "lr_step", "weight_decay": "weight_decay", "batch_size": "batch_size",
    "dropout": "dropout", "inputs": "inputs", "augment": "augment", "val_fraction": "val_fraction",
    "cache": "cache", "split_file": "split_file", "threads": "threads", "workers": "workers", "amp": "amp",
    "log": "log", "image_every": "image_every", "normalize": "normalize", "loader_workers": "loader_workers",
    "max_resident_mb": "max_resident_mb", "log_reads": "log_reads", "steps_per_epoch": "steps_per_epoch",
    "readout": "readout", "method": "method", "fmap_k": "fmap_k", "fmap_dim": "fmap_dim",
    "lr_schedule": "lr_schedule", "n_descriptors": "n_descriptors",
}


@app.command("train")
def train_cmd(
    ctx: typer.Context,
    config_file: Optional[Path] = typer.Option(
        None, "--config", "-c", help="YAML run file (every option below is a key; `net:` holds --net-option's). "
        "Options given here override it. RUN_DIR/config.yaml of a finished run repeats that run."
    ),
    task: str = typer.Option(
        "segmentation", "--task", help="segmentation, correspondence or classification (one class per shape, "
        "from class folders <class>/<name>.ply)."
    ),
    data: Optional[Path] = typer.Option(None, "--data", help="Dataset folder (train/ and test/, see `meshlearn data synthetic`)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder: checkpoints, config.yaml, metrics.jsonl, cache/."),
    model: str = typer.Option("diffusionnet", "--model", help="diffusionnet, gem, cheb, patch or spectral."),
    net_option: list[str] = typer.Option(
        [], "--net-option", metavar="NAME=VALUE",
        help="A constructor argument of the network, e.g. K=8 (cheb), max_order=3 (gem), n_theta=6 (patch), "
        "n_basis=12 (spectral), diffusion=implicit (diffusionnet); repeatable." + _per_model_net_options()
    ),
    epochs: int = typer.Option(30, "--epochs"),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, mps ..."),
    seed: int = typer.Option(0, "--seed"),
    k: int = typer.Option(128, "--k", help="Eigenpairs for spectral nets."),
    eigen_coarse: int = typer.Option(
        0, "--eigen-coarse", metavar="N", help="Approximate eigenpairs for shapes over 2N vertices, from a copy "
        "simplified to about N vertices (see `meshlearn preprocess --help`). Default 0: exact."
    ),
    width: Optional[int] = typer.Option(
        None, "--width", help=f"Channels inside the network. Default per model: {_per_model('width')}; "
        "128 for correspondence's fmap methods."
    ),
    n_blocks: Optional[int] = typer.Option(
        None, "--blocks", help=f"Network depth. Default per model: {_per_model('n_blocks')}."
    ),
    lr: Optional[float] = typer.Option(None, "--lr", help=f"Adam learning rate. Default per model: {_per_model('lr')}; "
                                     f"per correspondence method, whatever the model: {_per_method('lr')}."),
    lr_step: int = typer.Option(20, "--lr-step", help="Halve the learning rate every this many epochs (--lr-schedule step)."),
    lr_schedule: Optional[str] = typer.Option(
        None, "--lr-schedule", help="step (halve every --lr-step epochs) or cosine (down to lr/10 over the epochs). "
        "Default: step; cosine for correspondence's fmap methods."
    ),
    weight_decay: float = typer.Option(0.0, "--weight-decay"),
    batch_size: int = typer.Option(1, "--batch-size", help="Shapes per step (global, across processes)."),
    dropout: float = typer.Option(0.1, "--dropout"),
    inputs: Optional[str] = typer.Option(None, "--inputs", help="xyz, hks or wks. Default: xyz; hks for classification; wks for correspondence."),
    n_descriptors: Optional[int] = typer.Option(
        None, "--descriptors", help="HKS / WKS channels of --inputs hks / wks. Default: 16; 128 for correspondence."
    ),
    augment: Optional[str] = typer.Option(
        None, "--augment", help="xyz inputs: random rotation y (about the vertical), so3 or none, plus aniso "
        "(anisotropic scaling), joined by commas. Default: y; so3,aniso for classification; none for correspondence."
    ),
    readout: str = typer.Option("mean", "--readout", help="Classification: pool vertices by area-weighted mean or max."),
    val_fraction: float = typer.Option(0.1, "--val-fraction", help="Training shapes held out to pick best.pt."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Operator cache folder. Default: RUN_DIR/cache."),
    split_file: Optional[Path] = typer.Option(None, "--split-file", help="JSON {train: [...], test: [...]}."),
    threads: int = typer.Option(0, "--threads", help="CPU threads per process (0: torch's default)."),
    workers: int = typer.Option(1, "--workers", "-j", help="Processes computing operators before training."),
    amp: bool = typer.Option(False, "--amp", help="Mixed precision on CUDA."),
    log: str = typer.Option(
        "auto", "--log", help="tensorboard: event files in RUN_DIR (pip install \"meshlearn[tb]\"); none; "
        "auto: tensorboard when installed."
    ),
    image_every: int = typer.Option(5, "--image-every", help="TensorBoard picture of a validation shape every N epochs (0: none)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from RUN_DIR/last.pt."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    normalize: str = typer.Option(
        "radius", "--normalize", help="How shapes are scaled when loaded: radius (unit ball), area (unit area) or "
        "none; `meshlearn preprocess` uses the same default, so a cache it filled is read without computing."
    ),
    loader_workers: int = typer.Option(
        -1, "--loader-workers", help="Processes reading shapes and operators during training (-1: 2, or 0 for "
        "fewer than 64 shapes)."
    ),
    max_resident_mb: float = typer.Option(
        0.0, "--max-resident-mb", help="Megabytes of recently read shapes each process keeps in memory (0: none)."
    ),
    log_reads: bool = typer.Option(False, "--log-reads", help="Log each shape every process reads to RUN_DIR/reads/."),
    steps_per_epoch: int = typer.Option(
        0, "--steps-per-epoch", help="Optimiser steps per epoch (0: once through the training shapes)."
    ),
    method: Optional[str] = typer.Option(
        None, "--method", help="Correspondence: fmap-unsupervised (deep functional maps, no ground truth needed; "
        "the default), fmap-supervised (needs .vts files) or template (classification over a template's vertices)."
    ),
    fmap_k: int = typer.Option(50, "--fmap-k", help="Correspondence: eigenpairs of the functional maps (separate from --k)."),
    fmap_dim: int = typer.Option(256, "--fmap-dim", help="Correspondence: descriptor channels of the feature network."),
    fmap_option: list[str] = typer.Option(
        [], "--fmap-option", metavar="NAME=VALUE",
        help="A setting of the functional-map model or loss, e.g. mask=laplacian, lam=0.01, tau=0.05, coupling=0, "
        "soft_points=0 (the coupling's soft maps over every vertex, not 1000 samples); repeatable (see "
        "meshlearn.train.fmap_model)."
    ),
) -> None:
    """Train a segmentation, correspondence or classification network; runs under `torchrun --nproc-per-node N` too.

    Options come from the command line, then the --config file, then the defaults."""
    from ..train import fit

    setup_logging(quiet)
    given = locals()
    explicit = {name: given[name] for name in _OPTIONS if given_on_command_line(ctx, name)}
    config = resolve_train_config(config_file, explicit, net_option, fmap_option)
    result = fit(config, resume=resume, progress=not quiet)
    if result.history and not quiet:
        last = result.history[-1]
        shown = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if isinstance(v, float))
        typer.echo(f"epoch {last['epoch']}: {shown}")
    if not quiet:
        out_dir = Path(config.out)
        typer.echo(f"checkpoints in {out_dir} (last.pt, best.pt); config in {out_dir / 'config.yaml'}; "
                   f"metrics in {out_dir / 'metrics.jsonl'}")


def given_on_command_line(ctx: typer.Context, name: str) -> bool:
    """True when parameter ``name`` was typed (even at its default value), not defaulted."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def resolve_train_config(config_file: Optional[Path], given: dict, net_option: list[str],
                         fmap_option: Optional[list[str]] = None):
    """The run's TrainConfig: the options ``given`` on the command line (parameter name -> value)
    and ``--net-option``'s / ``--fmap-option``'s, then the run file's, then the defaults."""
    from ..errors import ConfigError
    from ..train.config import TrainConfig, parse_net_options

    explicit = {_OPTIONS[name]: (str(v) if isinstance(v, Path) else v) for name, v in given.items()}
    net_options = parse_net_options(net_option)
    if net_options:
        explicit["net_options"] = net_options
    fmap_options = parse_net_options(fmap_option or [], flag="--fmap-option")
    if fmap_options:
        explicit["fmap_options"] = fmap_options
    if config_file is not None:
        config = TrainConfig.from_file(config_file, explicit)
    else:
        config = TrainConfig.from_dict(explicit)
    missing = [flag for flag, name in (("--data", "data"), ("--out", "out")) if not getattr(config, name)]
    if missing:
        where = f" (neither on the command line nor in {config_file})" if config_file else ""
        raise ConfigError(f"no {' and no '.join(missing)} given{where}: pass {' and '.join(f'{m} ...' for m in missing)}"
                          " or a run file with --config")
    return config


def _table(result: dict) -> str:
    lines = []
    for key, value in result.items():
        if key in ("pck_curve", "per_class_iou", "class_names", "confusion", "per_class_accuracy"):
            continue
        if isinstance(value, dict):  # e.g. errors against the mirrored ground truth
            lines += [f"{key + '.' + k:32s} {v:.4f}" if isinstance(v, float) else f"{key + '.' + k:32s} {v}"
                      for k, v in value.items()]
            continue
        lines.append(f"{key:32s} {value:.4f}" if isinstance(value, float) else f"{key:32s} {value}")
    if "per_class_iou" in result:
        names = result.get("class_names") or [str(i) for i in range(len(result["per_class_iou"]))]
        for name, iou in zip(names, result["per_class_iou"]):
            lines.append(f"  IoU {name:28s} {'-' if iou is None else f'{iou:.4f}'}")
    if "per_class_accuracy" in result:
        for name, acc in zip(result["class_names"], result["per_class_accuracy"]):
            lines.append(f"  accuracy {name:23s} {'-' if acc is None else f'{acc:.4f}'}")
    return "\n".join(lines)


@app.command("eval")
def eval_cmd(
    run_dir: Path = typer.Argument(..., help="Run folder written by `meshlearn train`."),
    data: Optional[Path] = typer.Option(
        None, "--data", help="Dataset folder. Default: the run's. Correspondence: any folder with .vts files, also "
        "one the run was not trained on."
    ),
    split: str = typer.Option("test", "--split"),
    split_file: Optional[Path] = typer.Option(
        None, "--split-file", help="JSON {train: [...], test: [...]} for a single --data folder. Default: the run's "
        "(for its own data); FAUST_r and SCAPE_r folders need none."
    ),
    checkpoint: Optional[str] = typer.Option(
        None, "--checkpoint", help="best, last or a .pt file. Default: best.pt when the run has one, else last.pt."
    ),
    device: str = typer.Option("cpu", "--device"),
    refine: bool = typer.Option(
        True, "--refine/--no-refine", help="Correspondence: refine the maps (functional-map runs: ZoomOut; "
        "the *_initial keys are the maps before)."
    ),
    refine_k: Optional[int] = typer.Option(
        None, "--refine-k", help="Eigenpairs of the refinement. Default: the run's --k (functional maps), 128 (template)."
    ),
    adapt_steps: int = typer.Option(0, "--adapt-steps", help="Functional-map runs: test-time adaptation steps per pair."),
    source: str = typer.Option("solver", "--source", help="Functional-map runs: map from the solver's C or the soft map's (soft)."),
    fix_flips: bool = typer.Option(
        True, "--fix-flips/--no-fix-flips", help="Functional-map runs: replace a pair's map by its mirror image on the "
        "target when that agrees better with the surfaces' orientation (targets with a detected left-right reflection)."
    ),
    pairs: Optional[int] = typer.Option(None, "--pairs", help="At most this many ordered pairs (random, seeded)."),
    points: Optional[int] = typer.Option(
        None, "--points", help="Template points evaluated per pair (seeded random subset). Default: all for "
        "functional-map runs, 500 for template runs."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Accuracy and IoU (segmentation), geodesic error and PCK (correspondence), or accuracy and
    the confusion matrix (classification); saves RUN_DIR/predictions/<name>.npz,
    RUN_DIR/eval_<split>.json, RUN_DIR/pck_<split>.png (correspondence) and, for classification,
    RUN_DIR/confusion_<split>.png and RUN_DIR/predictions_<split>.csv.

    Functional-map runs are scored over every ordered pair of the split, or the pairs of a
    test_pairs.txt ("nameA nameB" a line) in the split's or the dataset's folder: the geodesic
    distance on B from the image of each ground-truth point of A to its true match, over
    sqrt(area of B) (x100 in mean_geodesic_error_x100); RUN_DIR/pairs_<split>.csv lists every pair."""
    from ..train.evaluate import evaluate

    setup_logging(quiet or as_json)
    result = evaluate(run_dir, data, split=split, split_file=split_file, checkpoint=checkpoint, device=device,
                      refine=refine, k_refine=refine_k, adapt_steps=adapt_steps, source=source, fix_flips=fix_flips, n_points=points,
                      max_pairs=pairs, progress=not (quiet or as_json))
    if as_json:
        typer.echo(json.dumps(result))
    else:
        typer.echo(_table(result))
