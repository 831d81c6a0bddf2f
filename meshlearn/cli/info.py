"""``meshlearn info``: what is in a mesh or point cloud file and what is wrong with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import typer

from ._app import app


_HELP = (
    "Check mesh and point-cloud files: sizes, NaN coordinates, out-of-range and degenerate faces, "
    "duplicate vertices and faces, non-manifold edges and vertices, isolated vertices, components, "
    "boundary loops and polygons.\n\n"
    "A file that cannot be read is reported and the others are still checked; the exit status is 1 "
    "when any file failed.\n\n"
    "Examples:\n\n"
    "  meshlearn info scan.ply\n\n"
    "  meshlearn info --clean --json meshes/*.obj > report.json"
)


@app.command(help=_HELP)
def info(
    paths: List[Path] = typer.Argument(
        ...,
        help="Mesh files (.obj .ply .off .stl) or point clouds (.ply .pcd .xyz .pts).",
        show_default=False,
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print one JSON list with an object per file: path, status ('ok' or 'failed'), and the "
        "report or the error message.",
    ),
    clean: bool = typer.Option(
        False,
        "--clean",
        help="Repair each shape first (weld duplicates, drop degenerate/duplicate faces and unused "
        "vertices, fix winding) and list the repairs.",
    ),
) -> None:
    """Check each file and print its report; the help text above (``_HELP``) is what users read."""
    from ..errors import MeshlearnError
    from ..io import load
    from ..validate import validate

    results = []
    failed = False
    for path in paths:
        try:
            shape = load(path, clean=clean, check=clean)
            report = validate(shape)
            results.append({"path": str(path), "status": "ok", "report": report.to_dict()})
            if not as_json:
                typer.echo(f"{path}\n{report.summary()}")
        except MeshlearnError as e:
            failed = True
            results.append({"path": str(path), "status": "failed", "error": str(e)})
            if not as_json:
                typer.echo(f"{path}\n  failed: {e}")
    if as_json:
        typer.echo(json.dumps(results, indent=2))
    if failed:
        raise typer.Exit(code=1)
