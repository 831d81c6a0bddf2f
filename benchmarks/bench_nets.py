"""Training-step time and peak memory of meshlearn's nets beside the reference implementations,
measured in the same run.

Pairs (one training step = forward, cross-entropy over 8 classes, backward, Adam update):

* ``diffusion`` against ``ref_diffusion``: meshlearn's DiffusionNet and the reference
  ``diffusion_net.layers.DiffusionNet`` (imported from the peers folder, see
  ``benchmarks/_common.py``), both width 128, 4 blocks, k = 128 eigenpairs, gradient features,
  dropout 0.5, xyz input: the reference's default configuration. Both run on the same operators:
  meshlearn's (mass, L, eigenpairs, the two gradient operators), handed to the reference as the
  torch tensors its ``forward`` takes (``mass``, ``L``, ``evals``, ``evecs``, ``gradX``, ``gradY``,
  the sparse ones as COO tensors, as its own ``compute_operators`` returns them);
* ``cheb`` against ``pyg_cheb``: meshlearn's ChebNet (width 64, 4 layers, K = 6, the sparse
  Laplace-Beltrami operator) and the same stack of PyTorch Geometric ``ChebConv`` (width 64, 4
  layers, K = 6, ReLU between) on the mesh's edge graph (every edge of every face, both
  directions; symmetric normalisation, lambda_max = 2, its defaults);
* ``spectral_filter`` (SpectralFilterNet, width 64, 4 layers, k = 128) and ``patch`` (PatchConvNet,
  width 32, 4 layers, patches of 32 neighbours) have no reference; ``--nets`` adds them.

A reference that cannot be imported is reported and its row skipped.

Meshes: bumpy icospheres with 10,242 ("10k") and 40,962 ("40k") vertices. Operators are computed
once per size in the parent (cached in ``--cache``); every configuration runs in a fresh
subprocess, ``--repeat`` rounds alternating meshlearn and the reference (the order swapped every
round), and the medians over the rounds are reported.

Columns: "ms" the median wall-clock time of ``--steps`` steps after one warm-up step; "cpu ms" the
process CPU time per step (all threads); "peak MB" on CUDA ``torch.cuda.max_memory_allocated``
beyond what was allocated before the steps, on CPU the growth of the peak resident set from just
before the first step. On a machine shared with other work the wall time grows with the load
(printed before and after); the ratio of one run is what compares.

Run: ``python benchmarks/bench_nets.py`` (both sizes, both pairs, 3 rounds: a few minutes on 2
cores once the operators are cached), or ``--sizes 10k --nets cheb,pyg_cheb --device cuda``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import command_line, import_peer, load_average, median_runs, print_table, run_side  # noqa: E402

SIZES = {"2k": 3, "10k": 5, "40k": 6}  # icosphere subdivisions: 10 * 4**s + 2 vertices
#: meshlearn net -> its reference (None: no reference)
PAIRS = {"diffusion": "ref_diffusion", "cheb": "pyg_cheb", "spectral_filter": None, "patch": None}
NETS = tuple(PAIRS) + tuple(r for r in PAIRS.values() if r)
#: the name each reference row is printed under (a label; its timings are measured in the run)
REFERENCE_NAME = {"ref_diffusion": "DiffusionNet (diffusion_net.layers)", "pyg_cheb": "PyTorch Geometric ChebConv"}
CLASSES = 8


def build(name: str, device: torch.device) -> torch.nn.Module:
    if name == "ref_diffusion":
        dn, why = import_peer("diffusion_net")
        if dn is None:
            raise ImportError(why)
        return dn.layers.DiffusionNet(C_in=3, C_out=CLASSES, C_width=128, N_block=4, outputs_at="vertices").to(device)
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

    from meshlearn.nets import ChebNet, DiffusionNet, PatchConvNet, SpectralFilterNet

    if name == "diffusion":
        return DiffusionNet(3, CLASSES, width=128, n_blocks=4, device=device)
    if name == "cheb":
        return ChebNet(3, CLASSES, width=64, n_layers=4, K=6, device=device)
    if name == "spectral_filter":
        return SpectralFilterNet(3, CLASSES, width=64, n_layers=4, device=device)
    if name == "patch":
        return PatchConvNet(3, CLASSES, width=32, n_layers=4, device=device)
    raise ValueError(f"unknown net {name!r}: expected one of {', '.join(NETS)}")


def unavailable(name: str) -> str:
    """Why the reference ``name`` cannot run here ("" when it can)."""
    if name == "ref_diffusion":
        return import_peer("diffusion_net")[1]
    if name == "pyg_cheb":
        try:
            import torch_geometric.nn  # noqa: F401
        except ImportError as e:
            return f"cannot import torch_geometric: {e} (pip install -e '.[bench]')"
    return ""


def prepare(size: str, nets: list[str], cache: str, path: str) -> float:
    """Compute (or load from ``cache``) the operators of one size and pickle them to ``path``."""
    import meshlearn
    from meshlearn.testing import bumpy_sphere

    kinds = {"laplacian"}
    if {"diffusion", "ref_diffusion"} & set(nets):
        kinds |= {"spectral", "gradients"}
    if "spectral_filter" in nets:
        kinds.add("spectral")
    if "patch" in nets:
        kinds.add("patches")
    shape = bumpy_sphere(SIZES[size], amplitude=0.1)
    spec = meshlearn.OperatorSpec(operators=frozenset(kinds), k=128, patch_max=32)
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
    x = ops.verts.float().clone()
    target = (torch.arange(ops.n_verts, device=device) * CLASSES) // ops.n_verts

    if name == "ref_diffusion":  # the reference's inputs, from the same operators
        ref_inputs = dict(mass=ops.mass.float(), L=ops.L.float().coalesce(), evals=ops.evals.float(),
                          evecs=ops.evecs.float(), gradX=ops.grad_x.float().coalesce(),
                          gradY=ops.grad_y.float().coalesce())

        def forward():
            return net(x, **ref_inputs)
    elif name == "pyg_cheb":
        def forward():
            return net(x, edge_index)
    else:
        def forward():
            return net(x, ops)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(forward(), target)
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


def _run_child(name: str, path: str, args) -> dict:
    cmd = [sys.executable, __file__, "--child", name, path, "--device", args.device,
           "--steps", str(args.steps), "--threads", str(args.threads)]
    return run_side(cmd)


def _median(runs: list[dict]) -> dict:
    return median_runs(runs, ("ms", "cpu_ms", "peak_mb"))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10k,40k", help=f"comma-separated, from {', '.join(SIZES)}")
    p.add_argument("--nets", default="diffusion,cheb",
                   help=f"comma-separated meshlearn nets, each run beside its reference: {', '.join(PAIRS)}")
    p.add_argument("--no-reference", action="store_true", help="meshlearn's nets only")
    p.add_argument("--steps", type=int, default=3, help="timed steps per process after one warm-up (median)")
    p.add_argument("--repeat", type=int, default=3, help="alternating rounds, each in fresh processes (median)")
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
        if n not in PAIRS:
            p.error(f"unknown net {n!r}: expected one of {', '.join(PAIRS)}")
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    print(f"# {command_line()}")
    print(f"# device {args.device}, {args.threads} threads, torch {torch.__version__}; before: {load_average()}")
    skipped = {}
    for n in nets:
        ref = PAIRS[n]
        if ref and not args.no_reference and unavailable(ref):
            skipped[ref] = unavailable(ref)
            print(f"# {ref} skipped: {skipped[ref]}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            path = os.path.join(tmp, f"{size}.pkl")
            seconds = prepare(size, nets, args.cache, path)
            V = 10 * 4 ** SIZES[size] + 2
            print(f"# {size}: operators ready in {seconds:.1f} s", file=sys.stderr, flush=True)
            for name in nets:
                ref = PAIRS[name]
                if args.no_reference or ref in skipped:
                    ref = None
                runs: dict[str, list[dict]] = {name: [], ref: []}
                for r in range(max(1, args.repeat)):
                    order = [name, ref] if r % 2 == 0 else [ref, name]
                    for which in order:
                        if which:
                            runs[which].append(_run_child(which, path, args))
                            last = runs[which][-1]
                            print(f"#   {size} {which} round {r + 1}: " + (f"{last['ms']:.0f} ms" if "ms" in last else str(last)),
                                  file=sys.stderr, flush=True)
                ours = _median(runs[name])
                row = [size, V, name]
                row += [f"{ours['ms']:.0f}", f"{ours['cpu_ms']:.0f}", f"{ours['peak_mb']:.0f}"] if "ms" in ours \
                    else [f"failed: {ours['failed']}", "-", "-"]
                if ref:
                    theirs = _median(runs[ref])
                    row += [REFERENCE_NAME[ref]]
                    row += [f"{theirs['ms']:.0f}", f"{theirs['cpu_ms']:.0f}", f"{theirs['peak_mb']:.0f}"] if "ms" in theirs \
                        else [f"failed: {theirs['failed']}", "-", "-"]
                    if "ms" in ours and "ms" in theirs:
                        row += [f"{theirs['ms'] / ours['ms']:.1f}x", f"{theirs['cpu_ms'] / ours['cpu_ms']:.1f}x"]
                    else:
                        row += ["-", "-"]
                else:
                    why = skipped.get(PAIRS[name]) and "skipped (see above)"
                    row += [why or "-", "-", "-", "-", "-", "-"]
                rows.append(row)
    print(f"# medians of {args.repeat} alternating rounds x {args.steps} steps; ms = wall, cpu ms = all threads")
    print_table(["size", "V", "net", "ms", "cpu ms", "peak MB", "reference", "ms", "cpu ms", "peak MB", "ratio", "cpu ratio"], rows)
    print(f"# after: {load_average()}")


if __name__ == "__main__":
    main()
