"""`meshlearn view`: look at a shape with a feature, labels or predictions; window, PNG or file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Tuple

import typer

from ._app import app, setup_logging


def _load_cache(path: Path, shape: Any) -> dict:
    """The per-vertex arrays of an operator cache file, checked against the shape."""
    import logging

    from ..cache import load_operators
    from ..errors import CacheError
    from ..viz.features import check_length, operator_features

    if not path.is_file():
        raise CacheError(f"{path}: no such cache file; give a .npz written by `meshlearn preprocess`")
    ops, _ = load_operators(path)  # CacheError naming the file when it is not a readable cache file
    feats = operator_features(ops)
    if not feats:
        raise CacheError(f"{path}: holds no per-vertex arrays (hks, wks, evecs, ...) to show")
    if ops.shape_hash and ops.shape_hash != shape.content_hash():
        logging.getLogger(__name__).warning(
            "%s: written for a shape with other vertex coordinates than %s; showing it anyway", path, shape.source
        )
    return {name: check_length(shape, arr, name=name, origin=str(path)) for name, arr in feats.items()}


def _labels_per_vertex(shape: Any, labels: Any, origin: str, original: Any = None) -> Any:
    """Per-vertex labels of ``shape`` from per-vertex or per-face ``labels``, given for ``shape``
    or for ``original``, the file before cleaning (followed through the cleaning's maps)."""
    import numpy as np

    from ..viz.errors import FeatureError

    labels = np.asarray(labels)
    if original is not None and shape is not original:
        # labels of the file as it was before --clean: keep those of the kept vertices (or faces)
        if labels.shape[0] == original.n_verts and "vertex_map" in shape.meta:
            labels = labels[np.asarray(shape.meta["vertex_map"])]
        elif original.is_mesh and labels.shape[0] == original.n_faces and "face_map" in shape.meta:
            labels = labels[np.asarray(shape.meta["face_map"])]
    if labels.shape[0] == shape.n_verts:
        return labels
    if shape.is_mesh and labels.shape[0] == shape.n_faces:
        from ..labels import vertex_labels_from_faces

        return vertex_labels_from_faces(shape.faces, labels, shape.n_verts, shape.face_areas())
    faces = f" or {shape.n_faces} faces" if shape.is_mesh else ""
    raise FeatureError(
        f"{origin}: has {labels.shape[0]} labels but {shape.source} has {shape.n_verts} vertices{faces}; "
        "give one label per vertex (or per face) of this file"
    )


def _require_viewer(screenshot: Optional[Path], export: Optional[Path]) -> None:
    """Fail before any work when the packages this view needs are missing (MissingDependencyError
    naming the extra): pyvista for a window, a PNG or a .vtp; matplotlib's colormaps for a .ply;
    trame for an .html page."""
    from ..optional import require

    suffix = export.suffix.lower() if export is not None else None
    modules = ["matplotlib"] if screenshot is None and suffix == ".ply" else ["pyvista", "matplotlib"]
    if suffix == ".html":
        modules += ["trame_vtk", "trame_pyvista"]
    for module in modules:
        require(module, "meshlearn view")


@app.command()
def view(
    path: Path = typer.Argument(..., help="A mesh or point cloud file (.obj .ply .off .stl .xyz ...)."),
    cache: Optional[Path] = typer.Option(
        None, "--cache", help="An operator cache file (.npz): its arrays (hks, wks, evecs, mass, ...) become features."
    ),
    feature: List[str] = typer.Option(
        [], "--feature", "-f",
        help="Feature to show (repeatable): hks, wks, eig, geodesic:<i>, mean, gaussian, normals, xyz, "
        "or an array of the --cache file. default: hks (when nothing else is asked for)",
    ),
    channel: int = typer.Option(0, "--channel", "-c", help="Channel of the (first) feature to show."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Per-vertex (or per-face) integer labels: .txt, .npy or .npz."),
    predictions: Optional[Path] = typer.Option(
        None, "--predictions", help="A run folder: shows RUN_DIR/predictions/<shape name>.npz|txt (segmentation or "
        "correspondence; for classification the predicted class as the title)."
    ),
    screenshot: Optional[Path] = typer.Option(None, "--screenshot", help="Render off screen to this PNG (no display needed)."),
    export: Optional[Path] = typer.Option(
        None, "--export", help="Write the shape with every array: .vtp (ParaView), .ply (MeshLab) or .html (a web page)."
    ),
    size: Tuple[int, int] = typer.Option((800, 600), "--size", help="Width and height in pixels."),
    k: int = typer.Option(64, "--k", help="Eigenpairs for hks, wks and eig."),
    camera: str = typer.Option("front", "--view", help="Camera: front, back, side, iso, top, xy, xz, yz."),
    clean: bool = typer.Option(False, "--clean", help="Load with clean=True (repair what can be repaired)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Look at a shape: a feature channel, labels, or a run's predictions.

    Opens a window with a slider over the channels (click a vertex to print its values), or, with
    --screenshot / --export, writes a PNG / a mesh file / an HTML page without any display.
    A picture shows the first that applies: a correspondence (--predictions with matches), the
    labels beside the predictions, the labels or the predictions, else the feature's channel.
    An exported mesh carries every feature, the labels and the predictions as arrays.

    \b
    Examples:
      meshlearn view scan.ply --feature hks --channel 3
      meshlearn view scan.ply --feature geodesic:0 --screenshot dist.png
      meshlearn view scan.ply --cache cache/ab12.npz --feature wks --export scan.vtp
      meshlearn view shape.obj --predictions runs/seg --screenshot seg.png
    """
    import numpy as np
    from tqdm import tqdm

    from .. import load
    from ..errors import ConfigError
    from ..optional import require
    from ..viz import render
    from ..viz.errors import FeatureError
    from ..viz.export import EXPORT_FORMATS
    from ..viz.features import FEATURE_NAMES, channel as take_channel, compute_feature
    from ..viz.predictions import read_labels, read_predictions

    setup_logging(quiet)
    if export is not None and export.suffix.lower() not in EXPORT_FORMATS:
        raise ConfigError(f"{export}: --export writes {', '.join(EXPORT_FORMATS)} (got {export.suffix or 'no extension'})")
    if screenshot is not None and screenshot.suffix.lower() != ".png":
        raise ConfigError(f"{screenshot}: --screenshot writes a PNG; give a file name ending in .png")
    if camera not in render.VIEWS:
        raise ConfigError(f"--view must be one of {', '.join(render.VIEWS)} (got {camera!r})")
    _require_viewer(screenshot, export)
    interactive = screenshot is None and export is None
    if interactive:
        render.require_display()

    original = load(path, check=not clean)
    shape = load(original, clean=True) if clean else original
    features: dict[str, np.ndarray] = {}
    if cache is not None:
        features.update(_load_cache(cache, shape))
    gt = None if labels is None else _labels_per_vertex(shape, read_labels(labels), str(labels), original)
    pred = None if predictions is None else read_predictions(predictions, shape.name)
    class_title = None
    if pred is not None and pred.kind == "class":  # one class for the whole shape: a title, not colours
        class_title = _class_title(shape.name, pred)
        typer.echo(class_title)
        pred = None
    if pred is not None and pred.kind == "labels":
        pred_labels = _labels_per_vertex(shape, pred.values, str(pred.path))
    else:
        pred_labels = None
    if pred is not None and pred.kind == "match" and pred.values.shape != (shape.n_verts,):
        raise FeatureError(
            f"{pred.path}: has {pred.values.shape[0]} matches but {shape.source} has {shape.n_verts} vertices; "
            "was it written for another version of this shape?"
        )

    wanted = list(feature)
    if not wanted and not features and gt is None and pred is None:
        wanted = ["hks"]
    todo = [name for name in wanted if name not in features]
    for name in tqdm(todo, desc="features", disable=quiet or not todo, leave=False):
        try:
            features[name] = compute_feature(shape, name, k=k)
        except FeatureError as e:
            if cache is not None and str(e).startswith("unknown feature"):
                raise FeatureError(
                    f"unknown feature {name!r}: {cache} holds {', '.join(features)}; "
                    f"meshlearn computes {', '.join(FEATURE_NAMES)}"
                ) from None
            raise
    active = wanted[0] if wanted else (next(iter(features)) if features else None)
    if active is not None:
        take_channel(features[active], channel, name=active)  # a clear error for a channel out of range

    if screenshot is not None or (export is not None and export.suffix.lower() == ".html"):
        pv = require("pyvista", "meshlearn view")
        pv.OFF_SCREEN = True
    common = {"size": size, "view": camera}

    def picture(out: Optional[Path]) -> Any:
        from .. import viz

        if pred is not None and pred.kind == "match":
            return viz.plot_correspondence(pred.template, shape, pred.values, titles=("template", shape.name), screenshot=out, **common)
        names = pred.names if pred is not None else None
        if pred_labels is not None and gt is not None:
            return viz.plot_shapes([shape, shape], labels=[gt, pred_labels], titles=["labels", "prediction"], names=names,
                                   screenshot=out, **common)
        if pred_labels is not None or gt is not None:
            return viz.plot_labels(shape, pred_labels if pred_labels is not None else gt, names=names, screenshot=out, **common)
        values = take_channel(features[active], channel, name=active)
        C = features[active].shape[1]
        title = f"{active} channel {channel}" if C > 1 else active
        if class_title is not None:  # the class above the shape, the feature on the colour bar
            return viz.plot_shapes([shape], scalars=[values], titles=[class_title], colorbar_title=title,
                                   screenshot=out, **common)
        if active.startswith("geodesic") and shape.is_mesh:
            return viz.plot_isolines(shape, values, title=title, source=int(active.partition(":")[2]), screenshot=out, **common)
        return viz.plot_scalars(shape, values, title=title, screenshot=out, **common)

    if screenshot is not None:
        out = picture(screenshot)
        typer.echo(f"wrote {out}")
    if export is not None:
        _export(export, shape, features, active, channel, gt, pred_labels, pred, picture)
        typer.echo(f"wrote {export}")
    if interactive:
        _interactive(shape, features, active, channel, gt, pred_labels, pred, size)


def _class_title(name: str, pred: Any) -> str:
    """``"chair_003: predicted chair, truth chair"`` from a classification prediction."""
    names = pred.names or []

    def label(i: int) -> str:
        return names[i] if 0 <= i < len(names) else str(i)

    text = f"{name}: predicted {label(int(pred.values[0]))}"
    if pred.gt is not None:
        text += f", truth {label(int(pred.gt[0]))}"
    return text


def _export(export: Path, shape: Any, features: dict, active: Any, channel: int, gt: Any, pred_labels: Any, pred: Any, picture: Any) -> None:
    from .. import viz

    if export.suffix.lower() == ".html":
        viz.export_html(picture(None), export)
        return
    arrays = dict(features)
    colors = None
    if gt is not None:
        arrays["labels"] = gt
        colors = viz.label_colors(gt)[0]
    if pred_labels is not None:
        arrays["pred"] = pred_labels
        colors = viz.label_colors(pred_labels)[0]
    if pred is not None and pred.kind == "match":
        arrays["match"] = pred.values
        colors = viz.transfer_colors(viz.position_colors(pred.template.verts), pred.values)
    if colors is None and active is not None:
        from ..viz.features import channel as take_channel

        colors = viz.scalar_colors(take_channel(features[active], channel, name=active))
    viz.export_mesh(shape, export, arrays=arrays, colors=colors)


def _interactive(shape: Any, features: dict, active: Any, channel: int, gt: Any, pred_labels: Any, pred: Any, size: Any) -> None:
    import numpy as np

    from .. import viz

    if pred is not None and pred.kind == "match":
        viz.plot_correspondence(pred.template, shape, pred.values, titles=("template", shape.name), size=size).show()
        return

    def echo(vertex: int, values: dict) -> None:
        parts = [f"{name} = {np.array2string(np.asarray(v), precision=4, max_line_width=200)}" for name, v in values.items()]
        typer.echo(f"vertex {vertex}: " + "; ".join(parts))

    labels = pred_labels if pred_labels is not None else gt
    viewer = viz.FeatureViewer(shape, features, feature=active, channel=channel, labels=labels, on_pick=echo, size=size)
    viewer.show()
