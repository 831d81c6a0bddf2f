"""`meshlearn data synthetic`: write a procedural dataset (bodies, or shape classes) to a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import app, setup_logging

data_app = typer.Typer(help="Make datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

_TASKS = ("segmentation", "correspondence", "classification")


@data_app.command("synthetic")
def synthetic(
    out: Path = typer.Option(..., "--out", "-o", help="Dataset folder to write (train/, test/, template.ply)."),
    task: str = typer.Option(
        "segmentation", "--task", help="segmentation or correspondence: articulated bodies with part labels and "
        "template correspondences; classification: shapes of 10 procedural classes in class folders."
    ),
    n: Optional[int] = typer.Option(None, "--n", help="Number of shapes (train and test together). "
                                    "Default: 100 bodies, or 160 shapes (16 per class)."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same bytes."),
    vertices: Optional[int] = typer.Option(
        None, "--vertices", help="Approximate vertices per shape. Default: 5000 per body (each within +-15%), "
        "1500 per classification shape (each within +-30%)."
    ),
    classes: int = typer.Option(10, "--classes", help="Classification: how many of the 10 classes."),
    points: bool = typer.Option(False, "--points", help="Bodies: point clouds (the vertices without faces)."),
    turn: bool = typer.Option(False, "--turn", help="Bodies: turn each shape by a random angle about the vertical."),
    test_fraction: Optional[float] = typer.Option(
        None, "--test-fraction", help="Fraction of the shapes in test/ (of each class for classification). "
        "Default: 0.2 (bodies), 0.25 (classes)."
    ),
    workers: int = typer.Option(1, "--workers", "-j", help="Processes generating shapes."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Procedural shapes with ground truth in a layout `meshlearn train --data` reads: articulated
    bodies, each independently remeshed and posed, with part labels and correspondence to a
    template; or (--task classification) closed surfaces of distinct classes (torus, genus-2,
    capsule, box, helix, star, table, chair, dumbbell, jack), each with random proportions, a
    small non-rigid deformation, its own meshing and a random rigid motion, in train/<class>/ and
    test/<class>/ folders."""
    from ..errors import ConfigError

    setup_logging(quiet)
    if task not in _TASKS:
        raise ConfigError(f"--task must be one of {', '.join(_TASKS)} (got {task!r})")
    if task == "classification":
        from ..datasets.shape_classes import write_class_dataset

        n = 160 if n is None else n
        write_class_dataset(out, n=n, seed=seed, n_classes=classes, n_vertices=vertices or 1500,
                            test_fraction=0.25 if test_fraction is None else test_fraction, workers=workers,
                            progress=not quiet)
        typer.echo(f"wrote {n} shapes of {classes} classes to {out}")
        return
    from ..datasets.synthetic import write_dataset

    n = 100 if n is None else n
    write_dataset(out, n=n, seed=seed, n_vertices=vertices or 5000, points=points, turn=turn,
                  test_fraction=0.2 if test_fraction is None else test_fraction, workers=workers,
                  progress=not quiet)
    typer.echo(f"wrote {n} shapes to {out}")
