"""GEM-CNN training-step time, peak memory and where the time goes.

The model is the one of the paper's FAUST experiment (de Haan et al. 2021, reference repository
``experiments/faust_direct.py``): xyz input, three residual blocks of two gauge-equivariant
convolutions each (scalar -> regular, regular -> regular, regular -> scalar), width 16, max order
L = 2, N = 7 samples in the regular nonlinearity, then a per-vertex head 16 -> 256 -> classes
(6890 classes there: one per template vertex). One training step = forward, cross-entropy,
backward, Adam update, on one mesh.

Meshes: bumpy icospheres with 10,242 ("10k") and 40,962 ("40k") vertices (all one-ring edges,
E ~ 6 V), or any mesh file with ``--mesh``.

The shares of time are measured by timing each part on its own (forward + backward) with the
inputs the trained net actually sees, summed over the six convolutions:

* transport: gather the neighbours' features and rotate them by ``rho_in(transport - angle)``;
* kernel: assemble ``K(0)`` and ``K_self`` from the basis coefficients, apply ``K(0)`` to every
  edge, rotate by ``rho_out(angle)``, apply ``K_self``;
* aggregation: weight the messages and ``index_add`` them into the receivers;
* nonlinearity: the regular nonlinearities;
* head and rest: the step's remaining time (head MLP, loss, optimiser, residuals).

Timing the parts one by one adds some overhead (each has its own backward call); when the parts
add up to more than the step, the shares are of their sum and "rest" is 0. Treat them as +-5%.

Times: the median wall-clock time of a step ("ms/step") and the CPU time the process used in it
("cpu ms", summed over threads): on a machine shared with other work the wall time grows with the
load (printed, the 1-minute load average), the CPU time much less; with ``--threads 1`` the CPU
time is what the step would take on one idle core.

Memory: "peak MB" is, on CUDA, ``torch.cuda.max_memory_allocated`` during the steps beyond what was
allocated before them; on CPU the growth of the process's peak resident set size from just before
the first step (each configuration runs in a fresh subprocess that loads operators computed by the
parent, so their computation does not count). "saved MB" is what autograd keeps from one forward
pass for the backward pass (activations), counted exactly with ``saved_tensors_hooks``.

Run: ``python benchmarks/bench_gem.py`` (both sizes, both heads: a few minutes on 2 cores), or
``--sizes 10k --classes 8 --device cuda``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time

import torch

SIZES = {"2k": 3, "10k": 5, "40k": 6}  # icosphere subdivisions: 10 * 4**s + 2 vertices


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, device, repeats: int) -> float:
    """Seconds per call: CPU time of the process on CPU, wall time on CUDA."""
    clock = time.process_time if device.type == "cpu" else time.perf_counter
    fn()
    _sync(device)
    t = clock()
    for _ in range(repeats):
        fn()
    _sync(device)
    return (clock() - t) / repeats


def prepare(size: str, mesh: str | None, path: str) -> float:
    """Compute the shape's operators and pickle them to ``path``; returns the seconds it took."""
    import meshlearn
    from meshlearn.nets.gem import GemCNN
    from meshlearn.testing import bumpy_sphere

    shape = meshlearn.load(mesh) if mesh else bumpy_sphere(SIZES[size])
    t0 = time.perf_counter()
    ops = meshlearn.compute_operators(shape, meshlearn.OperatorSpec.for_net(GemCNN))
    prep_s = time.perf_counter() - t0
    with open(path, "wb") as f:
        pickle.dump((shape.name if mesh else size, ops), f)
    return prep_s


