"""GEM-CNN training-step time and peak memory: meshlearn's GemCNN beside the reference
implementation's FAUST model, measured in the same run.

The model is the one of the paper's FAUST experiment (de Haan et al. 2021, reference repository
``experiments/faust_direct.py``): xyz input, three residual blocks of two gauge-equivariant
convolutions each (scalar -> regular, regular -> regular, regular -> scalar), width 16, max order
L = 2, N = 7 samples in the regular nonlinearity, each convolution checkpointed, then a per-vertex
head 16 -> 256 -> classes with dropout 0.5 (6890 classes there: one per template vertex), log-softmax
and NLL loss. One training step = forward, loss, backward, Adam update, on one mesh.

* meshlearn: ``GemCNN(3, classes, width=16, n_blocks=3, max_order=2, n_samples=7, hidden=256,
  dropout=0.5, checkpoint=True)`` on ``compute_operators(shape, OperatorSpec.for_net(GemCNN))``.
* reference: the same network built from ``gem_cnn.nn.GemResNetBlock`` as ``faust_direct.py``
  builds it (``n_rings=2``, ``band_limit=2``, ``num_samples=7``, ``checkpoint=True``), imported
  from the peers folder (``shared/peers/gem-cnn``, see ``benchmarks/_common.py``; it needs
  ``torch_geometric`` and ``torch_scatter``). Its transforms (trimesh normals and edges,
  ``SimpleGeometry``, ``GemPrecomp``) run once before the timing; ``faust_direct.py`` runs
  ``GemPrecomp`` inside every forward pass, which is left out here so that only the network is timed.

``--checkpoint off`` builds both without checkpointing. A reference that cannot be imported is
reported and its row skipped.

Meshes: bumpy icospheres with 10,242 ("10k") or 40,962 ("40k") vertices (all one-ring edges,
E ~ 6 V). Each side runs in a fresh subprocess, ``--repeat`` rounds alternating (the order swapped
every round); "ms" is the median wall time of ``--steps`` steps after one warm-up, "cpu ms" the
process CPU time per step (all threads), both medians over the rounds; "peak MB" on CUDA
``torch.cuda.max_memory_allocated`` beyond what was allocated before the steps, on CPU the growth
of the peak resident set from just before the first step. The load average is printed before and
after: on a shared machine only the ratio of one run compares.

Run: ``python benchmarks/bench_gem.py`` (10k, 6890 classes, 3 rounds: a few minutes on 2 cores),
``--classes 8`` for the body without the large head, ``--device cuda``.
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

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import command_line, import_peer, load_average, median_runs, print_table, run_side  # noqa: E402

SIZES = {"2k": 3, "10k": 5, "40k": 6}  # icosphere subdivisions: 10 * 4**s + 2 vertices
MAX_ORDER, N_RINGS, WIDTH = 2, 2, 16


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def prepare(size: str, path: str) -> float:
    """Make the shape, compute meshlearn's operators and pickle both to ``path``; returns seconds."""
    import meshlearn
    from meshlearn.nets.gem import GemCNN
    from meshlearn.testing import bumpy_sphere

    shape = bumpy_sphere(SIZES[size])
    t0 = time.perf_counter()
    ops = meshlearn.compute_operators(shape, meshlearn.OperatorSpec.for_net(GemCNN))
    seconds = time.perf_counter() - t0
    with open(path, "wb") as f:
        pickle.dump((shape.verts, shape.faces, ops), f)
    return seconds


