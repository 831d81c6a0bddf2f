"""evaluate(): score a trained run on a split, save per-shape predictions and a PCK plot.

Segmentation: vertex accuracy (plain and area-weighted), face accuracy (area-weighted; a face's
prediction is the argmax of its vertices' mean logits, its truth the file's face label or the
majority of its vertices' labels) and per-class IoU.

Classification: accuracy over shapes, mean class accuracy and the confusion matrix (rows true,
columns predicted, with the class names); a shape whose class folder the run does not know is a
DatasetError naming its file (as is a segmentation label beyond the run's classes).

Correspondence, over ordered pairs (A, B) of shapes (all of them unless ``max_pairs``): the
network gives each vertex a probability distribution over the template's points; vertex a of A is
sent to the vertex b of B that maximises ``sum_t p_a(t) p_b(t)`` over a's ``top`` most likely
template points (the probability that both land on the same template point). Optionally refined
through the functional map of that pointwise map on the first ``k_refine`` eigenfunctions: each
vertex of A then takes, among its ``candidates`` best-scoring vertices of B, the one nearest to
where the functional map sends it in B's spectral embedding (the map's global smoothness picks
between the network's local choices). Evaluated at the template points listed in both shapes' ``vts`` (a fixed random
subset of ``n_points`` of them): the error of template point i is the geodesic distance on B from
the image of ``vts_A[i]`` to ``vts_B[i]``, divided by sqrt(area of B) (the sum of B's lumped mass).

Shapes are loaded as in training (the run's ``normalize``) and read through the same kind of
DataLoader; segmentation scores one shape at a time, correspondence holds the split's logits and
operators (every pair needs them).

Files (read by ``meshlearn view --predictions RUN_DIR``): ``predictions/<name>.npz`` with
``pred`` (V,) predicted labels and ``pred_faces`` (F,) for segmentation, ``match`` (V,) predicted
template vertices for correspondence, or for classification ``class_pred`` and ``class_true`` (the
class indices), ``class_names`` and ``probabilities`` (K,) (``<name>`` is the file stem; shapes of
two classes with one stem are ``<class>__<stem>``), with ``predictions_<split>.csv`` (name, true,
predicted, probability of the predicted class) and ``confusion_<split>.png``; ``gt`` (V,) the ground truth; ``verts`` (V, 3) and ``faces``
(F, 3) the (normalised) shape. Also ``template.ply`` (copied from the dataset, when it has one),
``eval_<split>.json``, and for correspondence ``pck_<split>.png`` (with matplotlib, the ``viz`` extra).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..datasets import MeshDataset, read_dataset
from ..errors import DatasetError, MissingDependencyError
from ..geometry.operators import OperatorSpec
from .checkpoint import checkpoint_path, config_of, load_checkpoint, load_model_state
from .config import TrainConfig
from .loader import loader_workers, make_loader
from .classes import class_map_of
from .loop import forward_logits, target_of
from .metrics import (ClassificationScores, SegmentationScores, face_labels_from_vertices, geodesic_errors, pck_curve,
                      plot_confusion, plot_pck)
from .model import build_model, input_features
from .template_matching import match_pair, match_scores, refine_map

__all__ = ["evaluate", "load_run", "match_pair", "match_scores", "refine_map"]

log = logging.getLogger(__name__)


def load_run(run_dir: str | os.PathLike, checkpoint: str | None = None, device: Any = "cpu"):
    """(config, meta, model in eval mode) from a run's checkpoint: ``best.pt`` when the run has
    one, else ``last.pt``; ``checkpoint`` = "best", "last" or a file (see ``checkpoint_path``)."""
    path = checkpoint_path(run_dir, checkpoint)
    state = load_checkpoint(path, map_location=device)
    config = config_of(state, path)
    meta = state["meta"]
    net = build_model(config, meta["n_in"], meta["n_out"], device)
    load_model_state(net, state["model"], path, state.get("meshlearn_version"))
    net.eval()
    return config, meta, net


def evaluate(
    run_dir: str | os.PathLike,
    data: str | os.PathLike | None = None,
    *,
    split: str = "test",
    checkpoint: str | None = None,
    device: str = "cpu",
    split_file: str | os.PathLike | None = None,
    refine: bool = True,
    k_refine: int | None = None,
    refine_iterations: int = 1,
    candidates: int = 5,
    refine_step: int = 1,
    refine_points: int = 1000,
    refine_full: int = 2,
    adapt_steps: int = 0,
    adapt_lr: float = 1e-3,
    source: str = "solver",
    fix_flips: bool = True,
    n_points: int | None = None,
    max_pairs: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Score the run in ``run_dir`` on ``split`` of ``data`` (default: the run's data folder).

    Parameters
    ----------
    split_file : path, optional
        Splits a single-folder ``data`` (default: the run's split file when ``data`` is the run's).
    refine : bool
        Correspondence: refine the maps (template runs: :func:`refine_map`; functional-map runs:
        ZoomOut). default: True
    k_refine : int, optional
        Eigenpairs of the refinement. default: 128 (template runs), the run's ``--k`` (functional maps)
    refine_iterations, candidates : int
        Template runs' refinement (see :func:`refine_map`). default: 1, 5
    refine_step, refine_points, refine_full, adapt_steps, adapt_lr, source, fix_flips
        Functional-map runs (see :class:`meshlearn.train.fmap_matcher.FmapMatcher`). default: 1,
        1000, 2, 0, 1e-3, "solver", True
    n_points : int, optional
        Template points scored per pair. default: 500 (template runs), all (functional maps)
    max_pairs : int, optional
        At most this many ordered pairs (seeded random). default: all

    Functional-map runs (``--method fmap-unsupervised`` / ``fmap-supervised``) are scored by
    :func:`meshlearn.train.fmap_evaluate.evaluate_fmap_run` over every ordered pair of the split or
    its ``test_pairs.txt``, on any dataset with ``.vts`` files; the keys below, with ``_initial``
    for the maps before ZoomOut (see that module).

    Returns
    -------
    dict
        Segmentation: ``accuracy``, ``accuracy_area_weighted``, ``face_accuracy_area_weighted``,
        ``mean_iou``, ``per_class_iou``. Classification: ``accuracy``, ``mean_class_accuracy``,
        ``per_class_accuracy``, ``confusion`` (rows true, columns predicted), ``class_names``.
        Correspondence: ``mean_geodesic_error`` (normalised),
        ``mean_geodesic_error_x100``, ``pck_0.05``/``pck_0.1`` (fractions within those errors),
        the same with the suffix ``_initial`` before refinement, ``template_accuracy``, ``n_pairs``.
        Both: ``task``, ``n_shapes``, ``checkpoint`` (the file's name: ``best.pt`` when the run has
        one and ``checkpoint`` is None, else ``last.pt``, or the one asked for).
    """
    from threadpoolctl import threadpool_limits

    from .fmap_matcher import fmap_checkpoint

    run_dir = Path(run_dir)
    dev = torch.device(device)
    path = checkpoint_path(run_dir, checkpoint)
    fmap = fmap_checkpoint(run_dir, checkpoint)
    if fmap:
        from .fmap_matcher import load_matching_run

        config, meta, net = load_matching_run(run_dir, checkpoint, dev)
    else:
        config, meta, net = load_run(run_dir, checkpoint, dev)
    threads_before = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        with threadpool_limits(config.threads or None):
            if fmap:
                from .fmap_evaluate import evaluate_fmap_run

                result = evaluate_fmap_run(
                    run_dir, data, config, meta, net, device=dev, split=split, split_file=split_file,
                    n_points=n_points, max_pairs=max_pairs, progress=progress, refine=refine, k_refine=k_refine,
                    refine_step=refine_step, refine_points=refine_points, refine_full=refine_full,
                    adapt_steps=adapt_steps, adapt_lr=adapt_lr, source=source, fix_flips=fix_flips,
                )
            else:
                result = _evaluate(run_dir, data, config, meta, net, dev, split, refine,
                                   128 if k_refine is None else k_refine, (refine_iterations, candidates),
                                   500 if n_points is None else n_points, max_pairs, progress, split_file)
        result["checkpoint"] = path.name
        (run_dir / f"eval_{split}.json").write_text(json.dumps(result, indent=2))
        return result
    finally:
        torch.set_num_threads(threads_before)


