"""Benchmark: the time `meshlearn eval` takes on a functional-map run, over every ordered pair.

A synthetic correspondence dataset (``meshlearn data synthetic --task correspondence``: bodies of
about ``--vertices`` vertices with ``.vts`` files) with ``--n-test`` test shapes is written once,
and a functional-map run of an untrained, seeded DiffusionNet (``--k 128 --fmap-k 50
--fmap-dim 128``, width 64, 4 blocks, WKS inputs) is scored on its test split with and without
ZoomOut refinement, all points of every pair. Reported per setting: pairs, points per pair, wall
and CPU seconds of the whole evaluation (operators read from the run's cache after the first
pass), and the evaluation's own split into descriptors, matching and geodesics (wall). The errors
are those of an untrained network: only the times mean anything here.

Usage::

    python benchmarks/bench_fmap_eval.py --work /tmp/bench_fmap_eval                 # 20 shapes, 5k vertices
    python benchmarks/bench_fmap_eval.py --work /tmp/bench_fmap_eval --n-test 6 --vertices 2000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from meshlearn.datasets import write_dataset
from meshlearn.testing import write_fmap_run
from meshlearn.train.evaluate import evaluate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--n-test", type=int, default=20)
    p.add_argument("--vertices", type=int, default=5000)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    data = args.work / f"data_{args.n_test}x{args.vertices}"
    if not data.exists():
        n = args.n_test + 5
        write_dataset(data, n=n, seed=0, n_vertices=args.vertices, test_fraction=args.n_test / n, progress=False)
    run = args.work / "run"
    write_fmap_run(run, data, width=64, n_blocks=4, k=128, fmap_k=50, fmap_dim=128, threads=args.threads)
    rows = []
    for refine in (True, False):
        wall, cpu = time.perf_counter(), time.process_time()
        with threadpool_limits(args.threads):
            r = evaluate(run, refine=refine)
        rows.append({"refine": refine, "n_pairs": r["n_pairs"], "n_points": r["n_points"],
                     "wall_s": round(time.perf_counter() - wall, 1), "cpu_s": round(time.process_time() - cpu, 1),
                     "split_wall_s": r["seconds"]})
        print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
