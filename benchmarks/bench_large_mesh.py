"""Preprocessing one very large mesh: time and peak memory of the DiffusionNet operator bundle.

The mesh is a closed bumpy torus (a ``--vertices``-point grid on it, two triangles per cell, the
tube's radius rippled so no eigenvalue is repeated by symmetry), the operators are what
``meshlearn preprocess --for diffusionnet --k K`` computes and caches (L, M, K eigenpairs, frames,
gradients; float32 storage unless ``--dtype float64``), in a fresh process. Printed: wall and CPU seconds, the peak resident
set of that process (``ru_maxrss``), its growth over the size after the imports and the mesh, and
the relative residuals ``||L x - lambda M x|| / (lambda ||M x||)`` of the stored eigenpairs,
evaluated in float64 (for float32 storage they measure the rounding of the vectors to float32,
amplified by ``||M^-1 L|| / lambda``, more than the solve: compare ``--dtype float64``). ``--eigen-coarse N`` runs the approximate eigenbasis instead
(solved on a copy of about N vertices, then a Rayleigh-Ritz step on the full mesh).

    python benchmarks/bench_large_mesh.py --vertices 1000000 --threads 1
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, load_average, run_worker  # noqa: E402


def bumpy_torus(n_vertices: int):
    """A closed torus of about ``n_vertices`` vertices (a u x v grid, u = 2 v), tube radius rippled."""
    import meshlearn

    nv = max(8, int(round(np.sqrt(n_vertices / 2.0))))
    nu = max(16, int(round(n_vertices / nv)))
    u, v = np.meshgrid(np.arange(nu) * 2 * np.pi / nu, np.arange(nv) * 2 * np.pi / nv, indexing="ij")
    r = 0.35 * (1.0 + 0.06 * np.sin(5 * u + 0.3) * np.cos(3 * v) + 0.03 * np.sin(2 * u))
    verts = np.stack([(1.0 + r * np.cos(v)) * np.cos(u), (1.0 + r * np.cos(v)) * np.sin(u), r * np.sin(v)], -1)
    idx = np.arange(nu * nv).reshape(nu, nv)
    a, b = idx, np.roll(idx, -1, 0)
    c, d = np.roll(b, -1, 1), np.roll(idx, -1, 1)
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    return meshlearn.Shape(verts.reshape(-1, 3), faces, name=f"bumpy_torus_{nu * nv}")


def worker(n_vertices: int, k: int, coarse: int, dtype: str = "float32") -> dict:
    import scipy.sparse as sp

    import meshlearn
    from meshlearn.geometry.eigensolver import relative_residuals
    from meshlearn.nets import DiffusionNet

    shape = bumpy_torus(n_vertices)
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    spec = meshlearn.OperatorSpec.for_net(DiffusionNet, k=k, eigen_coarse=coarse, dtype=dtype)
    t0, c0 = time.perf_counter(), time.process_time()
    ops = meshlearn.compute_operators(shape, spec)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    evals = np.asarray(ops.evals, dtype=np.float64)
    res = np.asarray(relative_residuals(sp.csr_matrix(ops.L, dtype=np.float64), sp.diags(np.asarray(ops.mass, dtype=np.float64)),
                                        evals, np.asarray(ops.evecs, dtype=np.float64)))
    res = res[evals > 1e-9 * evals.max()]
    return {"V": shape.n_verts, "F": int(shape.faces.shape[0]), "wall_s": wall, "cpu_s": cpu, "peak_mb": peak_mb,
            "growth_mb": peak_mb - base_mb, "res_max": float(res.max()), "res_median": float(np.median(res))}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        n, k, coarse = (int(a) for a in sys.argv[2:5])
        print(json.dumps(worker(n, k, coarse, sys.argv[5])))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vertices", type=int, default=1_000_000, help="vertices of the torus (default 1,000,000)")
    ap.add_argument("--k", type=int, default=128, help="eigenpairs (default 128)")
    ap.add_argument("--eigen-coarse", type=int, default=0, help="approximate eigenbasis from a copy of about N vertices")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                    help="storage of the operators (default float32, as meshlearn preprocess caches them)")
    ap.add_argument("--threads", type=int, default=0, help="BLAS / OpenMP threads (default: the libraries' choice)")
    ap.add_argument("--timeout", type=float, default=7200.0)
    args = ap.parse_args()
    env = {}
    if args.threads:
        env = {name: str(args.threads) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    print(command_line())
    print(f"before: {load_average()}")
    r = run_worker(__file__, [str(args.vertices), str(args.k), str(args.eigen_coarse), args.dtype], env=env, timeout=args.timeout)
    mode = f"approximate eigenbasis (--eigen-coarse {args.eigen_coarse})" if args.eigen_coarse else "exact eigenbasis"
    print(f"\nDiffusionNet operators (L, M, {args.k} eigenpairs, frames, gradients; {args.dtype}), {mode}:")
    print(f"  {r['V']:,} vertices, {r['F']:,} faces: {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU; "
          f"peak resident {r['peak_mb'] / 1024:.2f} GiB ({r['growth_mb'] / 1024:.2f} GiB over the mesh and imports)")
    print(f"  eigenpair residuals of the stored {args.dtype} pairs: max {r['res_max']:.1e}, median {r['res_median']:.1e}")
    print(f"after: {load_average()}")


if __name__ == "__main__":
    main()
