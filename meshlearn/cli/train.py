"""`meshlearn train` and `meshlearn eval`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ._app import app, setup_logging


@app.command("train")
def train_cmd(
    task: str = typer.Option(..., "--task", help="segmentation or correspondence."),
    data: Path = typer.Option(..., "--data", help="Dataset folder (train/ and test/, see `meshlearn data synthetic`)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: checkpoints, metrics.jsonl, cache/."),
    model: str = typer.Option("diffusionnet", "--model", help="diffusionnet, gem, cheb or patch."),
    epochs: int = typer.Option(30, "--epochs"),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, mps ..."),
    seed: int = typer.Option(0, "--seed"),
    k: int = typer.Option(128, "--k", help="Eigenpairs for spectral nets."),
    eigen_coarse: int = typer.Option(
        0, "--eigen-coarse", metavar="N", help="Approximate eigenpairs for shapes over 2N vertices, from a copy "
        "simplified to about N vertices (see `meshlearn preprocess --help`). Default 0: exact."
    ),
    width: int = typer.Option(64, "--width", help="Channels inside the network."),
    n_blocks: int = typer.Option(4, "--blocks", help="Network depth."),
    lr: float = typer.Option(1e-3, "--lr"),
    lr_step: int = typer.Option(20, "--lr-step", help="Halve the learning rate every this many epochs."),
    batch_size: int = typer.Option(1, "--batch-size", help="Shapes per step (global, across processes)."),
    dropout: float = typer.Option(0.1, "--dropout"),
    inputs: str = typer.Option("xyz", "--inputs", help="xyz or hks."),
    augment: str = typer.Option("y", "--augment", help="Random rotation: y (about the vertical), so3, none."),
    val_fraction: float = typer.Option(0.1, "--val-fraction", help="Training shapes held out to pick best.pt."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Operator cache folder. Default: RUN_DIR/cache."),
    split_file: Optional[Path] = typer.Option(None, "--split-file", help="JSON {train: [...], test: [...]}."),
    threads: int = typer.Option(0, "--threads", help="CPU threads per process (0: torch's default)."),
    workers: int = typer.Option(1, "--workers", "-j", help="Processes computing operators before training."),
    resume: bool = typer.Option(False, "--resume", help="Continue from RUN_DIR/last.pt."),
    amp: bool = typer.Option(False, "--amp", help="Mixed precision on CUDA."),
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
) -> None:
    """Train a segmentation or correspondence network; runs under `torchrun --nproc-per-node N` too."""
    from ..train import TrainConfig, fit

    setup_logging(quiet)
    config = TrainConfig(
        task=task, data=str(data), out=str(out), model=model, epochs=epochs, lr=lr, lr_step=lr_step,
        batch_size=batch_size, width=width, n_blocks=n_blocks, dropout=dropout, k=k, eigen_coarse=eigen_coarse, inputs=inputs,
        augment=augment, val_fraction=val_fraction, seed=seed, device=device, amp=amp, threads=threads, workers=workers,
        cache=str(cache) if cache else None, split_file=str(split_file) if split_file else None,
        normalize=None if normalize.lower() == "none" else normalize, loader_workers=loader_workers,
        max_resident_mb=max_resident_mb, log_reads=log_reads, steps_per_epoch=steps_per_epoch,
    )
    result = fit(config, resume=resume, progress=not quiet)
    if result.history and not quiet:
        last = result.history[-1]
        shown = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if isinstance(v, float))
        typer.echo(f"epoch {last['epoch']}: {shown}")
    if not quiet:
        typer.echo(f"checkpoints in {out} (last.pt, best.pt); metrics in {out / 'metrics.jsonl'}")


def _table(result: dict) -> str:
    lines = []
    for key, value in result.items():
        if key in ("pck_curve", "per_class_iou", "class_names"):
            continue
        if isinstance(value, dict):  # e.g. errors against the mirrored ground truth
            lines += [f"{key + '.' + k:32s} {v:.4f}" for k, v in value.items()]
            continue
        lines.append(f"{key:32s} {value:.4f}" if isinstance(value, float) else f"{key:32s} {value}")
    if "per_class_iou" in result:
        names = result.get("class_names") or [str(i) for i in range(len(result["per_class_iou"]))]
        for name, iou in zip(names, result["per_class_iou"]):
            lines.append(f"  IoU {name:28s} {'-' if iou is None else f'{iou:.4f}'}")
    return "\n".join(lines)


@app.command("eval")
def eval_cmd(
    run_dir: Path = typer.Argument(..., help="Run folder written by `meshlearn train`."),
    data: Optional[Path] = typer.Option(None, "--data", help="Dataset folder. Default: the run's."),
    split: str = typer.Option("test", "--split"),
    checkpoint: str = typer.Option("last", "--checkpoint", help="last or best."),
    device: str = typer.Option("cpu", "--device"),
    refine: bool = typer.Option(True, "--refine/--no-refine", help="Spectral (functional-map) refinement of correspondences."),
    pairs: Optional[int] = typer.Option(None, "--pairs", help="At most this many ordered pairs (random, seeded)."),
    points: int = typer.Option(500, "--points", help="Template points evaluated per pair."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Accuracy and IoU (segmentation) or geodesic error and PCK (correspondence); saves
    RUN_DIR/predictions/<name>.npz, RUN_DIR/eval_<split>.json and RUN_DIR/pck_<split>.png."""
    from ..train.evaluate import evaluate

    setup_logging(quiet or as_json)
    result = evaluate(run_dir, data, split=split, checkpoint=checkpoint, device=device, refine=refine,
                      n_points=points, max_pairs=pairs, progress=not (quiet or as_json))
    if as_json:
        typer.echo(json.dumps(result))
    else:
        typer.echo(_table(result))
