"""`meshlearn match`: a pointwise map between two shapes with a trained functional-map run."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import app, setup_logging


def map_file_text(T, path_a: Path, path_b: Path) -> str:
    """The text of a map file: a ``#`` header line, then line i (after it) holds the 0-based vertex
    of B matched to vertex i of A (``numpy.loadtxt`` reads it back, skipping the header)."""
    header = (f"# meshlearn match: line i below = the 0-based vertex of {path_b.name} matched to the 0-based "
              f"vertex i of {path_a.name} ({len(T)} lines)\n")
    return header + "".join(f"{int(t)}\n" for t in T)


@app.command("match")
def match_cmd(
    shape_a: Path = typer.Argument(..., help="Shape A: a mesh (.ply .obj .off .stl) or a point cloud (.ply .xyz .pts .pcd)."),
    shape_b: Path = typer.Argument(..., help="Shape B, mapped onto: a mesh or a point cloud."),
    run: Path = typer.Option(..., "--run", help="Run folder of `meshlearn train --task correspondence` (a functional-map method)."),
    out: Path = typer.Option(..., "--out", "-o", help="Map file to write: one line per vertex of A, the 0-based vertex of B."),
    screenshot: Optional[Path] = typer.Option(
        None, "--screenshot", help="Also render a colour-transfer picture to this PNG, off screen: B coloured by "
        "position, A coloured through the map (each vertex of A takes its B vertex's colour)."
    ),
    refine: bool = typer.Option(True, "--refine/--no-refine", help="ZoomOut refinement to --refine-k eigenpairs."),
    refine_k: Optional[int] = typer.Option(None, "--refine-k", help="Eigenpairs ZoomOut ends at. Default: the run's --k."),
    adapt_steps: int = typer.Option(0, "--adapt-steps", help="Test-time adaptation: Adam steps of the network on this pair's unsupervised loss."),
    source: str = typer.Option("solver", "--source", help="solver (the solver's functional map) or soft (the soft pointwise map's)."),
    fix_flips: bool = typer.Option(
        True, "--fix-flips/--no-fix-flips", help="Replace the map by its mirror image on B when that agrees better "
        "with the surfaces' orientation (when B has a detected left-right reflection)."
    ),
    checkpoint: Optional[str] = typer.Option(None, "--checkpoint", help="best, last or a .pt file. Default: best.pt, else last.pt."),
    device: str = typer.Option("cpu", "--device"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Map every vertex of A to a vertex of B with a trained deep functional map.

    Both shapes are read and normalised as the run's training shapes (point clouds and meshes with
    several components or boundaries included; mesh-to-cloud pairs too); their operators go to the
    run's cache. The map file holds a header line starting with `#`, then one 0-based vertex index
    of B per vertex of A, in A's vertex order (FAUST_r's .vts files are 1-based; these are not):
    `numpy.loadtxt(out, dtype=int)` reads it back.

    Examples:

      meshlearn match tr_reg_080.off tr_reg_081.off --run runs/faust --out 80_to_81.txt --screenshot 80_to_81.png

      meshlearn match scan.xyz template.ply --run runs/faust --out scan_to_template.txt --adapt-steps 10
    """
    from ..cache import atomic_write_bytes
    from ..errors import ConfigError, WriteError
    from ..train.fmap_matcher import match_files

    setup_logging(quiet)
    if screenshot is not None:
        if screenshot.suffix.lower() != ".png":
            raise ConfigError(f"{screenshot}: --screenshot writes a PNG; give a file name ending in .png")
        from ..optional import require

        require("pyvista", "meshlearn match --screenshot")  # before any work
    for target in [out] + ([screenshot] if screenshot is not None else []):
        if not target.parent.is_dir():
            raise WriteError(f"{target}: the folder {target.parent} does not exist; create it first")
    T, a, b = match_files(shape_a, shape_b, run, checkpoint=checkpoint, device=device, refine=refine,
                          k_refine=refine_k, adapt_steps=adapt_steps, source=source, fix_flips=fix_flips)
    atomic_write_bytes(out, map_file_text(T, shape_a, shape_b).encode())
    if not quiet:
        typer.echo(f"wrote {out}: {len(T)} vertices of {shape_a.name} mapped onto {shape_b.name} ({b.n_verts} vertices)")
    if screenshot is not None:
        from .. import viz

        colors_b = viz.position_colors(b.verts)
        viz.plot_shapes([a, b], colors=[colors_b[T], colors_b],
                        titles=[f"{shape_a.name} (through the map)", f"{shape_b.name} (by position)"],
                        screenshot=screenshot, size=(1000, 500))
        if not quiet:
            typer.echo(f"wrote {screenshot}")