def _evaluate(run_dir, data, config, meta, net, dev, split, refine, k_refine, refine_iterations, n_points,
              max_pairs, progress, split_file=None):
    from tqdm.auto import tqdm

    spec = OperatorSpec.from_dict(meta["spec"])
    same_data = data is None or Path(data).resolve() == Path(config.data).resolve()
    data = str(data or config.data)
    parts = read_dataset(data, split_file=split_file if split_file is not None or not same_data else config.split_file)
    if split not in parts:
        raise DatasetError(f"{data}: no {split!r} split (have {', '.join(parts)})")
    ds = MeshDataset(parts[split], spec, cache=config.cache or run_dir / "cache", progress=progress,
                     normalize=config.normalize)
    pred_dir = run_dir / "predictions"
    pred_dir.mkdir(parents=True, exist_ok=True)
    amp = bool(config.amp and dev.type == "cuda")
    loader = make_loader(ds, batch_size=1, workers=loader_workers(config, len(ds)), device=dev)

    def predicted():  # (item, torch operators on dev, logits), one shape at a time
        with torch.no_grad():
            for batch in tqdm(loader, desc="predicting", unit="shape", disable=not progress):
                for item in batch:
                    o = item.ops.to(dev)
                    yield item, o, forward_logits(net, o, input_features(o, config.inputs), amp)

    result: dict[str, Any] = {"task": config.task, "n_shapes": len(ds), "split": split}
    if config.task == "segmentation":
        result.update(_segmentation(predicted(), meta, pred_dir, ds.split))
    elif config.task == "classification":
        class_map = class_map_of(ds.split, meta["class_names"])  # before any shape is read
        result.update(_classification(predicted(), ds.split, class_map, meta, pred_dir, run_dir, split))
    else:
        # pairs need every shape's logits and eigenbasis at once: held for the whole split
        items, ops_t, logits = [], [], []
        for item, o, lg in predicted():
            items.append(item)
            ops_t.append(o)
            logits.append(lg)
        result.update(_correspondence(ds, items, ops_t, logits, pred_dir, run_dir, split, refine, k_refine,
                                      refine_iterations, n_points, max_pairs, progress))
    return result


