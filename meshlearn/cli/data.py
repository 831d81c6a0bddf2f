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
    vertices: Optional[str] = typer.Option(
        None, "--vertices", help="Approximate vertices per shape. Default: 5000 per body (each within +-15%), "
        "1500 per classification shape (each within +-30%). With --family: MIN:MAX, each shape's count drawn "
        "log-uniformly in that range (default 2000:15000), or N for about N each."
    ),
    family: Optional[str] = typer.Option(
        None, "--family", help="Correspondence only: scans of a body family in the FAUST_r layout (off/ + corres/ "
        "with .vts and .sym.vts, one template per family): faust (10 people, test people never seen in training; "
        "default 100 shapes) or scape (one person in many poses; default 71 shapes). Each shape is remeshed on "
        "its own, slightly deformed (bulges, stretch, breathing), posed, turned by any rotation and noised."
    ),
    identities: Optional[int] = typer.Option(None, "--identities", help="With --family faust: number of people "
                                             "(default 10); the test split holds the last 20% of them."),
    upright: bool = typer.Option(False, "--upright", help="With --family: turn shapes about the vertical only "
                                 "(default: any rotation)."),
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
    test/<class>/ folders; or (--task correspondence --family faust|scape) scans of a body family
    in the FAUST_r / SCAPE_r layout."""
    from ..errors import ConfigError

    setup_logging(quiet)
    if task not in _TASKS:
        raise ConfigError(f"--task must be one of {', '.join(_TASKS)} (got {task!r})")
    if family is not None and task != "correspondence":
        raise ConfigError(f"--family makes correspondence datasets; use --task correspondence (got --task {task})")
    if task == "classification":
        from ..datasets.shape_classes import write_class_dataset

        n = 160 if n is None else n
        write_class_dataset(out, n=n, seed=seed, n_classes=classes, n_vertices=_single_count(vertices, 1500),
                            test_fraction=0.25 if test_fraction is None else test_fraction, workers=workers,
                            progress=not quiet)
        typer.echo(f"wrote {n} shapes of {classes} classes to {out}")
        return
    if family is not None:
        _write_family(out, task, family, n, seed, vertices, identities, upright, points, turn, test_fraction, workers,
                      quiet)
        return
    if identities is not None or upright:
        raise ConfigError("--identities and --upright apply to --family datasets only")
    from ..datasets.synthetic import write_dataset

    n = 100 if n is None else n
    write_dataset(out, n=n, seed=seed, n_vertices=_single_count(vertices, 5000), points=points, turn=turn,
                  test_fraction=0.2 if test_fraction is None else test_fraction, workers=workers,
                  progress=not quiet)
    typer.echo(f"wrote {n} shapes to {out}")


def _single_count(vertices: Optional[str], default: int) -> int:
    from ..errors import ConfigError

    if vertices is None:
        return default
    try:
        return int(vertices)
    except ValueError:
        raise ConfigError(f"--vertices must be one integer here (got {vertices!r}); MIN:MAX needs --family") from None


def _vertex_range(vertices: Optional[str]) -> tuple[int, int]:
    from ..datasets.synthetic_scans import DEFAULT_VERTICES
    from ..errors import ConfigError

    if vertices is None:
        return DEFAULT_VERTICES
    parts = vertices.split(":")
    try:
        lo, hi = (int(parts[0]), int(parts[-1])) if len(parts) in (1, 2) else (None, None)
    except ValueError:
        lo = hi = None
    if lo is None:
        raise ConfigError(f"--vertices must be MIN:MAX or N (got {vertices!r}), e.g. --vertices 2000:15000")
    return lo, hi


def _write_family(out, task, family, n, seed, vertices, identities, upright, points, turn, test_fraction, workers,
                  quiet) -> None:
    from ..datasets.synthetic_scans import write_scan_dataset
    from ..errors import ConfigError

    if points or turn:
        raise ConfigError("--points and --turn apply to the plain bodies; --family writes meshes with any rotation "
                          "(--upright for turns about the vertical)")
    root = write_scan_dataset(out, family, n=n, seed=seed, identities=identities, vertices=_vertex_range(vertices),
                              upright=upright, test_fraction=0.2 if test_fraction is None else test_fraction,
                              workers=workers, progress=not quiet)
    count = sum(1 for _ in (root / "train" / "off").iterdir()) + sum(1 for _ in (root / "test" / "off").iterdir())
    typer.echo(f"wrote {count} {family} shapes to {out}")