def run_one(ops_path: str, classes: int, steps: int, device: str, threads: int | None) -> dict:
    from meshlearn.gauge.conv import GemConv
    from meshlearn.gauge.nonlinearity import RegularNonlinearity
    from meshlearn.gauge.transport import rotate
    from meshlearn.nets.gem import GemCNN

    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(device)
    with open(ops_path, "rb") as f:
        name, ops = pickle.load(f)
    ops = ops.to(dev)
    n_verts = ops.n_verts
    x = ops.verts.float()
    x = (x - x.mean(0)) / x.std()
    target = torch.randint(0, classes, (n_verts,), generator=torch.Generator().manual_seed(0)).to(dev)
    net = GemCNN(3, classes, width=16, n_blocks=3, max_order=2, n_samples=7, hidden=256, seed=0, device=dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(x, ops), target)
        loss.backward()
        opt.step()

    saved = [0]
    storages: set[int] = set()

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        if st.data_ptr() not in storages:  # count each storage once (views, expanded indices)
            storages.add(st.data_ptr())
            saved[0] += st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        net(x, ops).sum()  # activation memory: what autograd keeps for the backward pass
    _sync(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
    rss0 = _rss_mb()
    step()  # warm-up (allocations, kernel selection); counted in the peak
    times, cpu_times = [], []
    for _ in range(steps):
        _sync(dev)
        t, c = time.perf_counter(), time.process_time()
        step()
        _sync(dev)
        times.append(time.perf_counter() - t)
        cpu_times.append(time.process_time() - c)
    if dev.type == "cuda":
        peak_mb = (torch.cuda.max_memory_allocated(dev) - base) / 2**20
    else:
        peak_mb = _rss_mb() - rss0  # growth of the peak resident set during the steps
    step_s = sorted(times)[len(times) // 2]
    step_cpu = sorted(cpu_times)[len(cpu_times) // 2]

    # --- where the time goes: each part on its own, with the inputs the net sees -----------------
    captured: list[tuple[torch.nn.Module, torch.Tensor]] = []
    hooks = [
        m.register_forward_hook(lambda mod, inp, out: captured.append((mod, inp[0].detach())))
        for m in net.modules()
        if isinstance(m, (GemConv, RegularNonlinearity))
    ]
    with torch.no_grad():
        net(x, ops)
    for h in hooks:
        h.remove()
    g = ops.gauge
    p, q = g.edge_index[0], g.edge_index[1]
    angle, transport = g.angle.float(), g.transport.float()
    w = torch.bincount(p, minlength=n_verts).clamp(min=1).float().reciprocal()[p]
    parts = {"transport": 0.0, "kernel": 0.0, "aggregation": 0.0, "nonlinearity": 0.0}
    for mod, inp in captured:
        inp = inp.clone().requires_grad_(True)
        if isinstance(mod, RegularNonlinearity):
            parts["nonlinearity"] += _timed(lambda: mod(inp).sum().backward(), dev, 3)
            continue
        y_edges = rotate(inp.index_select(0, q), transport - angle, mod.in_type).detach().requires_grad_(True)
        parts["transport"] += _timed(
            lambda: rotate(inp.index_select(0, q), transport - angle, mod.in_type).sum().backward(), dev, 3
        )

        def kernel() -> None:
            msg = rotate(y_edges @ mod.kernel.at_zero().T, angle, mod.out_type)
            (msg.sum() + (inp @ mod.self_kernel().T).sum()).backward()

        parts["kernel"] += _timed(kernel, dev, 3)
        msg = torch.randn(q.numel(), mod.out_type.dim, device=dev, requires_grad=True)
        parts["aggregation"] += _timed(
            lambda: torch.zeros(n_verts, mod.out_type.dim, device=dev).index_add(0, p, msg * w[:, None]).sum().backward(),
            dev,
            3,
        )
    ref = step_cpu if dev.type == "cpu" else step_s
    parts["head and rest"] = max(ref - sum(parts.values()), 0.0)
    ref = max(ref, sum(parts.values()))  # timing parts one by one adds overhead; shares then sum to 1
    return {
        "size": name,
        "V": n_verts,
        "E": int(q.numel()),
        "classes": classes,
        "device": device,
        "threads": torch.get_num_threads(),
        "saved_mb": saved[0] / 2**20,
        "ms_per_step": 1000 * step_s,
        "ms_min": 1000 * min(times),
        "cpu_ms_per_step": 1000 * step_cpu,
        "load": os.getloadavg()[0],
        "peak_mb": peak_mb,
        "shares": {k: v / ref for k, v in parts.items()},
        "params": sum(p.numel() for p in net.parameters()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10k,40k", help="comma-separated, from: " + ", ".join(SIZES))
    ap.add_argument("--mesh", default=None, help="a mesh file instead of the icospheres")
    ap.add_argument("--classes", default="6890,8", help="comma-separated head sizes (6890: the paper's FAUST)")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per configuration (median reported)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: run one config, print JSON
    args = ap.parse_args()
    if args.one:
        path, classes = args.one.rsplit(":", 1)
        print(json.dumps(run_one(path, int(classes), args.steps, args.device, args.threads)))
        return
    sizes = [args.mesh] if args.mesh else [s.strip() for s in args.sizes.split(",") if s.strip()]
    rows = []
    tmp = tempfile.mkdtemp(prefix="bench_gem_")
    for size in sizes:
        if not args.mesh and size not in SIZES:
            sys.exit(f"unknown size {size!r}: expected one of {', '.join(SIZES)}")
        path = os.path.join(tmp, "ops.pkl")
        prep_s = prepare(size, args.mesh, path)
        print(f"# {size}: operators in {prep_s:.1f} s", file=sys.stderr)
        for classes in [int(c) for c in args.classes.split(",")]:
            cmd = [sys.executable, __file__, "--one", f"{path}:{classes}", "--steps", str(args.steps), "--device", args.device]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                sys.exit(out.stderr)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"# done {r['size']} classes={classes}: {r['ms_per_step']:.0f} ms/step", file=sys.stderr)
    head = f"{'mesh':>8} {'V':>7} {'E':>7} {'classes':>7} {'device':>6} {'thr':>3} {'load':>5} {'ms/step':>8} {'cpu ms':>7} {'peak MB':>8} {'saved MB':>8}  " \
           f"{'transport':>9} {'kernel':>7} {'aggreg.':>7} {'nonlin':>7} {'rest':>6}"
    print(head)
    print("-" * len(head))
    for r in rows:
        s = r["shares"]
        print(
            f"{r['size']:>8} {r['V']:>7} {r['E']:>7} {r['classes']:>7} {r['device']:>6} {r['threads']:>3} {r['load']:>5.1f} "
            f"{r['ms_per_step']:>8.0f} {r['cpu_ms_per_step']:>7.0f} {r['peak_mb']:>8.0f} {r['saved_mb']:>8.0f}  {100 * s['transport']:>8.0f}% {100 * s['kernel']:>6.0f}% "
            f"{100 * s['aggregation']:>6.0f}% {100 * s['nonlinearity']:>6.0f}% {100 * s['head and rest']:>5.0f}%"
        )
    print(f"GemCNN parameters: {rows[0]['params'] if rows else 0} (for the first row's head)")


if __name__ == "__main__":
    main()