def _shape_arrays(shape) -> dict[str, np.ndarray]:
    out = {"verts": shape.verts}
    if shape.faces is not None:
        out["faces"] = shape.faces
    return out


def _file_name(name: str) -> str:
    return name.replace("/", "__").replace("\\", "__")


def _segmentation(predicted, meta, pred_dir: Path, split) -> dict[str, Any]:
    scores = SegmentationScores(int(meta["n_out"]))
    by_name = {r.name: r for r in split.records}
    for item, o, lg in predicted:
        rec = by_name.get(item.name)
        true = target_of("segmentation", item.targets, item.name)
        pred = lg.argmax(1).cpu().numpy()
        saved = {"pred": pred, "gt": true, **_shape_arrays(item.shape)}
        kw: dict[str, Any] = {"mass": o.mass.cpu().numpy() if o.mass is not None else None}
        if item.shape.is_mesh:
            faces = item.shape.faces
            pred_f = lg[torch.as_tensor(faces, device=lg.device)].mean(1).argmax(1).cpu().numpy()
            true_f = item.targets.get("face_labels")
            if true_f is None:
                true_f = face_labels_from_vertices(faces, true)
            kw.update(pred_faces=pred_f, true_faces=true_f, face_area=item.shape.face_areas())
            saved["pred_faces"] = pred_f
        scores.add(pred, true, source=str(rec.labels or rec.mesh) if rec is not None else item.name, **kw)
        np.savez(pred_dir / f"{_file_name(item.name)}.npz", **saved)
    out = scores.summary()
    if meta.get("part_names"):
        out["class_names"] = meta["part_names"]
    return out


def _classification(predicted, split, class_map, meta, pred_dir: Path, run_dir: Path, split_name: str) -> dict[str, Any]:
    from ..cache import atomic_write_bytes

    classes = list(meta["class_names"])
    scores = ClassificationScores(tuple(classes))
    by_name = {r.name: r for r in split.records}
    stems = [r.mesh.stem for r in split.records]
    rows = ["name,true,predicted,probability\n"]
    for item, _, lg in predicted:
        rec = by_name[item.name]
        true = int(target_of("classification", item.targets, str(rec.mesh), class_map))
        prob = torch.softmax(lg.float(), dim=0).cpu().numpy()
        pred = int(prob.argmax())
        scores.add(pred, true, source=str(rec.mesh))
        stem = rec.mesh.stem
        name = stem if stems.count(stem) == 1 else _file_name(item.name)
        np.savez(pred_dir / f"{name}.npz", class_pred=np.int64(pred), class_true=np.int64(true),
                 class_names=np.array(classes), probabilities=prob, **_shape_arrays(item.shape))
        rows.append(f"{item.name},{classes[true]},{classes[pred]},{prob[pred]:.4f}\n")
    atomic_write_bytes(run_dir / f"predictions_{split_name}.csv", "".join(rows).encode())
    out = scores.summary()
    try:
        plot_confusion(out["confusion"], classes, run_dir / f"confusion_{split_name}.png",
                       title=f"{split_name}, {out['n_shapes']} shapes")
    except MissingDependencyError as e:  # the matrix is in the metrics; only the picture needs matplotlib
        log.warning("no confusion_%s.png: %s", split_name, e)
    return out


