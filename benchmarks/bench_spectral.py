"""Laplacian + mass + 128 eigenpairs: meshlearn against the field's reference preprocessing.

The reference is what DiffusionNet does: the robust Laplacian, then ``scipy.sparse.linalg.eigsh(L,
k, M, sigma=-1e-8)`` (shift-invert ARPACK, SuperLU factorisation). meshlearn is
``laplacian(shape)`` + ``eigenbasis(L, M, k)``. Shapes: icospheres and bumpy spheres at
subdivisions 4, 5, 6, 7 (2.5k, 10k, 40k, 160k vertices).

Every (method, shape) runs in a fresh process (peak memory, MB above the process's baseline, is its
own, the worker process included); times are medians over ``--repeats`` runs of Laplacian + mass +
eigenpairs: wall seconds, and CPU seconds on the critical path (all threads' CPU seconds count;
where meshlearn's ARPACK fallback ran, the slower of the two slices that run at the same time
counts, not their sum). On a
busy machine the CPU seconds are the fairer comparison: wall time then mostly measures how the
scheduler shares the cores. Accuracy: the largest relative residual
``||L x - lambda M x|| / (lambda ||M x||)`` over the non-zero eigenvalues, and for the approximate
modes the largest relative eigenvalue error against meshlearn's exact solve.

``--coarse N`` adds ``meshlearn-coarse``: ``coarse_eigenbasis`` (solve on a copy simplified to
about N vertices, interpolate, Rayleigh-Ritz on the full mesh), with its eigenvalue error (max and
median) and the share of an exact eigenvector outside the approximate span (``1 - ||P x||^2`` for
the M-orthogonal projection P onto the span of the K approximate vectors): median, and largest
over the lowest 7/8 of the eigenvectors (the top few trade places with pairs just above K).

Usage::

    python benchmarks/bench_spectral.py --sizes 4,5,6 --repeats 3
    python benchmarks/bench_spectral.py --sizes 7 --repeats 1 --methods meshlearn,scipy
    python benchmarks/bench_spectral.py --sizes 7 --shapes bumpy --repeats 1 --methods meshlearn --coarse 20000

``scipy`` runs the reference with the machine's BLAS threads, as a user would; ``scipy-1thread``
with one BLAS thread (``OPENBLAS_NUM_THREADS=1``), its fastest setting on a busy two-core machine.
meshlearn sets its own threads (one BLAS thread for the block Lanczos iteration).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1]))

from _common import peak_rss_mb, print_table, run_worker, timed  # noqa: E402

METHODS = ("scipy", "scipy-1thread", "meshlearn", "meshlearn-approx")


def _shape(sub: int, bumpy: bool):
    from meshlearn.testing import bumpy_sphere, icosphere

    return bumpy_sphere(sub, amplitude=0.1, seed=0) if bumpy else icosphere(sub)


def _worker(method: str, sub: int, bumpy: bool, k: int, repeats: int, coarse: int = 0) -> dict:
    import numpy as np
    import scipy.sparse.linalg as spla

    from meshlearn.geometry.eigensolver import relative_residuals
    from meshlearn.geometry.laplacian import laplacian
    from meshlearn.geometry.spectral import eigenbasis

    shape = _shape(sub, bumpy)
    base = peak_rss_mb()["self"]
    if method == "scipy":
        import robust_laplacian as rl
        import scipy.sparse as sp

        def lap():
            L, M = rl.mesh_laplacian(shape.verts, shape.faces)
            return sp.csr_matrix(L), sp.csr_matrix(M)

        def eig(L, M):
            return spla.eigsh(L, k, M, sigma=-1e-8)
    elif method == "meshlearn-coarse":
        from meshlearn.geometry.coarse_spectral import coarse_eigenbasis

        def lap():
            return laplacian(shape)

        def eig(L, M):
            return coarse_eigenbasis(shape, L, M, k, coarse_verts=coarse)
    else:
        approx = method == "meshlearn-approx"

        def lap():
            return laplacian(shape)

        def eig(L, M):
            return eigenbasis(L, M, k, approx=approx)

    import logging

    from meshlearn.geometry import eigensolver as es
    from meshlearn.geometry.eigensolver.workers import reset_worker_pool

    slices: list = []

    class _Slices(logging.Handler):  # the solver logs each slice's CPU seconds at debug level
        def emit(self, record):
            if record.msg.startswith("eigensolve slices"):
                slices.append([c for _, _, c in record.args[0]])

    log = logging.getLogger(es.__name__)
    log.addHandler(_Slices())
    log.setLevel(logging.DEBUG)
    (L, M), t_lap, c_lap = timed(lap, repeats)
    (w, X), t_eig, c_eig = timed(lambda: eig(L, M), repeats)
    # CPU seconds on the critical path: this process's, with the bottom slice replaced by the
    # slower of the slices (the other one ran at the same time in the worker process)
    crit = c_eig
    if slices:
        s = slices[-1]
        crit = c_eig - s[0] + max(s)
    reset_worker_pool(wait=True)  # reap the worker so that its peak memory is counted
    order = np.argsort(w)
    w, X = w[order], X[:, order]
    res = relative_residuals(L, M, w, X)
    nz = w > 1e-8 * w[-1]
    out = {
        "V": shape.n_verts,
        "lap_s": t_lap,
        "eig_s": t_eig,
        "eig_cpu_s": c_eig,
        "crit_cpu_s": c_lap + crit,
        "resid": float(res[nz].max()),
        "peak_mb": peak_rss_mb()["self"] - base,
        "child_peak_mb": peak_rss_mb()["children"],
    }
    if method in ("meshlearn-approx", "meshlearn-coarse"):
        exact, Xe = eigenbasis(L, M, k)
        err = np.abs(w[nz] - exact[nz]) / exact[nz]
        out["ev_err"] = float(np.max(err))
        out["ev_err_median"] = float(np.median(err))
        inside = X.T @ (M @ Xe)  # X is M-orthonormal: the coefficients of the projection
        outside = 1.0 - np.sum(inside**2, axis=0)
        out["outside"] = f"{np.median(outside):.1e} / {np.max(outside[: 7 * k // 8]):.1e}"
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="4,5,6", help="icosphere subdivisions, comma-separated (4..7)")
    p.add_argument("--shapes", default="sphere,bumpy", help="sphere, bumpy or both")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--k", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", default=None, help="also write the raw results to this file")
    p.add_argument("--coarse", type=int, default=0, help="add meshlearn-coarse with a copy of about this many vertices")
    p.add_argument("--worker", nargs=6, metavar=("METHOD", "SUB", "BUMPY", "K", "REPEATS", "COARSE"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        m, sub, bumpy, k, rep, coarse = a.worker
        print(json.dumps(_worker(m, int(sub), bumpy == "1", int(k), int(rep), int(coarse))))
        return
    methods = [m for m in a.methods.split(",") if m]
    if a.coarse and "meshlearn-coarse" not in methods:
        methods.append("meshlearn-coarse")
    results = []
    for sub in [int(s) for s in a.sizes.split(",")]:
        for name in a.shapes.split(","):
            row = {"shape": f"{name}{sub}"}
            for m in methods:
                env, wm = {}, m
                if m == "scipy-1thread":
                    env, wm = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}, "scipy"
                args = [wm, str(sub), "1" if name == "bumpy" else "0", str(a.k), str(a.repeats), str(a.coarse)]
                r = run_worker(str(HERE), args, env)
                row[m] = r
                print(f"# {row['shape']} {m}: {r}", file=sys.stderr, flush=True)
            results.append(row)
    headers = ["shape", "V"]
    for m in methods:
        headers += [f"{m} wall s", f"{m} cpu s", f"{m} resid", f"{m} MB"]
    refs = [m for m in ("scipy", "scipy-1thread") if m in methods]
    if "meshlearn" in methods:
        headers += [f"x vs {r} (wall/cpu)" for r in refs]
    if "meshlearn-approx" in methods:
        headers += ["approx ev err"]
    if "meshlearn-coarse" in methods:
        headers += ["coarse ev err max / median", "coarse outside span median / max"]
    rows = []
    for row in results:
        any_r = next(v for k_, v in row.items() if k_ != "shape")
        line = [row["shape"], any_r["V"]]
        for m in methods:
            r = row[m]
            line += [r["lap_s"] + r["eig_s"], r["crit_cpu_s"], r["resid"], r["peak_mb"] + r["child_peak_mb"]]
        if "meshlearn" in methods:
            o = row["meshlearn"]
            for r in refs:
                wall = (row[r]["lap_s"] + row[r]["eig_s"]) / (o["lap_s"] + o["eig_s"])
                line.append(f"{wall:.2f} / {row[r]['crit_cpu_s'] / o['crit_cpu_s']:.2f}")
        if "meshlearn-approx" in methods:
            line += [row["meshlearn-approx"]["ev_err"]]
        if "meshlearn-coarse" in methods:
            c = row["meshlearn-coarse"]
            line += [f"{c['ev_err']:.1e} / {c['ev_err_median']:.1e}", c["outside"]]
        rows.append(line)
    print(f"k = {a.k}, median of {a.repeats} runs, cores available: {len(os.sched_getaffinity(0))}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print_table(headers, rows)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
