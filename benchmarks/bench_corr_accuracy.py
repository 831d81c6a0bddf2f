"""Correspondence accuracy of deep functional-map pipelines trained with the same budget on one dataset.

The pipelines of ``benchmarks/_corr_pipelines.py``: meshlearn's ``fmap-unsupervised`` run and
ULRSSM's pieces (unsupervised; WKS 128 in, 256 descriptors, k = 50), meshlearn's ``fmap-supervised``
run, the same on its supervised term alone, and DiffusionNet's supervised ``functional_correspondence``
model (HKS 16 in, 128 descriptors, k = 30);
width 128, 4 blocks, dropout 0.5 for all. Each trains, in its own process with ``--threads``
threads, ``--steps`` steps of one ordered pair each, the pairs drawn from the training shapes by
one random sequence (``--seed``) that every pipeline follows, its network initialised from the
same seed, with its own optimiser settings (Adam 1e-3 unsupervised, 5e-4 supervised, DiffusionNet's
rate). Then each maps every ordered pair (A, B) of test shapes, A != B, by its own test-time
protocol (``_corr_pipelines``), and all maps are scored here by one metric, ULRSSM's: for each
template point i, the geodesic distance on A between the predicted vertex ``T[vts_B[i]]`` and the
true one ``vts_A[i]``, divided by sqrt(area of A), averaged over the points and pairs, x100.
"PCK 5%" is the share of points with an error under 0.05 sqrt(area); "vs mirrored truth" the mean
error against the mirror image of each template point (``.sym.vts``, when every test shape has
one): low where a pipeline maps left to right. meshlearn's unsupervised model is also scored with
T from its solver's C (a second row), beside ULRSSM's protocol (the soft map's C).

The dataset folder (``--data``) has train/ and test/ in the labelled layout with ``corres/*.vts``
(what ``meshlearn data synthetic --task correspondence`` writes) or the FAUST_r layout (``off/``,
``corres/``), read with :func:`meshlearn.datasets.read_dataset`; every shape needs a ``.vts`` file.
``--synthetic N`` first writes N synthetic bodies of about ``--vertices`` vertices there when the
folder does not exist yet (as ``meshlearn data synthetic --task correspondence``). Geodesics:
meshlearn's ``GeodesicSolver``, ``--geodesics heat`` (default; one factorisation per test shape, all
template points at once) or ``exact`` (MMP; minutes per shape at a few thousand points).

Run::

    meshlearn data synthetic --task correspondence --out data/syn12 --n 12 --vertices 1500
    python benchmarks/bench_corr_accuracy.py --data data/syn12 --quick     # 150 steps each
    python benchmarks/bench_corr_accuracy.py --data data/syn12 --synthetic 12 --vertices 1500 --quick

``--quick`` (150 steps) is sized for minutes on 2 cores at 1500 vertices (each pipeline's
training time is printed); with two test shapes the figures move by several points from run
to run (the peers' ARPACK eigensolves start from a random vector, and training amplifies that). The full
setting is ``--steps 2000`` (the default), where ULRSSM trains FAUST_r for 15 epochs of 80 x 79
pairs and DiffusionNet's experiment for 5: those budgets are far beyond a shared CPU, so compare
the pipelines with one another at the same budget, not with published figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import command_line, load_average, print_table, run_side  # noqa: E402
from _corr_pipelines import PIPELINES, make_pipeline, peer_problem, selected_pipelines  # noqa: E402


def load_split(data: str, split: str):
    """[(name, Shape, vts, sym_vts or None)] of one split of the dataset folder, every shape with its .vts."""
    from meshlearn.datasets import read_dataset
    from meshlearn.datasets.readers import load_sample
    from meshlearn.errors import DatasetError

    out = []
    for rec in read_dataset(data)[split].records:
        if rec.vts is None:
            raise DatasetError(f"{rec.mesh}: no correspondence file (corres/{Path(rec.mesh).stem}.vts); "
                               "every shape of a correspondence benchmark needs one")
        s = load_sample(rec)
        sym = None if s.sym_vts is None else np.asarray(s.sym_vts, dtype=np.int64)
        out.append((rec.name, s.shape, np.asarray(s.vts, dtype=np.int64), sym))
    return out


def train_pairs(n_train: int, steps: int, seed: int) -> np.ndarray:
    """(steps, 2) ordered pairs of distinct training shapes, the same for every pipeline."""
    rng = np.random.default_rng(seed)
    return np.array([rng.choice(n_train, size=2, replace=False) for _ in range(steps)], dtype=np.int64)


def test_pairs(n_test: int) -> list[tuple[int, int]]:
    return [(a, b) for a in range(n_test) for b in range(n_test) if a != b]


def worker(name: str, data: str, steps: int, seed: int, k: int, out: str, checks: tuple[int, ...] = ()) -> dict:
    """Train pipeline ``name`` and save its test maps to ``out`` (``<a>_<b>``; ``s<N>_<a>_<b>`` after
    each of ``checks`` steps short of the last, for the learning curve)."""
    train, test = load_split(data, "train"), load_split(data, "test")
    pipe = make_pipeline(name, seed=seed, k=k)
    t0 = time.perf_counter()
    prep_train = [pipe.prepare(t[1]) for t in train]
    prep_test = [pipe.prepare(t[1]) for t in test]
    prep_s = time.perf_counter() - t0
    losses, maps, match_s_checks = [], {}, 0.0
    t0 = time.perf_counter()
    for n, (i, j) in enumerate(train_pairs(len(train), steps, seed), 1):
        losses.append(pipe.step(prep_train[i], prep_train[j], train[i][2], train[j][2]))
        if n in checks and n < steps:
            t1 = time.perf_counter()
            maps.update({f"s{n}_{a}_{b}": pipe.match(prep_test[a], prep_test[b]) for a, b in test_pairs(len(test))})
            match_s_checks += time.perf_counter() - t1
    train_s = time.perf_counter() - t0 - match_s_checks
    t0 = time.perf_counter()
    maps.update({f"{a}_{b}": pipe.match(prep_test[a], prep_test[b]) for a, b in test_pairs(len(test))})
    match_s = time.perf_counter() - t0
    if name == "meshlearn":  # the same trained model, T from the solver's C rather than the soft map's
        maps.update({f"solver_{a}_{b}": pipe.match(prep_test[a], prep_test[b], source="solver")
                     for a, b in test_pairs(len(test))})
    np.savez(out, **maps)
    tail = losses[-max(1, len(losses) // 10):] if losses else [float("nan")]
    return {"prep_s": prep_s, "train_s": train_s, "match_s": match_s, "loss_first": losses[0] if losses else None,
            "loss_last": float(np.mean(tail)), "n_train": len(train), "n_test": len(test)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        import torch

        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
        name, data, steps, seed, k, out, checks = sys.argv[2:9]
        checks = tuple(int(c) for c in checks.split(",") if c)
        print(json.dumps(worker(name, data, int(steps), int(seed), int(k), out, checks)))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="dataset folder (train/ and test/, labelled or FAUST_r layout, .vts files)")
    p.add_argument("--steps", type=int, default=2000, help="training steps (one ordered pair each) per pipeline")
    p.add_argument("--quick", action="store_true", help="150 steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=int, default=None, help="eigenpairs of the unsupervised maps (default 50)")
    p.add_argument("--pipelines", default=",".join(PIPELINES))
    p.add_argument("--geodesics", default="heat", choices=["heat", "exact"])
    p.add_argument("--points", type=int, default=0, help="template points scored per pair (0: all)")
    p.add_argument("--synthetic", type=int, default=0,
                   help="write this many synthetic bodies to --data first when it does not exist")
    p.add_argument("--vertices", type=int, default=1500, help="vertices per synthetic body (with --synthetic)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checks", default="",
                   help="comma-separated step counts (below --steps) at which the test pairs are also scored: "
                        "a learning-curve table")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per pipeline before it counts as failed")
    args = p.parse_args()
    if args.quick:
        args.steps = 150
    names = selected_pipelines(p, args.pipelines)
    try:
        checks = sorted({int(c) for c in args.checks.split(",") if c.strip()})
    except ValueError:
        p.error(f"--checks takes comma-separated step counts (got {args.checks!r})")
    if any(not 0 < c < args.steps for c in checks):
        p.error(f"--checks must lie between 1 and --steps - 1 = {args.steps - 1} (got {args.checks})")
    k = args.k if args.k is not None else PIPELINES["meshlearn"][0].k

    from meshlearn.geometry.geodesics import GeodesicSolver

    print(command_line())
    print(f"before: {load_average()}; {args.threads} thread(s) per pipeline")
    if args.synthetic and not Path(args.data).exists():
        from meshlearn.datasets.synthetic import write_dataset

        write_dataset(args.data, n=args.synthetic, n_vertices=args.vertices, progress=False)
        print(f"wrote {args.synthetic} synthetic bodies of about {args.vertices} vertices to {args.data}")
    train, test = load_split(args.data, "train"), load_split(args.data, "test")
    if len(train) < 2 or len(test) < 2:
        from meshlearn.errors import DatasetError

        raise DatasetError(f"{args.data}: needs at least two training and two test shapes "
                           f"(has {len(train)} and {len(test)})")
    n_templ = min(t[2].size for t in train + test)
    points = np.arange(n_templ)
    if 0 < args.points < n_templ:
        points = np.sort(np.random.default_rng(args.seed).choice(n_templ, size=args.points, replace=False))
    pairs = test_pairs(len(test))
    verts = [t[1].n_verts for t in train + test]
    print(f"{args.data}: {len(train)} training shapes, {len(test)} test shapes ({len(pairs)} ordered pairs), "
          f"{min(verts)}-{max(verts)} vertices, {points.size} template points scored per pair")

    t0 = time.perf_counter()
    solvers = [GeodesicSolver(t[1], method=args.geodesics) for t in test]
    dist = [g.distances(t[2][points]) for g, t in zip(solvers, test)]  # (N, Va) each
    # the mirror image of each template point (.sym.vts), to tell left-right flips from other errors
    has_sym = all(t[3] is not None and t[3].size >= n_templ for t in test)
    dist_sym = [g.distances(t[3][points]) for g, t in zip(solvers, test)] if has_sym else None
    sqrt_area = [float(np.sqrt(t[1].area())) for t in test]
    print(f"{args.geodesics} geodesics of the test shapes: {time.perf_counter() - t0:.1f} s")

    env = dict(os.environ, BENCH_THREADS=str(args.threads))
    rows, curve = [], []
    with tempfile.TemporaryDirectory(prefix="meshlearn-bench-corr-") as scratch:
        for name in names:
            settings, supervised, inputs = PIPELINES[name]
            head = [name, "C_gt" if supervised else "none", settings.k if supervised else k]
            why = peer_problem(name)
            if why:
                rows.append([*head, "", "", "", "", "", "", "", f"not run: {why}"])
                continue
            out = str(Path(scratch) / f"{name}.npz")
            cmd = [sys.executable, __file__, "--worker", name, args.data, str(args.steps), str(args.seed), str(k), out,
                   ",".join(str(c) for c in checks)]
            r = run_side(cmd, env=env, timeout=args.timeout)
            if "train_s" not in r:
                rows.append([*head, "", "", "", "", "", "", "", f"failed: {r.get('failed')}"])
                continue
            maps = np.load(out)

            def score(prefix: str) -> tuple[np.ndarray, np.ndarray | None]:
                errs, flips = [], []
                for a, b in pairs:
                    pred = maps[f"{prefix}{a}_{b}"][test[b][2][points]]
                    errs.append(dist[a][np.arange(points.size), pred] / sqrt_area[a])
                    if has_sym:
                        flips.append(dist_sym[a][np.arange(points.size), pred] / sqrt_area[a])
                return np.concatenate(errs), (np.concatenate(flips) if has_sym else None)

            for prefix, label in (("", name), ("solver_", f"{name}, T from the solver's C")):
                if f"{prefix}0_1" not in maps:
                    continue
                e, f = score(prefix)
                flip = f"{100 * f.mean():.2f}" if f is not None else ""
                rows.append([label, *head[1:], f"{r['prep_s']:.1f}", f"{r['train_s']:.0f}", f"{r['match_s']:.1f}",
                             f"{r['loss_first']:.3g} -> {r['loss_last']:.3g}", f"{100 * e.mean():.2f}",
                             f"{100 * (e < 0.05).mean():.1f}", flip, ""])
            if checks:
                curve.append([name] + [f"{100 * score(f's{c}_')[0].mean():.2f}" for c in checks]
                             + [f"{100 * score('')[0].mean():.2f}"])
    print(f"\n### correspondence accuracy, {args.steps} training steps each, seed {args.seed}, "
          f"{len(pairs)} ordered test pairs, cpu, {args.threads} thread(s)\n")
    print_table(["pipeline", "supervision", "k", "prep s", "train s", "match s", "loss first -> last 10%",
                 "geodesic error x100", "PCK 5% (%)", "vs mirrored truth x100", "note"], rows)
    print("\ngeodesic error: mean over template points and ordered test pairs of d_A(T[vts_B], vts_A) / sqrt(area A), x100; "
          "'vs mirrored truth': the same against the mirror image of each template point (.sym.vts; low when a "
          "pipeline maps left to right); losses are each pipeline's own (not comparable across pipelines).")
    if curve:
        print("\n### learning curve: geodesic error x100 of the test pairs after N training steps\n")
        print_table(["pipeline"] + [f"{c} steps" for c in checks] + [f"{args.steps} steps"], curve)
    print(f"after: {load_average()}")


if __name__ == "__main__":
    main()
