"""Training-step time and peak memory of meshlearn's nets, beside PyTorch Geometric's ChebConv.

Configurations (one training step = forward, cross-entropy over 8 classes, backward, Adam update):

* ``diffusion``: DiffusionNet, width 128, 4 blocks, k = 128 eigenpairs, gradient features, xyz input
  (the reference DiffusionNet's default configuration);
* ``cheb``: meshlearn ChebNet, width 64, 4 layers, K = 6, sparse Laplace-Beltrami operator;
* ``pyg_cheb``: the same stack of ``torch_geometric.nn.ChebConv`` (width 64, 4 layers, K = 6, ReLU
  between) on the mesh's edge graph (every edge of every face, both directions), symmetric
  normalisation and lambda_max = 2, its defaults;
* ``spectral_filter``: SpectralFilterNet, width 64, 4 layers, 8 B-splines, k = 128;
* ``patch``: PatchConvNet, width 32, 4 layers, 3 x 8 polar bins, patches of 32 neighbours.

Meshes: bumpy icospheres with 10,242 ("10k") and 40,962 ("40k") vertices. Operators are computed once
per size in the parent (cached in ``--cache``) and every configuration runs in a fresh subprocess, so
that the peak memory of one does not hide another's.

Columns: "ms/step" the median wall-clock time of ``--steps`` steps after one warm-up step; "cpu ms"
the process CPU time per step (all threads; on a machine shared with other work the wall time grows
with the load, which is printed); "peak MB" on CUDA ``torch.cuda.max_memory_allocated`` beyond what
was allocated before the steps, on CPU the growth of the process's peak resident set size from just
before the first step.

Run: ``python benchmarks/bench_nets.py`` (both sizes, a few minutes on 2 cores once the operators
are cached), or ``--sizes 10k --nets cheb,pyg_cheb --device cuda``.

Measured with ``--threads 1 --steps 3`` on a 2-core machine shared with other jobs (load average 6
to 7, so wall times are inflated and "cpu ms" is the figure to compare; with ``--threads 2`` on that
loaded machine the threads spin-wait on each other and every net becomes several times slower)::

     size      V              net   ms/step    cpu ms  peak MB   params
      10k  10242        diffusion      1203       614      677   462344
      10k  10242             cheb       231       119      232    53576
      10k  10242         pyg_cheb       654       261      293    53576
      10k  10242  spectral_filter       229       118      125    69128
      10k  10242            patch      1095       737      323   102920
      40k  40962        diffusion      4887      2291     2599   462344
      40k  40962             cheb      1178       593      771    53576
      40k  40962         pyg_cheb      2728      1124     1045    53576
      40k  40962  spectral_filter       803       399      457    69128
      40k  40962            patch      4721      3106     1114   102920

The reference DiffusionNet implementation takes about 500 ms (10k) and 2200 ms (40k) per step on two
idle cores of this machine; meshlearn's does the same arithmetic (same widths, same MLPs, one fewer
real product in the gradient features) in 614 / 2291 ms of one core's time.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

SIZES = {"2k": 3, "10k": 5, "40k": 6}  # icosphere subdivisions: 10 * 4**s + 2 vertices
NETS = ("diffusion", "cheb", "pyg_cheb", "spectral_filter", "patch")
CLASSES = 8
REFERENCE_DIFFUSIONNET_S = {"10k": 0.5, "40k": 2.2}  # reference implementation, 2 cores (see README)


def build(name: str, device: torch.device) -> torch.nn.Module:
    from meshlearn.nets import ChebNet, DiffusionNet, PatchConvNet, SpectralFilterNet

    if name == "diffusion":
        return DiffusionNet(3, CLASSES, width=128, n_blocks=4, device=device)
    if name == "cheb":
        return ChebNet(3, CLASSES, width=64, n_layers=4, K=6, device=device)
    if name == "spectral_filter":
        return SpectralFilterNet(3, CLASSES, width=64, n_layers=4, device=device)
    if name == "patch":
        return PatchConvNet(3, CLASSES, width=32, n_layers=4, device=device)
    if name == "pyg_cheb":
        from torch_geometric.nn import ChebConv

        class PygChebNet(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                sizes = [3, 64, 64, 64, CLASSES]
                self.convs = torch.nn.ModuleList(ChebConv(a, b, K=6) for a, b in zip(sizes[:-1], sizes[1:]))

            def forward(self, x, edge_index):
                for i, conv in enumerate(self.convs):
                    x = conv(x, edge_index)
                    if i < len(self.convs) - 1:
                        x = torch.relu(x)
                return x

        return PygChebNet().to(device)
    raise ValueError(f"unknown net {name!r}: expected one of {', '.join(NETS)}")


def prepare(size: str, cache: str, path: str) -> float:
    """Compute (or load from ``cache``) the operators of one size and pickle them to ``path``."""
    import meshlearn
    from meshlearn.testing import bumpy_sphere

    shape = bumpy_sphere(SIZES[size], amplitude=0.1)
    spec = meshlearn.OperatorSpec(operators=frozenset({"spectral", "gradients", "patches"}), k=128, patch_max=32)
    t = time.perf_counter()
    ops = meshlearn.compute_operators(shape, spec, cache=cache)
    seconds = time.perf_counter() - t
    f = shape.faces
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    edges = np.unique(np.concatenate([edges, edges[:, ::-1]]), axis=0).T
    with open(path, "wb") as fh:
        pickle.dump((ops, edges), fh)
    return seconds


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(name: str, path: str, device_name: str, steps: int, threads: int) -> dict:
    """One configuration in this (fresh) process; returns the measurements."""
    torch.set_num_threads(threads)
    device = torch.device(device_name)
    with open(path, "rb") as fh:
        ops_np, edges = pickle.load(fh)
    ops = ops_np.to(device)
    edge_index = torch.from_numpy(edges).to(device)
    torch.manual_seed(0)
    net = build(name, device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = ops.verts.clone()
    target = (torch.arange(ops.n_verts, device=device) * CLASSES) // ops.n_verts

    def step() -> None:
        y = net(x, edge_index) if name == "pyg_cheb" else net(x, ops)
        loss = torch.nn.functional.cross_entropy(y, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    rss0 = _rss_mb()
    step()  # warm-up (also builds cached sparse operators)
    walls, cpus = [], []
    for _ in range(steps):
        w, c = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    if device.type == "cuda":
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        peak = _rss_mb() - rss0
    return {"ms": 1e3 * statistics.median(walls), "cpu_ms": 1e3 * statistics.median(cpus), "peak_mb": peak,
            "params": sum(p.numel() for p in net.parameters())}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10k,40k", help=f"comma-separated, from {', '.join(SIZES)}")
    p.add_argument("--nets", default=",".join(NETS), help=f"comma-separated, from {', '.join(NETS)}")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "meshlearn-bench-cache"))
    p.add_argument("--child", nargs=2, metavar=("NET", "PICKLE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.device, args.steps, args.threads)))
        return
    sizes = [s for s in args.sizes.split(",") if s]
    nets = [n for n in args.nets.split(",") if n]
    for s in sizes:
        if s not in SIZES:
            p.error(f"unknown size {s!r}: expected one of {', '.join(SIZES)}")
    for n in nets:
        if n not in NETS:
            p.error(f"unknown net {n!r}: expected one of {', '.join(NETS)}")
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    print(f"device {args.device}, {args.threads} threads, torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}")
    header = f"{'size':>5} {'V':>6} {'net':>16} {'ms/step':>9} {'cpu ms':>9} {'peak MB':>8} {'params':>8}"
    rows = [header, "-" * len(header)]
    print(header, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            path = os.path.join(tmp, f"{size}.pkl")
            seconds = prepare(size, args.cache, path)
            V = 10 * 4 ** SIZES[size] + 2
            print(f"# {size}: operators ready in {seconds:.1f} s", flush=True)
            for name in nets:
                cmd = [sys.executable, __file__, "--child", name, path, "--device", args.device,
                       "--steps", str(args.steps), "--threads", str(args.threads)]
                out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode != 0:
                    line = f"{size:>5} {V:>6} {name:>16}   failed: {out.stderr.strip().splitlines()[-1:]}"
                else:
                    r = json.loads(out.stdout.strip().splitlines()[-1])
                    line = f"{size:>5} {V:>6} {name:>16} {r['ms']:9.0f} {r['cpu_ms']:9.0f} {r['peak_mb']:8.0f} {r['params']:8d}"
                rows.append(line)
                print(line, flush=True)
            if size in REFERENCE_DIFFUSIONNET_S and "diffusion" in nets:
                ref = f"{size:>5} {V:>6} {'reference DN':>16} {1e3 * REFERENCE_DIFFUSIONNET_S[size]:9.0f}"
                rows.append(ref)
                print(ref, flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
