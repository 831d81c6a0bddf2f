"""Preprocessing time and peak memory: meshlearn's operator bundles against reference-style baselines.

Bundles (each timed end to end on one shape, in a fresh subprocess so that peak memory is its own):

``diffusionnet``
    What DiffusionNet needs: Laplacian L and mass M, 128 eigenpairs, tangent frames and the two
    gradient operators.

    * meshlearn: ``laplacian(kind="robust")``, ``eigenbasis``, ``tangent_frames``,
      ``gradient_operators`` (batched 2 x 2 normal equations, no loop over vertices).
    * baseline, following DiffusionNet's own preprocessing: robust-laplacian, scipy ``eigsh`` in
      shift-invert mode (k = 128, shift 1e-8 on L + 1e-8 M), area-weighted normals and
      projected-axis frames (vectorised, as there), and the gradient fitted by least squares
      over each vertex's one-ring in a Python loop over vertices.

``gradients``
    The part of ``diffusionnet`` without the Laplacian and the eigenbasis: frames and the two
    gradient operators, meshlearn's batched solve against the per-vertex loop.

``gauge``
    What GEM-CNN needs: frames, neighbour angles and transport angles of every directed edge.

    * meshlearn: ``tangent_frames`` + ``gauge_data`` (angle-scaled Levi-Civita connection).
    * baseline: geometry-central's connection through potpourri3d (``MeshVectorHeatSolver``
      without intrinsic Delaunay: its tangent frames and connection Laplacian, whose
      off-diagonal phases are the transport angles) plus projected neighbour angles.

``patches`` (only with ``--patches``)
    Geodesic polar coordinates of the 32 nearest vertices within 0.05 sqrt(area) of every vertex.

    * meshlearn: ``geodesic_patches`` (vectorised discrete exponential map).
    * baseline: one vector-heat log map per vertex (potpourri3d ``compute_log_map``), timed on 64
      sources and scaled to all V (marked ``*``).

Shapes: bumpy spheres (icosphere subdivisions 4..7: 2,562 / 10,242 / 40,962 / 163,842 vertices).
Peak memory: growth of the worker's peak resident set (``VmHWM``) over its size after setup.
Times: wall clock and CPU time (``time.process_time``, all threads) of the bundle on the first
shape in a fresh process; on a shared, busy machine the CPU times are the steadier comparison.
``warm``: wall clock of the same bundle on a second shape of the same size in the same process,
what each further shape of a batch costs. Eigenpair accuracy: the relative residual
``||L x - lambda M x|| / (lambda ||M x||)`` of the non-zero eigenpairs, max and median (not timed).

``--repeat N`` runs each side N times, alternating, and reports the median times: on a shared
machine single timings vary by 10-30%.

Run: ``python benchmarks/bench_operators.py`` (subdivisions 4, 5, 6; about a minute on 2 cores,
most of it in the reference's eigensolves of the 41k mesh), ``--sizes 7 --bundles diffusionnet``
for the 164k mesh (about three minutes, two of them the reference's), ``--patches`` to add the
patch bundle (its baseline times 64 log maps: about a minute at 41k).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def _status_kb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    return float("nan")


# ----------------------------------------------------------------------------- baselines


def _baseline_gradients(verts: np.ndarray, faces: np.ndarray, frames: np.ndarray):
    """Per-vertex least-squares gradient over the one-ring, one vertex at a time (the reference's way)."""
    import scipy.sparse as sp

    V = verts.shape[0]
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.unique(np.concatenate([edges, edges[:, ::-1]]), axis=0)
    starts = np.searchsorted(edges[:, 0], np.arange(V + 1))
    rows, cols, vals = [], [], []
    for i in range(V):
        nbrs = edges[starts[i] : starts[i + 1], 1]
        vec = verts[nbrs] - verts[i]
        A = np.stack([vec @ frames[i, 0], vec @ frames[i, 1]], axis=1)  # (n, 2)
        # f_j - f_i = A g; rows of the fit matrix: [-1 for i, +1 for each j]
        lhs_inv = np.linalg.inv(A.T @ A + 1e-8 * np.eye(2)) @ A.T  # (2, n)
        coef = np.concatenate([-lhs_inv.sum(1, keepdims=True), lhs_inv], axis=1)  # (2, n + 1)
        idx = np.concatenate([[i], nbrs])
        for k, j in enumerate(idx):
            rows.append(i)
            cols.append(j)
            vals.append(coef[0, k] + 1j * coef[1, k])
    G = sp.coo_matrix((np.array(vals), (np.array(rows), np.array(cols))), shape=(V, V)).tocsr()
    return G.real.tocsr(), G.imag.tocsr()


def _residuals(L, M, evals, evecs) -> tuple[float, float]:
    """(max, median) relative residual of the non-zero eigenpairs."""
    from meshlearn.geometry.eigensolver import relative_residuals

    r = relative_residuals(L, M, evals, evecs)[1:]
    return float(r.max()), float(np.median(r))


def _baseline_diffusionnet(shape, k: int) -> dict:
    import robust_laplacian as rl
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    t = {}
    t0 = time.perf_counter()
    L, M = rl.mesh_laplacian(shape.verts, shape.faces)
    t["laplacian"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    eps = 1e-8
    evals, evecs = spla.eigsh(sp.csr_matrix(L + eps * M), k=k, M=sp.csr_matrix(M), sigma=eps)
    t["eigen"] = time.perf_counter() - t0
    eigenpairs = (L, M, evals, evecs)  # checked after the timing
    frames, t["frames"] = _baseline_frames(shape)
    t0 = time.perf_counter()
    _baseline_gradients(shape.verts, shape.faces, frames)
    t["gradients"] = time.perf_counter() - t0
    return t, eigenpairs


def _baseline_frames(shape) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    tri = shape.verts[shape.faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n = np.zeros_like(shape.verts)
    for i in range(3):
        np.add.at(n, shape.faces[:, i], fn)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    ref = np.where(np.abs(n[:, :1]) < 0.9, np.array([[1.0, 0, 0]]), np.array([[0, 1.0, 0]]))
    x = ref - np.sum(ref * n, 1, keepdims=True) * n
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.stack([x, np.cross(n, x), n], 1), time.perf_counter() - t0


def _baseline_gradient_bundle(shape) -> dict:
    frames, t_frames = _baseline_frames(shape)
    t0 = time.perf_counter()
    _baseline_gradients(shape.verts, shape.faces, frames)
    return {"frames": t_frames, "gradients": time.perf_counter() - t0}


def _meshlearn_gradient_bundle(shape) -> dict:
    from meshlearn.geometry import gradient_operators, tangent_frames

    t0 = time.perf_counter()
    frames = tangent_frames(shape)
    t_frames = time.perf_counter() - t0
    t0 = time.perf_counter()
    gradient_operators(shape, frames)
    return {"frames": t_frames, "gradients": time.perf_counter() - t0}


def _baseline_gauge(shape) -> dict:
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


def _baseline_patches(shape, radius: float, n_src: int = 64) -> dict:
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


# ----------------------------------------------------------------------------- meshlearn


def _meshlearn_diffusionnet(shape, k: int) -> dict:
    from meshlearn.geometry import eigenbasis, gradient_operators, laplacian, tangent_frames

    t = {}
    t0 = time.perf_counter()
    L, M = laplacian(shape, kind="robust")
    t["laplacian"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    evals, evecs = eigenbasis(L, M, k=k)
    t["eigen"] = time.perf_counter() - t0
    eigenpairs = (L, M, evals, evecs)  # checked after the timing
    t0 = time.perf_counter()
    frames = tangent_frames(shape)
    t["frames"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    gradient_operators(shape, frames)
    t["gradients"] = time.perf_counter() - t0
    return t, eigenpairs


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


def _bundle(impl: str, bundle: str, shape, k: int) -> dict:
    radius = 0.05 * float(np.sqrt(shape.area()))
    table = {
        "meshlearn": {
            "diffusionnet": lambda: _meshlearn_diffusionnet(shape, k),
            "gradients": lambda: _meshlearn_gradient_bundle(shape),
            "gauge": lambda: _meshlearn_gauge(shape),
            "patches": lambda: _meshlearn_patches(shape, radius),
        },
        "baseline": {
            "diffusionnet": lambda: _baseline_diffusionnet(shape, k),
            "gradients": lambda: _baseline_gradient_bundle(shape),
            "gauge": lambda: _baseline_gauge(shape),
            "patches": lambda: _baseline_patches(shape, radius),
        },
    }
    return table[impl][bundle]()


def _timed(impl: str, bundle: str, shape, k: int) -> tuple[float, float, dict, tuple | None]:
    """Wall and CPU seconds of one bundle, its parts, and (max, median) eigenpair residuals if any."""
    t0 = time.perf_counter()
    c0 = time.process_time()
    parts = _bundle(impl, bundle, shape, k)
    total = time.perf_counter() - t0
    cpu = time.process_time() - c0
    residual = None
    if isinstance(parts, tuple):  # (parts, eigenpairs): the residuals are measured outside the timing
        parts, eigenpairs = parts
        residual = _residuals(*eigenpairs)
    return total, cpu, parts, residual


def _worker(impl: str, bundle: str, subdiv: int, k: int) -> None:
    from meshlearn.testing import bumpy_sphere

    shape = bumpy_sphere(subdiv)
    # warm the imports so that only the computation is timed and measured
    import potpourri3d  # noqa: F401
    import robust_laplacian  # noqa: F401
    import scipy.sparse.linalg  # noqa: F401

    import meshlearn.geometry  # noqa: F401

    rss0 = _status_kb("VmRSS")
    total, cpu, parts, residual = _timed(impl, bundle, shape, k)
    peak_mb = (_status_kb("VmHWM") - rss0) / 1024.0
    if any(name.endswith("*") for name in parts):
        scale = sum(parts.values()) / total
        total, cpu = total * scale, cpu * scale
    # a second shape of the same size in the same process: what each further shape of a batch costs
    warm = _timed(impl, bundle, bumpy_sphere(subdiv, seed=1), k)[0] if bundle != "patches" else None
    out = {"V": shape.n_verts, "total": total, "cpu": cpu, "warm": warm, "peak_mb": peak_mb, "parts": parts}
    out["residual"] = residual
    print(json.dumps(out))


def _run(impl: str, bundle: str, subdiv: int, k: int, timeout: float) -> dict | None:
    cmd = [sys.executable, __file__, "--worker", impl, bundle, str(subdiv), "--k", str(k)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as e:
        sys.stderr.write(e.stderr[-2000:])
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(runs: list[dict | None]) -> dict | None:
    """The run with the median total; its total, CPU and warm times the medians over the runs."""
    ok = sorted((r for r in runs if r), key=lambda r: r["total"])
    if not ok:
        return None
    out = dict(ok[len(ok) // 2])
    for key in ("total", "cpu", "warm"):
        vals = [r[key] for r in ok if r.get(key) is not None]
        out[key] = float(np.median(vals)) if vals else None
    return out


def _fmt_parts(parts: dict) -> str:
    return " ".join(f"{k}={v:.2f}" for k, v in parts.items())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="4,5,6", help="icosphere subdivisions, comma separated (4..7)")
    ap.add_argument("--bundles", default="diffusionnet,gradients,gauge", help="diffusionnet, gradients, gauge, patches")
    ap.add_argument("--patches", action="store_true", help="add the patches bundle")
    ap.add_argument("--k", type=int, default=128, help="eigenpairs (default 128)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per run before giving up")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each side, alternating, each in a fresh process; the medians are reported (default 1)",
    )
    ap.add_argument("--worker", nargs=3, metavar=("IMPL", "BUNDLE", "SUBDIV"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        impl, bundle, subdiv = args.worker
        _worker(impl, bundle, int(subdiv), args.k)
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    bundles = [b for b in args.bundles.split(",") if b]
    if args.patches and "patches" not in bundles:
        bundles.append("patches")
    print(
        f"# cores visible: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; wall and CPU seconds "
        "(CPU = all threads; fairer on a busy machine); peak = growth of peak RSS in MB"
    )
    header = (
        f"{'bundle':<13}{'V':>8}  {'meshlearn s':>11} {'cpu s':>7} {'warm s':>7} {'peak MB':>8}"
        f"  {'baseline s':>10} {'cpu s':>7} {'warm s':>7} {'peak MB':>8}  {'speed-up':>8} {'cpu':>6} {'warm':>6}"
    )
    print(header)
    print("-" * len(header))
    details = []

    def cols(r: dict | None, width: int) -> str:
        if not r:
            return f"{'failed':>{width}}"
        warm = f"{r['warm']:>7.2f}" if r.get("warm") is not None else f"{'-':>7}"
        return f"{r['total']:>{width - 25}.2f} {r['cpu']:>7.2f} {warm} {r['peak_mb']:>8.0f}"

    for bundle in bundles:
        for subdiv in sizes:
            ours, base = [], []
            for _ in range(max(1, args.repeat)):
                ours.append(_run("meshlearn", bundle, subdiv, args.k, args.timeout))
                base.append(_run("baseline", bundle, subdiv, args.k, args.timeout))
            ours, base = _median(ours), _median(base)
            V = (ours or base or {"V": 10 * 4**subdiv + 2})["V"]
            ratio = f"{'-':>22}"
            if ours and base:
                warm = f"{base['warm'] / ours['warm']:>5.1f}x" if ours.get("warm") and base.get("warm") else f"{'-':>6}"
                ratio = f"{base['total'] / ours['total']:>7.1f}x {base['cpu'] / ours['cpu']:>5.1f}x {warm}"
            print(f"{bundle:<13}{V:>8}  {cols(ours, 36)}  {cols(base, 35)}  {ratio}", flush=True)
            details.append((bundle, V, ours, base))
    print("\nparts (seconds):")
    for bundle, V, ours, base in details:
        for name, r in (("meshlearn", ours), ("baseline", base)):
            if not r:
                continue
            res = r.get("residual")
            res = f"  eigenpair residual max {res[0]:.1e} median {res[1]:.1e}" if res else ""
            print(f"  {bundle:<13}{V:>8} {name + ':':<10} {_fmt_parts(r['parts'])}{res}")
    if "patches" in bundles:
        print("(* log maps timed on 64 sources and scaled to every vertex)")


if __name__ == "__main__":
    main()