def _correspondence(ds, items, ops_t, logits, pred_dir, run_dir, split, refine, k_refine, iterations, n_points,
                    max_pairs, progress):
    from tqdm.auto import tqdm

    from ..geometry.geodesics import GeodesicSolver

    tv_pred = [lg.argmax(1) for lg in logits]
    right = total = 0
    if ds.split.template is not None:
        shutil.copyfile(ds.split.template, run_dir / "template.ply")
    for item, tv in zip(items, tv_pred):
        true = item.targets.get("template_vertex")
        saved = {"match": tv.cpu().numpy(), **_shape_arrays(item.shape)}
        if true is not None:
            saved["gt"] = true
        np.savez(pred_dir / f"{_file_name(item.name)}.npz", **saved)
        if true is not None:
            known = true >= 0
            right += int((tv.cpu().numpy()[known] == true[known]).sum())
            total += int(known.sum())
    missing = [it.name for it in items if "vts" not in it.targets]
    if missing:
        raise DatasetError(f"{missing[0]}: no template correspondence file (.vts); cannot score correspondences")
    if len(items) < 2:
        raise DatasetError("correspondence evaluation needs at least two shapes in the split")
    T = min(int(it.targets["vts"].size) for it in items)
    rng = np.random.default_rng(0)
    points = np.sort(rng.choice(T, size=min(n_points, T), replace=False))
    pairs = [(a, b) for b in range(len(items)) for a in range(len(items)) if a != b]
    if max_pairs is not None and len(pairs) > max_pairs:
        keep = np.sort(rng.choice(len(pairs), size=max_pairs, replace=False))
        pairs = [pairs[i] for i in keep]
    by_target: dict[int, list[int]] = {}
    for a, b in pairs:
        by_target.setdefault(b, []).append(a)
    # Errors against the mirrored ground truth too, when every shape has one (.sym.vts): a point
    # whose prediction is wrong but lands on its mirror image is a symmetry confusion.
    mirror_source = "files"
    if not all("sym_vts" in it.targets for it in items):
        from ..geometry.mirror_targets import add_detected_mirrors

        mirror_source = "detected reflections"
        add_detected_mirrors(items)
    has_sym = all("sym_vts" in it.targets for it in items)
    errs_init, errs_ref, errs_flip = [], [], []
    bar = tqdm(total=len(pairs), desc="matching pairs", unit="pair", disable=not progress)
    for b, sources in by_target.items():
        solver = GeodesicSolver(items[b].shape)
        D = solver.distances(items[b].targets["vts"][points])  # (N, Vb)
        D_sym = solver.distances(items[b].targets["sym_vts"][points]) if has_sym else None
        area = float(ops_t[b].mass.sum())
        for a in sources:
            S = match_scores(logits[a], logits[b])
            T0 = S.argmax(dim=1)
            src = items[a].targets["vts"][points]
            errs_init.append(geodesic_errors(D, T0.cpu().numpy()[src], area))
            pred_map = T0
            if refine and ops_t[a].evecs is not None:
                n_iter, n_cand = iterations
                cand = S.topk(min(n_cand, S.shape[1]), dim=1).indices
                pred_map = refine_map(T0, ops_t[a], ops_t[b], k_refine, candidates=cand, iterations=n_iter)
                errs_ref.append(geodesic_errors(D, pred_map.cpu().numpy()[src], area))
            if D_sym is not None:
                errs_flip.append(geodesic_errors(D_sym, pred_map.cpu().numpy()[src], area))
            bar.update()
    bar.close()
    init = np.concatenate(errs_init)
    out: dict[str, Any] = {"n_pairs": len(pairs), "n_points": int(len(points)),
                           "template_accuracy": right / max(total, 1)}
    curves = {"network": pck_curve(init)}
    final = init
    if errs_ref:
        final = np.concatenate(errs_ref)
        curves["network + spectral refinement"] = pck_curve(final)
        out["mean_geodesic_error_initial"] = float(init.mean())
        out["pck_0.05_initial"] = float((init <= 0.05).mean())
    if errs_flip:
        flip = np.concatenate(errs_flip)
        out["symmetric_flip"] = {
            "mean_geodesic_error": float(flip.mean()),
            "pck_0.05": float((flip <= 0.05).mean()),
            "symmetry_confusions": float(((final > 0.05) & (flip <= 0.05)).mean()),
            "mirror_source": mirror_source,
        }
    out["mean_geodesic_error"] = float(final.mean())
    out["mean_geodesic_error_x100"] = 100.0 * float(final.mean())
    out["pck_0.05"] = float((final <= 0.05).mean())
    out["pck_0.1"] = float((final <= 0.1).mean())
    t, f = curves[list(curves)[-1]]
    out["pck_curve"] = {"thresholds": t.tolist(), "fractions": f.tolist()}
    try:
        plot_pck(curves, run_dir / f"pck_{split}.png", title=f"correspondence, {len(pairs)} pairs")
    except MissingDependencyError as e:  # the curve is in the metrics; only the picture needs matplotlib
        log.warning("no pck_%s.png: %s", split, e)
    return out
