"""Training step of deep functional-map pipelines, meshlearn beside ULRSSM and DiffusionNet's fmap model.

One pair of synthetic bodies of about ``--vertices`` (default 5000) vertices each, differently
meshed and posed. The pipelines are those of ``benchmarks/_corr_pipelines.py``: meshlearn's
``fmap-unsupervised`` run against ULRSSM's pieces (same widths, k, WKS input channels), and
meshlearn's ``fmap-supervised`` run (its unsupervised terms and soft maps included) and the same
model on the supervised term alone against DiffusionNet's ``functional_correspondence`` model
(same widths, k = 30, HKS input; its loss is the supervised term alone). A step is: the feature
network on both shapes, both functional maps, the loss, backward, the optimiser step.

Operator precomputation is excluded from the step times: each pipeline's own preprocessing of the
pair (meshlearn's ``compute_operators`` with WKS or HKS; ULRSSM's ``get_operators`` + WKS;
DiffusionNet's ``compute_operators`` + HKS; none cached) is timed separately, in the "prep s"
column. ULRSSM's DiffusionNet reads its operators from a disk cache and computes the WKS inside
every forward pass; here it gets them in memory (its blocks are called directly), so its step time
leaves that out.

Each run of a pipeline is a fresh process (``--threads`` torch threads): preprocessing, one warm-up
step, then ``--steps`` timed steps, of which it reports the median wall and CPU time. The
pipelines run in turn, ``--runs`` rounds, the order reversed every other round; the table shows
medians over the rounds. "cpu ms" (process CPU time per step) is the figure to compare on a loaded
machine; the load average is printed before and after.

Run: ``python benchmarks/bench_corr_train.py`` (5k vertices, 3 rounds of 3 steps), ``--quick``
(2 rounds of 2 steps), ``--vertices 10000``, ``--k 200`` (the unsupervised maps' eigenpairs; ULRSSM's
FAUST setting), ``--pipelines meshlearn,ulrssm``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import command_line, load_average, median_runs, print_table, run_side, timed  # noqa: E402
from _corr_pipelines import PAIRED, PIPELINES, body_pair, make_pipeline, peer_problem, selected_pipelines  # noqa: E402


def worker(name: str, n_vertices: int, steps: int, k: int) -> dict:
    (sa, va), (sb, vb) = body_pair(n_vertices)
    pipe = make_pipeline(name, seed=0, k=k)
    t0 = time.perf_counter()
    pa, pb = pipe.prepare(sa), pipe.prepare(sb)
    prep = time.perf_counter() - t0
    pipe.step(pa, pb, va, vb)  # warm-up
    _, wall, cpu = timed(lambda: pipe.step(pa, pb, va, vb), steps)
    return {"ms": 1e3 * wall, "cpu_ms": 1e3 * cpu, "prep_s": prep, "V": [sa.n_verts, sb.n_verts],
            "k": pipe.settings.k if name != "dn-sup" else pipe.k}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        import torch

        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
        name, n, steps, k = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        print(json.dumps(worker(name, n, steps, k)))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vertices", type=int, default=5000, help="vertices per shape (about)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per run (after one warm-up step)")
    p.add_argument("--runs", type=int, default=3, help="rounds of alternating runs")
    p.add_argument("--k", type=int, default=None, help="eigenpairs of the unsupervised maps (default 50)")
    p.add_argument("--pipelines", default=",".join(PIPELINES))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--timeout", type=float, default=1200.0, help="seconds per run before it counts as failed")
    p.add_argument("--quick", action="store_true", help="2 rounds of 2 steps")
    args = p.parse_args()
    if args.quick:
        args.steps, args.runs = 2, 2
    names = selected_pipelines(p, args.pipelines)
    k = args.k if args.k is not None else PIPELINES["meshlearn"][0].k

    print(command_line())
    print(f"before: {load_average()}; {args.threads} thread(s) per run")
    skipped = {n: peer_problem(n) for n in names if peer_problem(n)}
    for n, why in skipped.items():
        print(f"{n}: not run ({why})")
    order = [n for n in names if n not in skipped]
    env = dict(os.environ, BENCH_THREADS=str(args.threads))
    runs: dict[str, list[dict]] = {n: [] for n in order}
    for r in range(args.runs):
        for n in order if r % 2 == 0 else order[::-1]:
            cmd = [sys.executable, __file__, "--worker", n, str(args.vertices), str(args.steps), str(k)]
            runs[n].append(run_side(cmd, env=env, timeout=args.timeout))
    res = {n: median_runs(runs[n], ["ms", "cpu_ms", "prep_s"]) for n in order}

    rows = []
    for n in names:
        settings, supervised, inputs = PIPELINES[n]
        r = res.get(n, {"failed": skipped.get(n, "not run")})
        if "ms" not in r:
            rows.append([n, "C_gt" if supervised else "none", "", "", "", "", "", "", "", r.get("failed", "")])
            continue
        bases = [(m, res[m]) for m in PAIRED.get(n, ()) if "ms" in res.get(m, {})]

        def ratio(key: str) -> str:
            return "; ".join(f"{r[key] / b[key]:.2f} ({m})" for m, b in bases)

        rows.append([
            n, "C_gt" if supervised else "none", r["k"], f"{inputs.upper()} {settings.n_in}",
            f"{r['prep_s']:.2f}", f"{r['ms']:.0f}", f"{r['cpu_ms']:.0f}", ratio("ms"), ratio("cpu_ms"), r["runs"],
        ])
    V = next((r["V"] for r in res.values() if "V" in r), ["?", "?"])
    print(f"\n### training step, pair of {V[0]} / {V[1]} vertices, cpu, {args.threads} thread(s), "
          f"width 128, 4 blocks, median of {args.steps} steps per run, median over runs\n")
    print_table(["pipeline", "supervision", "k", "input", "prep s (pair)", "ms/step", "cpu ms/step",
                 "ms vs meshlearn", "cpu vs meshlearn", "runs"], rows)
    print("\n'vs meshlearn': the peer's time over that of the meshlearn pipeline named (meshlearn-sup: the "
          "fmap-supervised run, unsupervised terms and soft maps included; meshlearn-sup-only: the supervised "
          "term alone, as dn-sup); step times exclude the preprocessing.")
    print(f"after: {load_average()}")


if __name__ == "__main__":
    main()
