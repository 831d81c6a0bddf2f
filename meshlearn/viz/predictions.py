"""Read per-vertex labels and the predictions that ``meshlearn eval`` writes into a run folder.

Letters: V vertices of the shape, W vertices of a correspondence template.

Layout of a run's predictions: ``RUN_DIR/predictions/<shape name>.npz`` (or ``.txt``):

* segmentation: an ``.npz`` with key ``"pred"``, (V,) int, the predicted class of each vertex
  (or face); or a ``.txt`` file with one integer per line.
* correspondence: an ``.npz`` with key ``"match"``, (V,) int, the template vertex matched to each
  vertex. The template comes from the keys ``"template_verts"`` (W, 3) and ``"template_faces"``
  (optional), or from a mesh file ``RUN_DIR/template.(ply|obj|off|stl)``.
* classification: an ``.npz`` with keys ``"class_pred"`` (the predicted class of the shape),
  ``"class_names"`` and optionally ``"class_true"`` and ``"probabilities"`` (K,).

Optional keys: ``"verts"`` / ``"faces"`` (the shape itself, so a prediction file can be drawn on its
own) and ``"gt"`` (the ground truth, same form as the prediction). Class names for a legend are
read from ``"class_names"`` in the run's ``eval_*.json`` when there is one.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MeshlearnError
from ..shape import Shape
from .errors import FeatureError

__all__ = ["Prediction", "read_labels", "read_predictions", "prediction_path", "class_names"]

_TEMPLATE_SUFFIXES = (".ply", ".obj", ".off", ".stl")


@dataclass
class Prediction:
    """One shape's prediction.

    kind : {"labels", "match", "class"}
    values : (V,) int64
        Classes (kind "labels") or template vertex indices (kind "match"); for kind "class" one
        value, the shape's predicted class.
    template : Shape or None
        The correspondence template (kind "match").
    shape : Shape or None
        The shape itself when the file stores it.
    gt : (V,) int64 or None
        Ground truth, when stored.
    path : Path
    names : list of str or None
        Class names (segmentation), from the run's evaluation summary.
    """

    kind: str
    values: np.ndarray
    path: Path
    template: Shape | None = None
    shape: Shape | None = None
    gt: np.ndarray | None = None
    names: list[str] | None = None


def _ints(arr: Any, path: Path, key: str) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim == 2 and 1 in a.shape:
        a = a.ravel()
    if a.ndim != 1 or a.dtype.kind not in "iuf" or (a.dtype.kind == "f" and not np.all(np.mod(a, 1) == 0)):
        raise FeatureError(f"{path}: {key} must be one integer per vertex (got dtype {a.dtype}, shape {a.shape})")
    return a.astype(np.int64)


def read_labels(path: str | os.PathLike) -> np.ndarray:
    """Integer labels from a file: ``.txt`` / ``.seg`` / ``.csv`` (one per line or whitespace
    separated), ``.npy``, or ``.npz`` (key ``"labels"``, ``"pred"`` or the only array).

    Returns
    -------
    (N,) int64, one per vertex or per face.
    """
    path = Path(path)
    if not path.is_file():
        raise FeatureError(f"{path}: no such labels file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return _ints(np.load(path, allow_pickle=False), path, "labels")
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                for key in ("labels", "pred", "label"):
                    if key in z.files:
                        return _ints(z[key], path, key)
                if len(z.files) == 1:
                    return _ints(z[z.files[0]], path, z.files[0])
                raise FeatureError(f"{path}: no 'labels' or 'pred' array (found {', '.join(z.files)})")
        return _ints(np.loadtxt(path, ndmin=1, delimiter="," if suffix == ".csv" else None), path, "labels")
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        if isinstance(e, MeshlearnError):
            raise
        raise FeatureError(f"{path}: cannot read labels ({e}); write one integer per vertex per line, or an .npy array") from e


def prediction_path(run_dir: str | os.PathLike, name: str) -> Path:
    """The prediction file of shape ``name`` in ``run_dir`` (``.npz`` preferred over ``.txt``)."""
    run = Path(run_dir)
    if not run.is_dir():
        raise FeatureError(f"{run}: no such run folder; give the folder `meshlearn train`/`eval` wrote")
    folder = run / "predictions"
    if not folder.is_dir():
        raise FeatureError(f"{run}: has no predictions/ folder; run `meshlearn eval` on it first")
    for suffix in (".npz", ".txt"):
        p = folder / f"{name}{suffix}"
        if p.is_file():
            return p
    have = sorted(p.stem for p in folder.glob("*") if p.suffix in (".npz", ".txt"))
    shown = ", ".join(have[:8]) + (" ..." if len(have) > 8 else "")
    raise FeatureError(f"{folder}: no prediction for shape {name!r} (predictions exist for: {shown or 'none'})")


def read_predictions(run_dir: str | os.PathLike, name: str) -> Prediction:
    """Read the prediction of shape ``name`` from a run folder (see the module docstring)."""
    path = prediction_path(run_dir, name)
    if path.suffix == ".txt":
        return Prediction("labels", read_labels(path), path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        raise FeatureError(f"{path}: cannot read ({e}); the file is damaged, rerun `meshlearn eval`") from e
    shape = _stored_shape(data.get("verts"), data.get("faces"), str(path), name) if "verts" in data else None
    gt = _ints(data["gt"], path, "gt") if "gt" in data else None
    if "pred" in data:
        return Prediction("labels", _ints(data["pred"], path, "pred"), path, shape=shape, gt=gt,
                          names=class_names(run_dir))
    if "class_pred" in data:
        names = [str(n) for n in data["class_names"]] if "class_names" in data else None
        gt = _ints(np.reshape(data["class_true"], 1), path, "class_true") if "class_true" in data else None
        return Prediction("class", _ints(np.reshape(data["class_pred"], 1), path, "class_pred"), path, shape=shape,
                          gt=gt, names=names)
    if "match" in data:
        match = _ints(data["match"], path, "match")
        return Prediction("match", match, path, template=_template(Path(run_dir), data, path), shape=shape, gt=gt)
    raise FeatureError(f"{path}: expected an array 'pred' (segmentation) or 'match' (correspondence); found {', '.join(data) or 'none'}")


def class_names(run_dir: str | os.PathLike) -> list[str] | None:
    """The class names stored in a run's evaluation summary (``eval_*.json``), or None."""
    import json

    for summary in sorted(Path(run_dir).glob("eval_*.json")):
        try:
            names = json.loads(summary.read_text()).get("class_names")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return names
    return None


def _stored_shape(verts: Any, faces: Any, source: str, name: str) -> Shape:
    """A shape stored as arrays in a prediction file, checked like a loaded file (index range,
    shapes, NaN) so that a damaged file gets a clear error rather than a crash in the renderer."""
    from ..errors import InvalidMeshError
    from ..io import load

    try:
        shape = load((verts, faces))
    except InvalidMeshError as e:
        raise InvalidMeshError(f"{source}: {str(e).removeprefix('arrays: ')}") from e
    return shape.with_(source=source, name=name)


def _template(run: Path, data: dict[str, np.ndarray], path: Path) -> Shape:
    if "template_verts" in data:
        return _stored_shape(data["template_verts"], data.get("template_faces"), f"{path}:template", "template")
    for suffix in _TEMPLATE_SUFFIXES:
        candidate = run / f"template{suffix}"
        if candidate.is_file():
            from ..io import load

            return load(candidate)
    raise FeatureError(
        f"{path}: a correspondence needs its template, but the file has no 'template_verts' and "
        f"{run} has no template.ply/.obj/.off; store the template beside the predictions"
    )