def reference_model(classes: int, checkpoint: bool) -> tuple[torch.nn.Module, object]:
    """The FAUST model of the reference repository, and its per-mesh transform."""
    gem, why = import_peer("gem_cnn")
    if gem is None:
        raise ImportError(why)
    from gem_cnn.nn import GemResNetBlock
    from gem_cnn.transform import GemPrecomp

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            kwargs = dict(n_rings=N_RINGS, band_limit=MAX_ORDER, num_samples=7, checkpoint=checkpoint, batch=100000)
            self.conv1 = GemResNetBlock(3, WIDTH, 0, MAX_ORDER, **kwargs)
            self.conv2 = GemResNetBlock(WIDTH, WIDTH, MAX_ORDER, MAX_ORDER, **kwargs)
            self.conv3 = GemResNetBlock(WIDTH, WIDTH, MAX_ORDER, 0, **kwargs)
            self.lin1 = torch.nn.Linear(WIDTH, 256)
            self.lin2 = torch.nn.Linear(256, classes)

        def forward(self, pos, edge_index, precomp, connection):
            x = pos[:, :, None]
            x = self.conv1(x, edge_index, precomp, connection)
            x = self.conv2(x, edge_index, precomp, connection)
            x = self.conv3(x, edge_index, precomp, connection)
            x = torch.relu(self.lin1(x[:, :, 0]))
            x = torch.nn.functional.dropout(x, training=self.training)
            return torch.log_softmax(self.lin2(x), dim=1)

    return Net(), GemPrecomp(N_RINGS, MAX_ORDER)


def reference_inputs(verts: np.ndarray, faces: np.ndarray, transform) -> tuple:
    """The reference's pre-transforms and transform on one mesh (as ``faust_direct.py`` runs them)."""
    from gem_cnn.transform import SimpleGeometry, compute_normals_edges_from_mesh
    from torch_geometric.data import Data

    data = Data(pos=torch.from_numpy(np.asarray(verts, dtype=np.float32)),
                face=torch.from_numpy(np.asarray(faces, dtype=np.int64).T.copy()))
    data = transform(SimpleGeometry()(compute_normals_edges_from_mesh(data)))
    return data.pos, data.edge_index, data.precomp, data.connection


def run_one(impl: str, path: str, classes: int, steps: int, device: str, threads: int | None, checkpoint: bool) -> dict:
    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(device)
    with open(path, "rb") as f:
        verts, faces, ops = pickle.load(f)
    torch.manual_seed(0)
    if impl == "reference":
        net, transform = reference_model(classes, checkpoint)
        t0 = time.perf_counter()
        inputs = reference_inputs(verts, faces, transform)
        prep_s = time.perf_counter() - t0
        inputs = tuple(t.to(dev) for t in inputs)
        net = net.to(dev)
        n_edges = int(inputs[1].shape[1])

        def forward():
            return net(*inputs)
    else:
        from meshlearn.nets.gem import GemCNN

        prep_s = float("nan")
        ops = ops.to(dev)
        x = ops.verts.float()
        net = GemCNN(3, classes, width=WIDTH, n_blocks=3, max_order=MAX_ORDER, n_samples=7, hidden=256,
                     dropout=0.5, checkpoint=checkpoint, seed=0, device=dev)
        n_edges = int(ops.gauge.edge_index.shape[1])

        def forward():
            return torch.log_softmax(net(x, ops), dim=1)

    n_verts = len(verts)
    target = torch.randint(0, classes, (n_verts,), generator=torch.Generator().manual_seed(0)).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.nll_loss(forward(), target)
        loss.backward()
        opt.step()

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
    rss0 = _rss_mb()
    step()  # warm-up (allocations, kernel selection); counted in the peak
    _sync(dev)
    walls, cpus = [], []
    for _ in range(steps):
        t, c = time.perf_counter(), time.process_time()
        step()
        _sync(dev)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    peak = (torch.cuda.max_memory_allocated(dev) - base) / 2**20 if dev.type == "cuda" else _rss_mb() - rss0
    return {"V": n_verts, "E": n_edges, "ms": 1e3 * statistics.median(walls), "cpu_ms": 1e3 * statistics.median(cpus),
            "peak_mb": peak, "params": sum(p.numel() for p in net.parameters()), "prep_s": prep_s}


