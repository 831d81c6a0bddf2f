"""`meshlearn preprocess`: compute and cache the operators of many shape files."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import List, Optional

import typer

from ._app import app, setup_logging

_HELP = (
    "Compute and cache the operators of every shape in INPUT... (folders, globs, list files).\n\n"
    "Writes one operator file per shape into --out and appends one line per shape to OUT/manifest.jsonl "
    "(source, content hash, status ok / failed / skipped-cached, seconds, V, F, error).\n\n"
    "A bad file is recorded as failed and the batch goes on; the exit status is 1 when any shape failed, "
    "130 after Ctrl-C. Rerun the same command to resume: shapes with a valid cache entry are skipped and "
    "nothing is recomputed."
)


def _resume_command(inputs: List[str], out: Path) -> str:
    argv = sys.argv
    if "preprocess" in argv:
        return "meshlearn " + shlex.join(argv[argv.index("preprocess"):])
    return "meshlearn preprocess " + shlex.join([*inputs, "--out", str(out)]) + " [same options]"


@app.command("preprocess", help=_HELP)
def preprocess_cmd(
    inputs: List[str] = typer.Argument(
        ..., metavar="INPUT...", help="Folders (walked recursively for .obj .ply .off .stl .pcd .xyz .pts), "
        "quoted globs such as 'scans/**/*.ply', list files (.txt, one path a line) or shape files."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Cache folder (operator files and manifest.jsonl)."),
    ops: Optional[str] = typer.Option(
        None, "--ops", help="Operator kinds, comma-separated: laplacian, spectral, hks, wks, frames, gradients, "
        "gauge, patches, geodesics. Default: spectral (or what --for needs)."
    ),
    k: int = typer.Option(128, "--k", help="Eigenpairs for spectral."),
    eigen_coarse: int = typer.Option(
        0, "--eigen-coarse", metavar="N", help="Approximate eigenpairs for shapes over 2N vertices: solved on a copy "
        "simplified to about N vertices and interpolated back (about 3x faster at 164k vertices with N=20000, "
        "eigenvalues 0.6% high, 1.3% at most). Meshes only; needs open3d (pip install \"meshlearn[io]\"). "
        "Default 0: exact."
    ),
    for_net: Optional[str] = typer.Option(
        None, "--for", help="Add the operators a network needs: diffusionnet, gem, cheb or patch."
    ),
    clean: bool = typer.Option(False, "--clean", help="Repair what can be repaired while loading (see `meshlearn info`). It can drop and reorder vertices: leave it off "
        "for a dataset `meshlearn train` will read (labels follow the file's vertex order)."),
    normalize: str = typer.Option(
        "radius", "--normalize", help="Scale each shape: 'radius' (unit ball, as `meshlearn train` loads shapes, so "
        "its cache serves training), 'area' (unit area) or 'none' (the file's coordinates)."
    ),
    workers: Optional[int] = typer.Option(
        None, "--workers", "-j", help="Local worker processes, one compute thread each. Default: all cores; 1 runs in this process."
    ),
    scheduler: Optional[str] = typer.Option(
        None, "--scheduler", help="Run on an existing Dask cluster, e.g. tcp://HOST:PORT; its workers must see "
        "the same input and --out paths."
    ),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop at the first failed shape."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or progress lines; a short summary only."),
    max_vertices: int = typer.Option(
        200_000, "--max-vertices", help="Vertex budget per shape: larger shapes fail, or are decimated with --decimate."
    ),
    decimate: bool = typer.Option(
        False, "--decimate", help="Simplify shapes over --max-vertices instead of failing them: meshes with open3d "
        "quadric decimation (simplify_quadric_decimation; needs pip install \"meshlearn[io]\"), point clouds by "
        "keeping every n-th point."
    ),
) -> None:
    from ..preprocess import PreprocessInterrupted, preprocess, resolve_spec

    setup_logging(quiet)
    spec = resolve_spec(ops, k, for_net, eigen_coarse=eigen_coarse) if eigen_coarse else None
    normalize = None if normalize.lower() == "none" else normalize
    try:
        summary = preprocess(
            inputs, out, ops=ops, k=k, net=for_net, spec=spec, clean=clean, normalize=normalize, workers=workers,
            scheduler=scheduler, fail_fast=fail_fast, quiet=quiet, max_vertices=max_vertices, decimate=decimate,
        )
    except PreprocessInterrupted as e:
        typer.echo(e.summary.format(brief=True), err=True)
        typer.echo(
            "interrupted: finished shapes are recorded and cached; resume with:\n  " + _resume_command(inputs, out),
            err=True,
        )
        raise typer.Exit(130) from None
    except KeyboardInterrupt:  # a second Ctrl-C while the first one was stopping the workers
        typer.echo("interrupted; shapes in progress were abandoned; resume with:\n  " + _resume_command(inputs, out), err=True)
        raise typer.Exit(130) from None
    typer.echo(summary.format(brief=quiet))
    if not summary.complete:
        raise typer.Exit(1)
