"""The shared Typer application and small helpers used by every command."""

from __future__ import annotations

import logging

import typer

app = typer.Typer(
    name="meshlearn",
    help=(
        "Geometric deep learning on surfaces: load and check scans, compute and cache operators, "
        "train and evaluate mesh networks, and look at the results.\n\n"
        "Start with `meshlearn demo` for the whole pipeline on built-in data, or "
        "`meshlearn info scan.ply` to see what is wrong with a file."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def setup_logging(quiet: bool = False, verbose: bool = False) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@app.callback()
def _root() -> None:
    """meshlearn: geometric deep learning on surfaces."""
