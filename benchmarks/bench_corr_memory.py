"""Peak memory of a deep functional-map training step and of matching one pair, meshlearn beside
ULRSSM and DiffusionNet's fmap model, at 5k and 50k vertices per shape.

The pipelines and their settings are those of ``benchmarks/_corr_pipelines.py`` (unsupervised:
WKS 128 in, 256 descriptors, k = 50; supervised: HKS 16 in, 128 descriptors, k = 30; width 128,
4 blocks). For each size a pair of synthetic bodies is generated once; each pipeline's
preprocessing of the pair runs in its own process (timed, its peak resident set reported) and is
saved; then every measurement -- one training step (forward, loss, backward, optimiser step) or
matching the pair (the pipeline's test-time map B -> A) -- runs in a fresh process that loads it.

"peak MB" is that process's peak resident set size (``ru_maxrss``: the interpreter, torch, the
model and the loaded operators included); "growth MB" what the step or the matching added to the
peak reached before it started. meshlearn forms no (Va, Vb) matrix: its soft maps and nearest
neighbours run in blocks of rows. ULRSSM's soft maps are dense (Va, Vb) matrices, and
DiffusionNet's model forms ``torch.diag(mass)``, a dense (V, V) matrix; the "dense tensors" column
gives the size of those its code holds at once, computed from the shapes. A measurement whose
computed dense tensors exceed ``--max-mb`` (default 8192) is not run and its row says "computed,
not measured"; every process is also stopped if its resident set passes ``--max-mb``.

Run: ``python benchmarks/bench_corr_memory.py`` (5k and 50k; the 50k meshlearn rows take several
minutes each on one core), ``--quick`` (5k only), ``--sizes 5000,20000``, ``--pipelines meshlearn,ulrssm``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import command_line, load_average, print_table, run_side  # noqa: E402
from _corr_pipelines import PIPELINES, body_pair, dense_tensors, make_pipeline, peer_problem, selected_pipelines  # noqa: E402

WHAT = {"train": "training step", "match": "matching a pair"}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _load_pair(path: str):
    from meshlearn.shape import Shape

    z = np.load(path)
    return [(Shape(z[f"verts_{s}"], z[f"faces_{s}"]), z[f"vts_{s}"]) for s in "ab"]


def prep_worker(name: str, pair_file: str, out_file: str) -> dict:
    import torch

    (sa, _), (sb, _) = _load_pair(pair_file)
    pipe = make_pipeline(name, seed=0)
    t0 = time.perf_counter()
    prepared = [pipe.prepare(sa), pipe.prepare(sb)]
    seconds = time.perf_counter() - t0
    torch.save(prepared, out_file)
    return {"prep_s": seconds, "prep_peak_mb": _peak_mb()}


def measure_worker(name: str, what: str, pair_file: str, prep_file: str) -> dict:
    import torch

    (sa, va), (sb, vb) = _load_pair(pair_file)
    pa, pb = torch.load(prep_file, weights_only=False)
    pipe = make_pipeline(name, seed=0)
    gc.collect()
    base = _peak_mb()
    t0 = time.perf_counter()
    if what == "train":
        pipe.step(pa, pb, va, vb)
    else:
        T = pipe.match(pa, pb)
        if T.shape != (sb.n_verts,):
            raise RuntimeError(f"{name} matched {T.shape} vertices, expected ({sb.n_verts},)")
    seconds = time.perf_counter() - t0
    peak = _peak_mb()
    return {"peak_mb": peak, "growth_mb": peak - base, "s": seconds}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        import torch

        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
        kind, rest = sys.argv[2], sys.argv[3:]
        out = prep_worker(*rest) if kind == "prep" else measure_worker(*rest)
        print(json.dumps(out))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="5000,50000", help="vertices per shape (about), comma-separated")
    p.add_argument("--pipelines", default=",".join(PIPELINES))
    p.add_argument("--max-mb", type=float, default=8192.0, help="skip (computed) or stop a process above this")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per process before it counts as failed")
    p.add_argument("--quick", action="store_true", help="5k vertices only")
    args = p.parse_args()
    sizes = [5000] if args.quick else [int(v) for v in args.sizes.split(",") if v.strip()]
    names = selected_pipelines(p, args.pipelines)

    print(command_line())
    print(f"before: {load_average()}; {args.threads} thread(s) per process")
    env = dict(os.environ, BENCH_THREADS=str(args.threads))
    rows = []
    with tempfile.TemporaryDirectory(prefix="meshlearn-bench-corr-") as scratch:
        for n in sizes:
            pair = body_pair(n)
            (sa, va), (sb, vb) = pair
            Va, Vb = sa.n_verts, sb.n_verts
            pair_file = str(Path(scratch) / f"pair_{n}.npz")
            np.savez(pair_file, verts_a=sa.verts, faces_a=sa.faces, vts_a=va, verts_b=sb.verts, faces_b=sb.faces, vts_b=vb)
            for name in names:
                why = peer_problem(name)
                if why:
                    rows.append([f"{Va}/{Vb}", name, "", "", "", "", "", "", f"not run: {why}"])
                    continue
                dense = {w: sum(b for _, b in dense_tensors(name, Va, Vb, w)) for w in WHAT}
                fits = {w: dense[w] / 2**20 <= args.max_mb for w in WHAT}
                prep: dict = {}
                prep_file = str(Path(scratch) / f"prep_{name}_{n}.pt")
                if any(fits.values()):
                    cmd = [sys.executable, __file__, "--worker", "prep", name, pair_file, prep_file]
                    prep = run_side(cmd, env=env, timeout=args.timeout, max_rss_mb=args.max_mb)
                for w in WHAT:
                    dense_cell = f"{dense[w] / 2**20:.0f}" if dense[w] else "none"
                    prep_cells = [f"{prep['prep_s']:.1f}", f"{prep['prep_peak_mb']:.0f}"] if "prep_s" in prep else ["", ""]
                    if not fits[w]:
                        parts = "; ".join(d for d, _ in dense_tensors(name, Va, Vb, w))
                        rows.append([f"{Va}/{Vb}", name, WHAT[w], "", "", "", "", f">= {dense[w] / 2**30:.1f} GiB",
                                     f"computed, not measured (over {args.max_mb / 1024:.0f} GiB): {parts}"])
                        continue
                    if "prep_s" not in prep:
                        rows.append([f"{Va}/{Vb}", name, WHAT[w], "", "", "", "", dense_cell,
                                     f"preprocessing failed: {prep.get('failed', '')}"])
                        continue
                    cmd = [sys.executable, __file__, "--worker", "measure", name, w, pair_file, prep_file]
                    r = run_side(cmd, env=env, timeout=args.timeout, max_rss_mb=args.max_mb)
                    if "peak_mb" not in r:
                        rows.append([f"{Va}/{Vb}", name, WHAT[w], *prep_cells, "", "", dense_cell, f"failed: {r.get('failed')}"])
                        continue
                    rows.append([f"{Va}/{Vb}", name, WHAT[w], *prep_cells, f"{r['peak_mb']:.0f}", f"{r['growth_mb']:.0f}",
                                 dense_cell, f"measured; {r['s']:.1f} s"])
                Path(prep_file).unlink(missing_ok=True)
    print(f"\n### peak memory, cpu, {args.threads} thread(s), limit {args.max_mb:.0f} MB per process\n")
    print_table(["Va/Vb", "pipeline", "computation", "prep s", "prep peak MB", "peak MB", "growth MB",
                 "dense tensors MB", "note"], rows)
    print("\n'peak MB': the process's peak resident set (interpreter, torch, model and operators included); "
          "'growth MB': what the computation added; 'dense tensors': (Va, Vb)- or (V, V)-sized float32 tensors "
          "the pipeline's code holds at once, computed from the shapes.")
    print(f"after: {load_average()}")


if __name__ == "__main__":
    main()
