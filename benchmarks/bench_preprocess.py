"""Benchmark: `meshlearn.preprocess` throughput on ~10k-vertex meshes with 1 and 2 workers, and the
cost of a fully cached rerun (which should be reading files only).

Usage::

    python benchmarks/bench_preprocess.py               # 12 meshes of 10242 vertices, k=128
    python benchmarks/bench_preprocess.py --quick       # 4 meshes, k=32
    python benchmarks/bench_preprocess.py --n 24 --workers 1 2 4

Prints one table: for each configuration the wall time, shapes per second and the speed-up over
one single-threaded worker. "load only" is the time to read and hash every file without touching
the cache, the floor for a cached rerun. Each solve runs on one core (its ARPACK fallback alone
may use a second one outside a pool of workers).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import trimesh
from threadpoolctl import threadpool_limits

import meshlearn
from meshlearn.testing import bumpy_sphere


def make_meshes(folder: Path, n: int, subdivisions: int) -> list[Path]:
    paths = []
    for i in range(n):
        s = bumpy_sphere(subdivisions, amplitude=0.15, seed=i)
        path = folder / f"mesh{i:03d}.ply"
        trimesh.Trimesh(s.verts, s.faces, process=False).export(path)
        paths.append(path)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=12, help="number of meshes (default 12)")
    ap.add_argument("--subdivisions", type=int, default=5, help="icosphere level: 5 gives 10242 vertices (default)")
    ap.add_argument("--k", type=int, default=128, help="eigenpairs (default 128)")
    ap.add_argument("--ops", default="spectral,hks", help="operator kinds (default spectral,hks)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to compare (default 1 2)")
    ap.add_argument("--quick", action="store_true", help="4 meshes, k=32")
    args = ap.parse_args()
    if args.quick:
        args.n, args.k = 4, 32

    with tempfile.TemporaryDirectory(prefix="bench_preprocess_") as tmp:
        tmp = Path(tmp)
        inputs = tmp / "meshes"
        inputs.mkdir()
        paths = make_meshes(inputs, args.n, args.subdivisions)
        V = meshlearn.load(paths[0]).n_verts
        rows: list[tuple[str, float, float, str]] = []
        base = None
        # One worker runs in this process with the BLAS's own thread count; pool workers get one
        # BLAS thread each. The "1 BLAS thread" row is the per-process baseline for scaling.
        runs = [(1, "compute, 1 worker, 1 BLAS thread", 1)] + [
            (w, f"compute, {w} worker{'s' if w > 1 else ''}", None) for w in args.workers
        ]
        for w, name, blas in runs:
            out = tmp / f"cache_{len(rows)}"
            t0 = time.perf_counter()
            with threadpool_limits(blas):
                s = meshlearn.preprocess(inputs, out, ops=args.ops, k=args.k, workers=w, quiet=True)
            wall = time.perf_counter() - t0
            assert s.complete, s.format()
            base = base or wall
            rows.append((name, wall, args.n / wall, f"{base / wall:.2f}x"))
        out = tmp / "cache_0"
        for w in sorted({1, *args.workers}):
            t0 = time.perf_counter()
            s = meshlearn.preprocess(inputs, out, ops=args.ops, k=args.k, workers=w, quiet=True)
            wall = time.perf_counter() - t0
            assert s.counts["skipped-cached"] == args.n, s.format()
            rows.append((f"cached rerun, {w} worker{'s' if w > 1 else ''}", wall, args.n / wall, ""))
        t0 = time.perf_counter()
        for p in paths:
            meshlearn.load(p).content_hash()
        wall = time.perf_counter() - t0
        rows.append(("load only (floor of a rerun)", wall, args.n / wall, ""))
        size = sum(f.stat().st_size for f in out.glob("*.npz")) / 2**20

    print(f"\n{args.n} meshes x {V} vertices, ops={args.ops}, k={args.k}, {os.cpu_count()} cores; cache {size:.1f} MiB")
    print(f"{'run':34s} {'wall s':>8s} {'shapes/s':>9s} {'speed-up':>9s}")
    for name, wall, rate, speed in rows:
        print(f"{name:34s} {wall:8.2f} {rate:9.2f} {speed:>9s}")


if __name__ == "__main__":
    main()
