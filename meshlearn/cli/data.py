"""`meshlearn data synthetic`: write the procedural body dataset to a folder."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import app, setup_logging

data_app = typer.Typer(help="Make datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("synthetic")
def synthetic(
    out: Path = typer.Option(..., "--out", "-o", help="Dataset folder to write (train/, test/, template.ply)."),
    n: int = typer.Option(100, "--n", help="Number of shapes (train and test together)."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same bytes."),
    vertices: int = typer.Option(5000, "--vertices", help="Approximate vertices per shape (each within +-15%)."),
    points: bool = typer.Option(False, "--points", help="Point clouds (the vertices without faces)."),
    turn: bool = typer.Option(False, "--turn", help="Turn each shape by a random angle about the vertical."),
    test_fraction: float = typer.Option(0.2, "--test-fraction", help="Fraction of the shapes in test/."),
    workers: int = typer.Option(1, "--workers", "-j", help="Processes generating shapes."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Articulated body-like shapes, each independently remeshed and posed, with part labels and
    correspondence to a template, in the layout `meshlearn train --data` reads."""
    from ..datasets.synthetic import write_dataset

    setup_logging(quiet)
    write_dataset(out, n=n, seed=seed, n_vertices=vertices, points=points, turn=turn, test_fraction=test_fraction,
                  workers=workers, progress=not quiet)
    typer.echo(f"wrote {n} shapes to {out}")
