"""Preprocessing time, peak memory and eigenpair accuracy: meshlearn's operator bundles beside the
reference implementations, measured in the same run.

Bundles (each timed end to end on one shape, in a fresh subprocess so that peak memory is its own):

``diffusionnet``
    What DiffusionNet needs: Laplacian L and mass M, k eigenpairs (128), tangent frames and the two
    gradient operators.

    * meshlearn: ``compute_operators(shape, OperatorSpec.for_net(DiffusionNet, k=128))`` (robust
      Laplacian by default; ``--laplacian cotan`` for the reference's discretisation).
    * reference: DiffusionNet's own ``diffusion_net.geometry.compute_operators(verts, faces,
      k_eig=128)`` (cotan Laplacian, scipy ``eigsh`` in shift-invert mode, its gradient fit), imported
      from the peers folder (``shared/peers/diffusion-net``, see ``benchmarks/_common.py``); with
      no cache folder it writes nothing.

    Both return float64 here (meshlearn ``dtype="float64"``, the reference given float64 vertices),
    so that the eigenpair accuracy is the solver's, not float32 rounding. Accuracy: the relative
    residuals ``||L x - lambda M x|| / (lambda ||M x||)`` of the non-zero eigenpairs, each side on
    the L and M it returned, max and median (measured after the timing).

``gauge``
    What GEM-CNN needs: frames, neighbour angles and transport angles of every directed edge.

    * meshlearn: ``tangent_frames`` + ``gauge_data`` (angle-scaled Levi-Civita connection).
    * reference: geometry-central's connection through potpourri3d (``MeshVectorHeatSolver``
      without intrinsic Delaunay: its tangent frames and connection Laplacian, whose off-diagonal
      phases are the transport angles) plus projected neighbour angles.

``patches`` (only with ``--patches``)
    Geodesic polar coordinates of the 32 nearest vertices within 0.05 sqrt(area) of every vertex.

    * meshlearn: ``geodesic_patches`` (vectorised discrete exponential map).
    * reference: one vector-heat log map per vertex (potpourri3d ``compute_log_map``), timed on 64
      sources and scaled to all V (marked ``*``).

Shapes: bumpy spheres (icosphere subdivisions 4..7: 2,562 / 10,242 / 40,962 / 163,842 vertices).
Peak memory: growth of the worker's peak resident set (``VmHWM``) over its size after the imports
and the shape. Times: wall clock and CPU time (``time.process_time``, all threads) of the bundle on
the shape in a fresh process. ``--repeat N`` runs each side N times, alternating (the order swapped
every round), and reports the medians: on a shared machine single timings vary by 10-30%, so only
ratios within one run compare; the load average is printed before and after.

A reference that cannot be imported is reported and its rows skipped.

Run: ``python benchmarks/bench_operators.py`` (10k and 40k vertices, 3 rounds: a few minutes on 2
cores, most of it the reference's eigensolves), ``--sizes 7 --repeat 1`` for the 164k mesh (about five
minutes), ``--bundles gauge`` or ``--patches`` for the others; ``--threads 1`` on a loaded machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import command_line, import_peer, load_average, print_table, run_side  # noqa: E402


def _status_kb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    return float("nan")


def _residuals(L, mass, evals, evecs) -> tuple[float, float]:
    """(max, median) relative residual of the non-zero eigenpairs, in float64."""
    import scipy.sparse as sp

    from meshlearn.geometry.eigensolver import relative_residuals

    evals = np.asarray(evals, dtype=np.float64)
    evecs = np.asarray(evecs, dtype=np.float64)
    r = relative_residuals(sp.csr_matrix(L, dtype=np.float64), sp.diags(np.asarray(mass, dtype=np.float64)), evals, evecs)
    r = r[evals > 1e-6 * evals.max()]
    return float(r.max()), float(np.median(r))


def _torch_sparse_to_scipy(t):
    import scipy.sparse as sp

    t = t.coalesce()
    i = t.indices().numpy()
    return sp.csr_matrix((t.values().numpy(), (i[0], i[1])), shape=tuple(t.shape))


# ----------------------------------------------------------------------------- diffusionnet bundle


def _meshlearn_diffusionnet(shape, k: int, laplacian: str):
    import meshlearn
    from meshlearn.nets import DiffusionNet

    spec = meshlearn.OperatorSpec.for_net(DiffusionNet, k=k, laplacian=laplacian, dtype="float64")
    ops = meshlearn.compute_operators(shape, spec)
    return lambda: _residuals(ops.L, ops.mass, ops.evals, ops.evecs)


def _reference_diffusionnet(shape, k: int, laplacian: str):
    import torch

    dn, why = import_peer("diffusion_net")
    if dn is None:
        raise ImportError(why)
    verts = torch.from_numpy(np.ascontiguousarray(shape.verts, dtype=np.float64))
    faces = torch.from_numpy(np.ascontiguousarray(shape.faces, dtype=np.int64))
    _frames, mass, L, evals, evecs, _gx, _gy = dn.geometry.compute_operators(verts, faces, k_eig=k)
    return lambda: _residuals(_torch_sparse_to_scipy(L), mass.numpy(), evals.numpy(), evecs.numpy())


def _reference_gauge(shape) -> dict:
    import potpourri3d as pp3d

    t = {}
    t0 = time.perf_counter()
    solver = pp3d.MeshVectorHeatSolver(shape.verts, shape.faces, use_intrinsic_delaunay=False)
    bx, by, _ = solver.get_tangent_frames()
    C = solver.get_connection_laplacian().tocoo()
    off = C.row != C.col
    src, dst = C.row[off], C.col[off]
    transport = np.angle(-C.data[off])
    d = shape.verts[dst] - shape.verts[src]
    angle = np.arctan2(np.einsum("ij,ij->i", d, by[src]), np.einsum("ij,ij->i", d, bx[src]))
    t["connection"] = time.perf_counter() - t0
    assert angle.shape == transport.shape
    return t


def _reference_patches(shape, radius: float, n_src: int = 64) -> dict:
    import potpourri3d as pp3d

    t0 = time.perf_counter()
    solver = pp3d.MeshVectorHeatSolver(shape.verts, shape.faces)
    setup = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    srcs = rng.choice(shape.n_verts, min(n_src, shape.n_verts), replace=False)
    t0 = time.perf_counter()
    for s in srcs:
        L = solver.compute_log_map(int(s))
        r = np.linalg.norm(L, axis=1)
        np.argsort(np.where(r <= radius, r, np.inf))[:33]
    per = (time.perf_counter() - t0) / len(srcs)
    return {"setup": setup, "log maps*": per * shape.n_verts}


def _meshlearn_gauge(shape) -> dict:
    from meshlearn.geometry import gauge_data, tangent_frames

    t = {}
    t0 = time.perf_counter()
    frames = tangent_frames(shape)
    t["frames"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    gauge_data(shape, frames)
    t["gauge"] = time.perf_counter() - t0
    return t


def _meshlearn_patches(shape, radius: float) -> dict:
    from meshlearn.geometry import gauge_data, geodesic_patches, tangent_frames

    t = {}
    t0 = time.perf_counter()
    frames = tangent_frames(shape)
    g = gauge_data(shape, frames)
    t["frames+gauge"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    geodesic_patches(shape, radius, frames, 32, gauge=g)
    t["patches"] = time.perf_counter() - t0
    return t


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
PEER = {"diffusionnet": "DiffusionNet compute_operators", "gauge": "potpourri3d connection", "patches": "potpourri3d log maps"}


def _bundle(impl: str, bundle: str, shape, k: int, laplacian: str):
    """Run one bundle; returns a callable giving (max, median) eigenpair residuals, or None."""
    radius = 0.05 * float(np.sqrt(shape.area()))
    if bundle == "diffusionnet":
        fn = _meshlearn_diffusionnet if impl == "meshlearn" else _reference_diffusionnet
        return fn(shape, k, laplacian), {}
    if bundle == "gauge":
        return None, (_meshlearn_gauge(shape) if impl == "meshlearn" else _reference_gauge(shape))
    if bundle == "patches":
        return None, (_meshlearn_patches(shape, radius) if impl == "meshlearn" else _reference_patches(shape, radius))
    raise ValueError(f"unknown bundle {bundle!r}")


def _worker(impl: str, bundle: str, subdiv: int, k: int, laplacian: str) -> dict:
    from meshlearn.testing import bumpy_sphere

    shape = bumpy_sphere(subdiv)
    # the imports first, so that only the computation is timed and measured
    import potpourri3d  # noqa: F401
    import robust_laplacian  # noqa: F401
    import scipy.sparse.linalg  # noqa: F401

    import meshlearn.geometry  # noqa: F401
    import meshlearn.nets  # noqa: F401

    if impl == "reference" and bundle == "diffusionnet":
        dn, why = import_peer("diffusion_net")
        if dn is None:
            return {"skipped": why}
    rss0 = _status_kb("VmRSS")
    t0, c0 = time.perf_counter(), time.process_time()
    residual, parts = _bundle(impl, bundle, shape, k, laplacian)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_mb = (_status_kb("VmHWM") - rss0) / 1024.0
    scaled = any(name.endswith("*") for name in parts)
    if scaled:  # a part timed on a sample and scaled to every vertex
        scale = sum(parts.values()) / total
        total, cpu = total * scale, cpu * scale
    return {"V": shape.n_verts, "total": total, "cpu": cpu, "peak_mb": peak_mb, "scaled": scaled,
            "residual": residual() if residual else None}


def _run(impl: str, bundle: str, subdiv: int, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", impl, bundle, str(subdiv), "--k", str(args.k), "--laplacian", args.laplacian]
    env = dict(os.environ)
    if args.threads:
        env.update({v: str(args.threads) for v in THREAD_VARS})
    return run_side(cmd, env=env, timeout=args.timeout)


def _median(runs: list[dict]) -> dict:
    """Medians of the time and memory of the runs that worked; the worst residual of any."""
    ok = [r for r in runs if "total" in r]
    if not ok:
        return runs[0]
    out = {key: float(np.median([r[key] for r in ok])) for key in ("total", "cpu", "peak_mb")}
    out["V"], out["scaled"], out["runs"] = ok[0]["V"], ok[0]["scaled"], len(ok)
    res = [r["residual"] for r in ok if r.get("residual")]
    out["residual"] = (max(r[0] for r in res), float(np.median([r[1] for r in res]))) if res else None
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="5,6", help="icosphere subdivisions, comma separated (4..7; default 5,6: 10k, 40k)")
    ap.add_argument("--bundles", default="diffusionnet", help="comma separated: diffusionnet, gauge, patches")
    ap.add_argument("--patches", action="store_true", help="add the patches bundle")
    ap.add_argument("--k", type=int, default=128, help="eigenpairs (default 128)")
    ap.add_argument("--laplacian", default="robust", choices=("robust", "cotan"), help="meshlearn's Laplacian (default robust)")
    ap.add_argument("--threads", type=int, default=0,
                    help="BLAS / OpenMP threads of both sides (sets OMP_NUM_THREADS etc.; default: the libraries' choice)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per run before giving up")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each side, alternating, each in a fresh process (default 3)")
    ap.add_argument("--worker", nargs=3, metavar=("IMPL", "BUNDLE", "SUBDIV"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        impl, bundle, subdiv = args.worker
        print(json.dumps(_worker(impl, bundle, int(subdiv), args.k, args.laplacian)))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    bundles = [b for b in args.bundles.split(",") if b]
    if args.patches and "patches" not in bundles:
        bundles.append("patches")
    for b in bundles:
        if b not in PEER:
            ap.error(f"unknown bundle {b!r}: expected one of {', '.join(PEER)}")
    print(f"# {command_line()}")
    print(f"# before: {load_average()}; BLAS / OpenMP threads: {args.threads or 'default'}")
    print(f"# {args.repeat} alternating rounds, each side in a fresh process; medians. s = wall seconds, "
          "cpu = CPU seconds of all threads, peak = growth of peak RSS in MB, res = eigenpair residual max")
    rows = []
    for bundle in bundles:
        for subdiv in sizes:
            runs: dict[str, list[dict]] = {"meshlearn": [], "reference": []}
            for r in range(max(1, args.repeat)):
                order = ("meshlearn", "reference") if r % 2 == 0 else ("reference", "meshlearn")
                for impl in order:
                    runs[impl].append(_run(impl, bundle, subdiv, args))
                    last = runs[impl][-1]
                    print(f"#   {bundle} subdiv {subdiv} {impl} round {r + 1}: "
                          + (f"{last['total']:.2f} s, cpu {last['cpu']:.2f} s" if "total" in last else str(last)),
                          file=sys.stderr, flush=True)
            ours, ref = _median(runs["meshlearn"]), _median(runs["reference"])
            V = ours.get("V") or ref.get("V") or 10 * 4**subdiv + 2
            row = [bundle, V]
            for side in (ours, ref):
                if "total" in side:
                    res = f"{side['residual'][0]:.1e}" if side.get("residual") else "-"
                    star = "*" if side["scaled"] else ""
                    row += [f"{side['total']:.2f}{star}", f"{side['cpu']:.2f}{star}", f"{side['peak_mb']:.0f}", res]
                else:
                    row += [f"skipped: {side.get('skipped') or side.get('failed')}", "-", "-", "-"]
            if "total" in ours and "total" in ref:
                row += [f"{ref['total'] / ours['total']:.1f}x", f"{ref['cpu'] / ours['cpu']:.1f}x"]
            else:
                row += ["-", "-"]
            rows.append(row)
    headers = ["bundle", "V", "meshlearn s", "cpu s", "peak MB", "res", "reference s", "cpu s", "peak MB", "res",
               "ratio", "cpu ratio"]
    print(f"# reference: " + "; ".join(f"{b}: {PEER[b]}" for b in bundles)
          + (f"; meshlearn Laplacian: {args.laplacian}" if "diffusionnet" in bundles else ""))
    print_table(headers, rows)
    if "patches" in bundles:
        print("(* log maps timed on 64 sources and scaled to every vertex)")
    print(f"# after: {load_average()}")


if __name__ == "__main__":
    main()
