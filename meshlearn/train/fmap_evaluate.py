"""Evaluation of a functional-map run over pairs of shapes with ground-truth correspondences.

Letters: V vertices, P template (ground-truth) points, U distinct true vertices on a target.

Protocol (as ULRSSM and the deep functional-map papers): every shape of the split has a ``.vts``
file, ``vts[i]`` the vertex matching template point i. For an ordered pair (A, B) the run maps A
onto B (:class:`~meshlearn.train.fmap_matcher.FmapMatcher`); template point i is sent to
``T[vts_A[i]]`` on B, and its error is the geodesic distance on B from there to ``vts_B[i]``
divided by ``sqrt(area of B)`` (the sum of B's lumped mass). Errors are averaged over the points
(all of them, or a seeded random subset of ``n_points`` shared by every pair) and the pairs; papers
quote the mean times 100.

The pairs are every ordered pair of the split, or those of a ``test_pairs.txt``
(:mod:`meshlearn.datasets.pairs`), or a seeded random subset of ``max_pairs`` of them. Any dataset
with ``.vts`` files can be scored, also one the run was not trained on: its shapes get the run's
operator spec and normalisation (operators cached in the run's cache).

Geodesics come from one :class:`~meshlearn.geometry.geodesics.GeodesicSolver` per target shape
(heat method), from its distinct true vertices only, in blocks of rows, and serve every pair
onto that target; memory is O(block x V), never (V, V) nor (Va, Vb).

Result keys: ``mean_geodesic_error``, ``mean_geodesic_error_x100``, ``pck_0.05``, ``pck_0.1`` of the
final maps (after refinement when it is on), the same four with the suffix ``_initial`` for the
maps before refinement, ``refined`` (bool), ``k_refine``, ``fmap_k``, ``adapt_steps``, ``source``,
``n_pairs``, ``n_points`` (points per pair), ``flips_fixed`` (with ``fix_flips``: the pairs whose
maps were replaced by their mirror images), ``pairs_from`` (``"all ordered pairs"`` or the pair
file), ``pck_curve``, ``seconds`` (``prepare``, ``match``, ``geodesics``, ``mirrors``), and
``symmetric_flip`` (errors against the mirrored ground truth; ``mirror_source`` says where it
came from: every target shape's ``.sym.vts`` file, or else the left-right reflection that
:func:`meshlearn.geometry.symmetry.detect_reflections` finds on each target, which leaves the
report out when some target has none). Files:
``pck_<split>.png`` and ``pairs_<split>.csv`` (per pair: names, mean error before and after
refinement).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, MissingDependencyError
from .fmap_matcher import FmapMatcher
from .metrics import pck_curve, plot_pck

__all__ = ["evaluate_fmap_run", "evaluate_fmap", "evaluation_pairs", "pair_points", "GEODESIC_BLOCK"]

log = logging.getLogger(__name__)

#: geodesic distance rows (sources) held at once per target shape
GEODESIC_BLOCK = 256


def pair_points(n_template: int, n_points: int | None, seed: int = 0) -> np.ndarray:
    """Sorted template points scored in every pair: all ``n_template``, or a seeded random
    ``n_points`` of them."""
    if n_points is None or n_points <= 0 or n_points >= n_template:
        return np.arange(n_template)
    return np.sort(np.random.default_rng(seed).choice(n_template, size=n_points, replace=False))


def evaluation_pairs(split, split_name: str, root, max_pairs: int | None = None, seed: int = 0):
    """``(pairs, pairs_from)``: the index pairs of ``split`` to score (its ``test_pairs.txt``, else
    every ordered pair; at most ``max_pairs`` of them, a seeded random subset) and where they came from."""
    from ..datasets.pairs import find_pairs_file, ordered_pairs, read_pairs

    names = [r.name for r in split.records]
    found = find_pairs_file(split, split_name, root)
    if found is not None:
        pairs, pairs_from = read_pairs(found, names), str(found)
        log.info("%s: %d pairs listed", found, len(pairs))
    else:
        if len(names) < 2:
            raise DatasetError(f"{split.root}: correspondence evaluation needs at least two shapes in the split (got {len(names)})")
        pairs, pairs_from = ordered_pairs(len(names)), "all ordered pairs"
    if max_pairs is not None and len(pairs) > max_pairs:
        keep = np.sort(np.random.default_rng(seed).choice(len(pairs), size=max_pairs, replace=False))
        pairs = [pairs[i] for i in keep]
    return pairs, pairs_from


def evaluate_fmap_run(run_dir: Path, data, config, meta, model, *, device: Any = "cpu", split: str = "test",
                      split_file=None, n_points: int | None = None, max_pairs: int | None = None,
                      progress: bool = False, **matching: Any) -> dict[str, Any]:
    """Score a functional-map run on ``split`` of ``data`` (default: the run's data folder, with its
    split file; another folder is split by its own layout or by ``split_file``). ``matching`` holds
    :class:`FmapMatcher`'s options (``refine``, ``k_refine``, ``refine_step``, ``refine_points``,
    ``refine_full``, ``adapt_steps``, ``adapt_lr``, ``source``, ``fix_flips``)."""
    from ..datasets import MeshDataset, read_dataset

    same_data = data is None or Path(data).resolve() == Path(config.data).resolve()
    data = str(data or config.data)
    if split_file is None and same_data:
        split_file = config.split_file
    parts = read_dataset(data, split_file=split_file)
    if split not in parts:
        raise DatasetError(f"{data}: no {split!r} split (have {', '.join(parts)})")
    matcher = FmapMatcher(config, meta, model, device=device, **matching)
    ds = MeshDataset(parts[split], matcher.spec, cache=config.cache or run_dir / "cache", progress=progress,
                     normalize=config.normalize)
    pairs, pairs_from = evaluation_pairs(ds.split, split, data, max_pairs)
    out = {"task": config.task, "method": config.method, "n_shapes": len(ds), "split": split, "data": data}
    out.update(evaluate_fmap(ds, matcher, pairs, pairs_from=pairs_from, run_dir=run_dir, split=split,
                             n_points=n_points, progress=progress))
    return out


def _summary(errors: np.ndarray, suffix: str = "") -> dict[str, float]:
    return {
        f"mean_geodesic_error{suffix}": float(errors.mean()),
        f"mean_geodesic_error_x100{suffix}": 100.0 * float(errors.mean()),
        f"pck_0.05{suffix}": float((errors <= 0.05).mean()),
        f"pck_0.1{suffix}": float((errors <= 0.1).mean()),
    }


def _check_pairs(pairs, items, records) -> None:
    missing = sorted({i for p in pairs for i in p if "vts" not in items[i].targets})
    if missing:
        rec = records[missing[0]]
        raise DatasetError(
            f"{rec.mesh}: no ground-truth correspondence file (.vts) next to it; correspondence evaluation needs one "
            f"per shape ({len(missing)} shape(s) lack it), e.g. corres/{rec.mesh.stem}.vts"
        )
    for a, b in pairs:
        na, nb = items[a].targets["vts"].size, items[b].targets["vts"].size
        if na != nb:
            raise DatasetError(
                f"{records[a].vts} has {na} points but {records[b].vts} has {nb}: the .vts files of a pair must "
                "list the same template points; pair shapes of one template (a test_pairs.txt) or fix the files"
            )


def evaluate_fmap(ds, matcher: FmapMatcher, pairs: list[tuple[int, int]], *, pairs_from: str, run_dir: Path,
                  split: str, n_points: int | None = None, progress: bool = False) -> dict[str, Any]:
    """Score ``matcher`` on ``pairs`` of the dataset ``ds`` (a MeshDataset with the run's spec);
    see the module docstring for the protocol and the keys."""
    from tqdm.auto import tqdm

    from ..geometry.geodesics import GeodesicSolver

    records = ds.split.records
    used = sorted({i for p in pairs for i in p})
    seconds = {"prepare": 0.0, "match": 0.0, "geodesics": 0.0}
    t0 = time.perf_counter()
    items = {i: ds[i] for i in used}
    _check_pairs(pairs, items, records)
    prepared = {i: matcher.prepare(items[i].shape, items[i].ops, str(records[i].mesh))
                for i in tqdm(used, desc="descriptors", unit="shape", disable=not progress)}
    seconds["prepare"] = time.perf_counter() - t0
    # the mirrored ground truth on each target shape: its .sym.vts, else the detected reflection
    targets = sorted({b for _, b in pairs})
    mirror_source = "files"
    if not all("sym_vts" in items[b].targets for b in targets):
        from ..geometry.mirror_targets import add_detected_mirrors

        for b in targets:  # the reflections the matcher found already (fix_flips), else a search now
            reflection = None if prepared[b].orientation is None else prepared[b].orientation[2]
            if "sym_vts" not in items[b].targets and reflection is not None:
                items[b].targets["sym_vts"] = reflection[items[b].targets["vts"]]
        t = time.perf_counter()
        add_detected_mirrors([items[b] for b in targets])
        seconds["mirrors"] = time.perf_counter() - t
        mirror_source = "detected reflections"
    has_sym = all("sym_vts" in items[b].targets for b in targets)
    points_of: dict[int, np.ndarray] = {}
    by_target: dict[int, list[int]] = {}
    for a, b in pairs:
        by_target.setdefault(b, []).append(a)
    errs: dict[tuple[int, int], dict[str, np.ndarray]] = {}
    flips_fixed = 0
    bar = tqdm(total=len(pairs), desc="matching pairs", unit="pair", disable=not progress)
    for b, sources in by_target.items():
        t = time.perf_counter()
        vts_b = items[b].targets["vts"]
        pts = points_of.setdefault(vts_b.size, pair_points(vts_b.size, n_points))
        preds: dict[int, dict[str, np.ndarray]] = {}
        for a in sources:
            m = matcher.map(prepared[a], prepared[b])
            flips_fixed += m.flipped
            src = items[a].targets["vts"][pts]
            preds[a] = {"initial": m.initial[src]}
            if m.refined is not None:
                preds[a]["refined"] = m.refined[src]
            bar.update()
        seconds["match"] += time.perf_counter() - t
        t = time.perf_counter()
        truths = {"true": vts_b[pts]}
        if has_sym:
            truths["mirror"] = items[b].targets["sym_vts"][pts]
        area = float(prepared[b].ops.mass.sum())
        dist = _distances_at(GeodesicSolver(items[b].shape), truths, preds)
        for a in sources:
            errs[(a, b)] = {key: d / np.sqrt(area) for key, d in dist[a].items()}
        seconds["geodesics"] += time.perf_counter() - t
    bar.close()
    out = _result(errs, pairs, records, matcher, pairs_from, points_of, seconds, mirror_source if has_sym else None, run_dir, split)
    if matcher.fix_flips:
        out["flips_fixed"] = int(flips_fixed)
    return out


def _distances_at(solver, truths: dict[str, np.ndarray], preds: dict[int, dict[str, np.ndarray]]):
    """Geodesic distances ``d(truth[p], pred[p])`` for every truth kind and prediction kind of every
    source: ``{a: {"initial": (P,), "refined": (P,), "initial_mirror": ...}}``, computed from the
    distinct true vertices in blocks of :data:`GEODESIC_BLOCK` rows."""
    sources = np.unique(np.concatenate(list(truths.values())))
    row = {kind: np.searchsorted(sources, t) for kind, t in truths.items()}
    out = {a: {} for a in preds}
    for kind, r in row.items():
        for a, by_map in preds.items():
            for name in by_map:
                out[a][name if kind == "true" else f"{name}_{kind}"] = np.empty(r.size)
    for start in range(0, sources.size, GEODESIC_BLOCK):
        D = solver.distances(sources[start : start + GEODESIC_BLOCK])  # (block, Vb)
        for kind, r in row.items():
            here = (r >= start) & (r < start + D.shape[0])
            for a, by_map in preds.items():
                for name, pred in by_map.items():
                    key = name if kind == "true" else f"{name}_{kind}"
                    out[a][key][here] = D[r[here] - start, pred[here]]
    return out


def _result(errs, pairs, records, matcher, pairs_from, points_of, seconds, mirror_source, run_dir, split):
    """The metrics of the module docstring; ``mirror_source`` ("files", "detected reflections", or
    None when some target has no mirrored truth) labels the symmetric-flip report."""
    from ..cache import atomic_write_bytes

    refined = matcher.refines
    final_key = "refined" if refined else "initial"
    init = np.concatenate([errs[p]["initial"] for p in pairs])
    final = np.concatenate([errs[p][final_key] for p in pairs])
    out: dict[str, Any] = {"n_pairs": len(pairs), "n_points": int(max(len(v) for v in points_of.values())),
                           "pairs_from": pairs_from, "refined": refined, "k_refine": matcher.k_refine,
                           "fmap_k": matcher.fmap_k, "adapt_steps": matcher.adapt_steps, "source": matcher.source}
    out.update(_summary(final))
    out.update(_summary(init, "_initial"))
    if mirror_source:
        flip = np.concatenate([errs[p][f"{final_key}_mirror"] for p in pairs])
        out["symmetric_flip"] = {
            "mean_geodesic_error": float(flip.mean()),
            "pck_0.05": float((flip <= 0.05).mean()),
            "symmetry_confusions": float(((final > 0.05) & (flip <= 0.05)).mean()),
            "mirror_source": mirror_source,
        }
    curves = {"functional map": pck_curve(init)}
    if refined:
        curves[f"+ ZoomOut to {matcher.k_refine}"] = pck_curve(final)
    t, f = curves[list(curves)[-1]]
    out["pck_curve"] = {"thresholds": t.tolist(), "fractions": f.tolist()}
    out["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    rows = ["shape_a,shape_b,mean_error_initial,mean_error\n"]
    rows += [f"{records[a].name},{records[b].name},{errs[(a, b)]['initial'].mean():.6f},"
             f"{errs[(a, b)][final_key].mean():.6f}\n" for a, b in pairs]
    atomic_write_bytes(run_dir / f"pairs_{split}.csv", "".join(rows).encode())
    try:
        plot_pck(curves, run_dir / f"pck_{split}.png", title=f"correspondence, {len(pairs)} pairs")
    except MissingDependencyError as e:  # the curve is in the metrics; only the picture needs matplotlib
        log.warning("no pck_%s.png: %s", split, e)
    return out