def _run(impl: str, path: str, classes: int, args) -> dict:
    cmd = [sys.executable, __file__, "--one", impl, path, str(classes), "--steps", str(args.steps),
           "--device", args.device, "--checkpoint", args.checkpoint]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    return run_side(cmd)


def _median(runs: list[dict]) -> dict:
    return median_runs(runs, ("ms", "cpu_ms", "peak_mb"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10k", help="comma-separated, from: " + ", ".join(SIZES))
    ap.add_argument("--classes", default="6890", help="comma-separated head sizes (6890: the paper's FAUST)")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per process after one warm-up (median)")
    ap.add_argument("--repeat", type=int, default=3, help="alternating rounds, each in fresh processes (median)")
    ap.add_argument("--checkpoint", default="on", choices=("on", "off"), help="checkpoint the convolutions (the paper's: on)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--one", nargs=3, metavar=("IMPL", "PICKLE", "CLASSES"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    checkpoint = args.checkpoint == "on"
    if args.one:
        impl, path, classes = args.one
        print(json.dumps(run_one(impl, path, int(classes), args.steps, args.device, args.threads, checkpoint)))
        return
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for size in sizes:
        if size not in SIZES:
            ap.error(f"unknown size {size!r}: expected one of {', '.join(SIZES)}")
    print(f"# {command_line()}")
    print(f"# device {args.device}, threads {args.threads or torch.get_num_threads()}, torch {torch.__version__}; "
          f"before: {load_average()}")
    gem, why = import_peer("gem_cnn")
    if gem is None:
        print(f"# reference skipped: {why}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_gem_") as tmp:
        for size in sizes:
            path = os.path.join(tmp, f"{size}.pkl")
            print(f"# {size}: meshlearn's operators in {prepare(size, path):.1f} s", file=sys.stderr, flush=True)
            for classes in [int(c) for c in args.classes.split(",")]:
                sides = ["meshlearn", "reference"] if gem is not None else ["meshlearn"]
                runs: dict[str, list[dict]] = {s: [] for s in sides}
                for r in range(max(1, args.repeat)):
                    for impl in (sides if r % 2 == 0 else sides[::-1]):
                        runs[impl].append(_run(impl, path, classes, args))
                        last = runs[impl][-1]
                        print(f"#   {size} classes {classes} {impl} round {r + 1}: "
                              + (f"{last['ms']:.0f} ms, cpu {last['cpu_ms']:.0f} ms" if "ms" in last else str(last)),
                              file=sys.stderr, flush=True)
                ours = _median(runs["meshlearn"])
                theirs = _median(runs["reference"]) if gem is not None else {"failed": "skipped: " + why}
                row = [size, ours.get("V", "-"), classes]
                for side in (ours, theirs):
                    row += [f"{side['ms']:.0f}", f"{side['cpu_ms']:.0f}", f"{side['peak_mb']:.0f}", side["E"]] if "ms" in side \
                        else [side["failed"], "-", "-", "-"]
                if "ms" in ours and "ms" in theirs:
                    row += [f"{theirs['ms'] / ours['ms']:.1f}x", f"{theirs['cpu_ms'] / ours['cpu_ms']:.1f}x"]
                    print(f"# reference transforms (once, not timed): {theirs['prep_s']:.2f} s; "
                          f"parameters: meshlearn {ours['params']}, reference {theirs['params']}", flush=True)
                else:
                    row += ["-", "-"]
                rows.append(row)
    print(f"# medians of {args.repeat} alternating rounds x {args.steps} steps; checkpointing {args.checkpoint}; "
          "ms = wall, cpu ms = all threads")
    print_table(["mesh", "V", "classes", "meshlearn ms", "cpu ms", "peak MB", "E", "reference ms", "cpu ms", "peak MB", "E",
                 "ratio", "cpu ratio"], rows)
    print(f"# after: {load_average()}")


if __name__ == "__main__":
    main()
