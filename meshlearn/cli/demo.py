"""`meshlearn demo`: the whole pipeline on built-in data, in a few minutes on a laptop CPU.

synthetic bodies -> operators through the cache -> train DiffusionNet to segment body parts ->
evaluate on held-out shapes (meshed independently of every training shape) -> a PNG of
predictions next to the ground truth, and the metrics.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import typer

from ._app import app, setup_logging

log = logging.getLogger(__name__)


def _render(shapes, labels, titles, names, path: Path) -> Path:
    """Predictions as a PNG: meshlearn.viz off screen, or matplotlib when no OpenGL is available."""
    try:
        from ..viz import plot_shapes

        return Path(plot_shapes(shapes, labels=labels, titles=titles, names=names, n_classes=len(names), legend=False,
                                view="xy", size=(280 * len(shapes), 480), screenshot=path))
    except Exception as e:  # noqa: BLE001 - any rendering failure falls back to matplotlib
        log.info("pyvista rendering unavailable (%s); drawing with matplotlib", e)
    import numpy as np

    from ..optional import require

    colormaps = require("matplotlib", "the demo's picture of predictions").colormaps
    FigureCanvasAgg = require("matplotlib.backends.backend_agg", "the demo's picture of predictions").FigureCanvasAgg
    Figure = require("matplotlib.figure", "the demo's picture of predictions").Figure

    fig = Figure(figsize=(2.6 * len(shapes), 4.2), dpi=100)
    FigureCanvasAgg(fig)
    cmap = colormaps["tab20"]
    for i, (shape, lab, title) in enumerate(zip(shapes, labels, titles)):
        ax = fig.add_subplot(1, len(shapes), i + 1, projection="3d")
        v, f = shape.verts, shape.faces
        face_lab = lab[f[:, 0]]
        coll = ax.plot_trisurf(v[:, 0], v[:, 2], v[:, 1], triangles=f, linewidth=0, shade=False)
        coll.set_facecolor(cmap(face_lab % 20))
        ax.set_box_aspect(np.ptp(v[:, [0, 2, 1]], axis=0))
        ax.view_init(elev=10, azim=-90)
        ax.set_axis_off()
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(str(path))
    return path


@app.command()
def demo(
    out: Path = typer.Option(Path("data/demo"), help="Folder for everything the demo writes."),
    n: int = typer.Option(40, "--n", help="Synthetic shapes (a fifth held out for testing)."),
    vertices: int = typer.Option(1500, "--vertices", help="Approximate vertices per shape."),
    epochs: int = typer.Option(25, "--epochs", help="Training epochs."),
    threads: int = typer.Option(1, "--threads", help="CPU threads (one is fastest on a busy machine)."),
    workers: int = typer.Option(2, "--workers", "-j", help="Processes generating shapes and computing operators."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, ..."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Synthetic bodies -> cached operators -> train DiffusionNet segmentation -> evaluate held-out
    shapes -> OUT/predictions.png and the metrics."""
    from ..datasets import load_sample, normalize_shape, read_dataset, write_dataset
    from ..train import TrainConfig, fit
    from ..optional import require
    from ..train.evaluate import evaluate

    setup_logging(quiet)
    require("matplotlib", "meshlearn demo (its picture of the predictions)")  # before minutes of work
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    data = out / "data"
    if not (data / "template.ply").exists():
        typer.echo(f"1/4 generating {n} synthetic bodies of about {vertices} vertices in {data}")
        write_dataset(data, n=n, seed=0, n_vertices=vertices, workers=workers, progress=not quiet)
    else:
        typer.echo(f"1/4 reusing the synthetic bodies in {data}")
    run = out / "run"
    config = TrainConfig(task="segmentation", model="diffusionnet", data=str(data), out=str(run), epochs=epochs,
                         k=64, width=64, n_blocks=4, dropout=0.1, lr=2e-3, lr_step=max(epochs // 2, 1),
                         inputs="xyz", augment="none", threads=threads, workers=workers, device=device, cache=str(out / "cache"))
    resume = (run / "last.pt").exists()
    typer.echo(f"2/4 {'resuming' if resume else 'training'} DiffusionNet ({epochs} epochs; operators cached in "
               f"{out / 'cache'})")
    t0 = time.perf_counter()
    fit(config, resume=resume, progress=not quiet)
    typer.echo(f"    trained in {time.perf_counter() - t0:.0f} s; per-epoch metrics in {run / 'metrics.jsonl'}")
    typer.echo("3/4 evaluating on held-out shapes (each meshed independently of the training shapes)")
    result = evaluate(run, progress=not quiet)
    typer.echo(f"    vertex accuracy {100 * result['accuracy']:.1f} %, area-weighted face accuracy "
               f"{100 * result['face_accuracy_area_weighted']:.1f} %, mean IoU {100 * result['mean_iou']:.1f} %")
    test = read_dataset(data)["test"]
    names = list(test.part_names)
    shapes, labels, titles = [], [], []
    import numpy as np

    for rec in test.records[:3]:
        shape = normalize_shape(load_sample(rec).shape)
        with np.load(run / "predictions" / f"{rec.name}.npz") as z:
            pred, gt = z["pred"], z["gt"]
        shapes += [shape, shape]
        labels += [gt, pred]
        titles += ["truth", f"predicted: {100 * np.mean(pred == gt):.0f} %"]
    png = _render(shapes, labels, titles, names, out / "predictions.png")
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    typer.echo(f"4/4 pictures of predictions: {png}")
    typer.echo(f"done in {time.perf_counter() - t_all:.0f} s; metrics in {out / 'metrics.json'}")
