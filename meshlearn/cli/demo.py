"""`meshlearn demo`: the main job on built-in data."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ._app import app, setup_logging


@app.command()
def demo(
    out: Path = typer.Option(Path("data/demo"), help="Folder for everything the demo writes."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Run the pipeline on a built-in shape: load, compute operators (cached), print a summary."""
    import numpy as np
    import trimesh

    from .. import OperatorSpec, compute_operators, load

    setup_logging(quiet)
    out.mkdir(parents=True, exist_ok=True)
    mesh = trimesh.creation.icosphere(subdivisions=4)
    shape = load((np.asarray(mesh.vertices), np.asarray(mesh.faces)))
    spec = OperatorSpec(operators=frozenset({"spectral", "hks"}), k=32)
    t0 = time.perf_counter()
    ops = compute_operators(shape, spec, cache=out / "cache")
    dt = time.perf_counter() - t0
    typer.echo(f"shape: {shape}")
    typer.echo(f"operators {sorted(spec.operators)} in {dt:.2f} s (cache: {out / 'cache'})")
    typer.echo("first eigenvalues: " + " ".join(f"{v:.3f}" for v in ops.evals[:10]))
