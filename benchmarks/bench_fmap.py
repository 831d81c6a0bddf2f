"""Deep functional maps: the batched solver, the unsupervised training step and soft-map memory,
beside the references (ULRSSM's solver and losses, DiffusionNet's functional_correspondence model).

Sections (``--sections``, default all):

* ``solver``: one pair of synthetic bodies of about 5k vertices, D = 256 random descriptors (the
  width ULRSSM's feature extractor outputs), k = 30, 50, 100, 200. "batched" is
  :func:`meshlearn.correspondence.solve_fmap` (every row in one ``torch.linalg.solve``); "rows" the
  same maths solved row by row in a Python loop with ``torch.inverse`` (the loop ULRSSM's
  ``RegularizedFMNet`` and DiffusionNet's ``compute_correspondence`` run, which DeepShapeMatchingKit
  replaced); "ulrssm" and "dn" the peers' own functions, called on the same coefficients, with
  meshlearn's answer for their settings (resolvent mask, lam = 100; commutativity mask, lam = 1e-3)
  checked against theirs ("max |dC|"). Times include the projection of the descriptors; "fwd+bwd"
  adds the backward pass of ``C.sum()``.
* ``train``: one training step (forward of both shapes, both maps, losses, backward, Adam) on that
  pair: meshlearn's unsupervised pipeline (``DeepFunctionalMap``: DiffusionNet width 128, 4 blocks,
  WKS input (16), 256 descriptors, k = 50, bijectivity + orthogonality + coupling, soft maps in
  blocks) against ULRSSM's step run from its pieces (diffusion-net's DiffusionNet of the same size,
  ``RegularizedFMNet`` bidirectional, ``SURFMNetLoss``, ``Similarity`` with tau 0.07 on the dense
  similarity, the coupling ``SquaredFrobeniusLoss``) and DiffusionNet's supervised
  ``FunctionalMapCorrespondenceWithDiffusionNetFeatures`` (k = 30, loss on the ground-truth C).
  Each runs in a fresh process; "ms/step" is the median wall time of ``--steps`` steps after a
  warm-up step, "cpu ms" the process CPU time per step (the figure to compare on a loaded machine),
  "peak MB" the growth of the peak resident set size from just before the first step (CPU) or
  ``torch.cuda.max_memory_allocated`` beyond what was allocated then (CUDA).
* ``memory``: the coupling term's soft functional map (forward + backward, blocks of 2048 rows)
  and the pointwise map with ZoomOut 30 -> 50 (one step of 20, so two nearest-neighbour passes) at
  5k and 50k vertices per shape, D = 64 (``--mem-d``), k = 50, random features and bases (memory
  depends only on the sizes), each in a fresh process; "dense" is the same soft map formed as a
  (Vb, Va) matrix (at 50k it needs 10 GB per matrix in float32 and is not run).

Run: ``python benchmarks/bench_fmap.py`` (the 50k memory rows take about 15 minutes on one loaded
core; operators are cached in ``data/out/bench_fmap``), or ``--sections solver --ks 30,50``.
``--device cuda`` runs on a GPU.

Measured with ``--threads 1`` on a 2-core machine shared with other jobs (load average 7 to 18, so
wall times are inflated and swing from run to run; "cpu ms" is the figure to compare)::

    solver, pair of 4786 / 3900 vertices, D = 256, cpu, float32, ms (median of 5; diffs in float64)
    k    batched  rows  ulrssm    dn  rows/batched  fwd+bwd batched  fwd+bwd rows  max|dC| rows  rel|dC| ulrssm  rel|dC| dn
    30     13.3   22.0    23.2  14.0          1.7x             32.7          54.0       1.7e-16         2.7e-16     2.8e-16
    50     18.0   31.2    35.1  35.4          1.7x             40.5          66.7       3.6e-16         7.8e-16     8.3e-16
    100    48.2   95.1   104.1  96.1          2.0x             77.4         162.2       5.0e-16         1.8e-15     1.5e-15
    200   319.7 1047.2  1129.3 974.4          3.3x            706.8        1490.6       2.9e-15         1.5e-15     1.6e-15

On one CPU thread the batched solve gains 1.6-3.3x: the row loop's Python and per-call overhead is
small next to LAPACK's work there; the 33x DeepShapeMatchingKit reports is a GPU figure, where each
of the k small calls is a kernel launch. meshlearn's maps equal the peers' to 1e-15 with their settings.

    training step, pair of bodies (4786 / 3900 vertices), cpu
    pipeline       k   ms/step  cpu ms  peak MB
    meshlearn      50    10725    3364      663
    ulrssm         50    10776    3517     1056
    dn_supervised  30     3993    1280      481

    memory, Va = Vb = V, D = 64, k = 50, cpu
    V      computation  peak MB  Va x Vb float32 MB  seconds
    5000   soft             295                  95     10.9
    5000   dense            292                  95      4.6
    5000   zoomout           99                  95      3.1
    50000  soft            1334                9537    568.6
    50000  dense        not run                9537
    50000  zoomout          813                9537    241.0

At 50k the blocked soft map holds three (2048, 50000) float32 blocks at a time (logits, softmax,
their gradient: about 1.2 GB); a smaller ``chunk`` lowers that in proportion. The dense version
would need at least three 9.5 GB matrices.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from _common import print_table, run_worker, timed  # noqa: E402

PEERS = ROOT.parent / "shared" / "peers"
CACHE = ROOT / "data" / "out" / "bench_fmap"


# ------------------------------------------------------------------------------------------ data
def bodies(n_vertices: int = 5000, k: int = 200):
    """Two synthetic bodies (operators for DiffusionNet + WKS, float32) and their template vts."""
    import meshlearn
    from meshlearn.datasets import generate_shapes
    from meshlearn.nets import DiffusionNet

    CACHE.mkdir(parents=True, exist_ok=True)
    shapes = list(generate_shapes(2, seed=3, n_vertices=n_vertices, pose_amount=0.5))
    spec = meshlearn.OperatorSpec.for_net(DiffusionNet, inputs="wks", k=k)
    ops = [meshlearn.compute_operators(s.shape, spec, cache=CACHE) for s in shapes]
    return shapes, ops


def _rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class PeakMemory:
    """Peak memory growth (MB) of a block: CUDA allocator peak, or CPU peak RSS (Linux ru_maxrss)."""

    def __init__(self, device):
        self.device = device

    def __enter__(self):
        import torch

        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            self.base = _rss_kb()
        return self

    def __exit__(self, *exc):
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.mb = (torch.cuda.max_memory_allocated() - self.base) / 2**20
        else:
            self.mb = (_rss_kb() - self.base) / 1024.0


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


# ---------------------------------------------------------------------------------------- solver
def row_by_row(A, B, penalty):
    """The loop: row i of C from its own (Ka, Ka) system, one ``torch.inverse`` per row."""
    import torch

    AAt = A @ A.transpose(-1, -2)
    BAt = B @ A.transpose(-1, -2)
    rows = []
    for i in range(B.shape[1]):
        Di = torch.diag_embed(penalty[:, i, :])
        rows.append((torch.inverse(AAt + Di) @ BAt[:, i, :, None]).transpose(1, 2))
    return torch.cat(rows, dim=1)


def section_solver(args, device):
    import torch

    from meshlearn.correspondence import laplacian_mask, solve_fmap, spectral_coefficients

    sys.path.insert(0, str(PEERS / "ulrssm"))
    sys.path.insert(0, str(PEERS / "diffusion-net" / "experiments" / "functional_correspondence"))
    sys.path.insert(0, str(PEERS / "diffusion-net" / "src"))
    from networks.fmap_network import RegularizedFMNet  # ULRSSM
    from fmaps_model import compute_correspondence  # DiffusionNet's functional_correspondence

    shapes, ops = bodies(k=max(args.ks))
    a, b = (o.to(device, torch.float32) for o in ops)
    g = torch.Generator(device="cpu").manual_seed(0)
    fa = torch.randn(a.n_verts, 256, generator=g).to(device)
    fb = torch.randn(b.n_verts, 256, generator=g).to(device)
    rows_out = []
    for k in args.ks:
        ea, eb = a.evecs[:, :k], b.evecs[:, :k]
        la, lb = a.evals[None, :k], b.evals[None, :k]

        def coefs():
            return spectral_coefficients(fa, ea, a.mass)[None], spectral_coefficients(fb, eb, b.mass)[None]

        def batched():
            A, B = coefs()
            return solve_fmap(A, B, la, lb, lam=1e-3)

        def rows():
            A, B = coefs()
            scale = (A * A).sum(-1).mean(-1)
            pen = 1e-3 * scale[:, None, None] * laplacian_mask(la, lb) + 1e-10 * scale[:, None, None]
            return row_by_row(A, B, pen)

        A64, B64 = (t.double() for t in coefs())
        C_b = solve_fmap(A64, B64, la.double(), lb.double(), lam=1e-3)
        scale = (A64 * A64).sum(-1).mean(-1)
        pen = 1e-3 * scale[:, None, None] * laplacian_mask(la.double(), lb.double()) + 1e-10 * scale[:, None, None]
        diff_rows = float((C_b - row_by_row(A64, B64, pen)).abs().max())

        # the peers' solvers take features (B, V, D) and evecs_trans = evecs^T M (B, K, V)
        et_a, et_b = (ea.T * a.mass[None, :])[None], (eb.T * b.mass[None, :])[None]
        ulrssm = RegularizedFMNet(lmbda=100, resolvant_gamma=0.5, bidirectional=False)

        def peer_ulrssm():
            return ulrssm(fa[None], fb[None], la, lb, et_a, et_b)[0]

        def peer_dn():
            return compute_correspondence(fa, fb, la[0], lb[0], et_a[0], et_b[0], lambda_param=1e-3)

        with torch.no_grad():  # all in float64 from the same float32 inputs
            A = spectral_coefficients(fa.double(), ea.double(), a.mass.double())[None]
            B = spectral_coefficients(fb.double(), eb.double(), b.mass.double())[None]
            ta, tb = (ea.double().T * a.mass.double())[None], (eb.double().T * b.mass.double())[None]
            mine_u = solve_fmap(A.double(), B.double(), la.double(), lb.double(), lam=100.0, mask="resolvent", scale_free=False, ridge=0.0)
            theirs_u = RegularizedFMNet(lmbda=100, resolvant_gamma=0.5)(
                fa[None].double(), fb[None].double(), la.double(), lb.double(), ta, tb)[0]
            mine_d = solve_fmap(A.double(), B.double(), la.double(), lb.double(), lam=1e-3, scale_free=False, ridge=0.0)
            theirs_d = compute_correspondence(fa.double(), fb.double(), la[0].double(), lb[0].double(),
                                              ta[0], tb[0], lambda_param=1e-3)
        d_u = float((mine_u - theirs_u).abs().max() / theirs_u.abs().max())
        d_d = float((mine_d - theirs_d).abs().max() / theirs_d.abs().max())

        def fwd(fn):
            def run():
                with torch.no_grad():
                    out = fn()
                _sync(device)
                return out
            return run

        def fwd_bwd(fn):
            def run():
                fa.requires_grad_(True)
                fb.requires_grad_(True)
                out = fn()
                out.sum().backward()
                fa.grad = fb.grad = None
                fa.requires_grad_(False)
                fb.requires_grad_(False)
                _sync(device)
            return run

        res = {}
        for name, fn in (("batched", batched), ("rows", rows), ("ulrssm", peer_ulrssm), ("dn", peer_dn)):
            fwd(fn)()  # warm-up
            res[name] = (timed(fwd(fn), args.repeats)[1], timed(fwd_bwd(fn), args.repeats)[1])
        rows_out.append([
            k, *(f"{1e3 * res[n][0]:.1f}" for n in res), f"{res['rows'][0] / res['batched'][0]:.1f}x",
            *(f"{1e3 * res[n][1]:.1f}" for n in ("batched", "rows")), f"{res['rows'][1] / res['batched'][1]:.1f}x",
            f"{diff_rows:.1e}", f"{d_u:.1e}", f"{d_d:.1e}",
        ])
    print(f"\n### solver, pair of {a.n_verts} / {b.n_verts} vertices, D = 256, {device.type}, float32 (diffs in float64)\n")
    print_table(
        ["k", "batched ms", "rows ms", "ulrssm ms", "dn ms", "rows/batched", "fwd+bwd batched", "fwd+bwd rows",
         "ratio", "max |dC| rows", "rel |dC| ulrssm", "rel |dC| dn"],
        rows_out,
    )


# ----------------------------------------------------------------------------------------- train
def _peer_ops(o):
    """A meshlearn Operators (torch) as the peer DiffusionNet's keyword arguments."""
    return dict(mass=o.mass, L=o.L, evals=o.evals, evecs=o.evecs, gradX=o.grad_x, gradY=o.grad_y, faces=o.faces)


def train_worker(which: str, device_name: str, steps: int) -> dict:
    import torch

    import meshlearn  # noqa: F401
    from meshlearn.correspondence import DeepFunctionalMap, FunctionalMapSolver, fmap_from_correspondences, unsupervised_loss
    from meshlearn.nets import DiffusionNet

    device = torch.device(device_name)
    torch.manual_seed(0)
    shapes, ops = bodies()
    a, b = (o.to(device, torch.float32) for o in ops)
    xa, xb = a.wks, b.wks
    if which == "meshlearn":
        k = 50
        net = DiffusionNet(xa.shape[1], 256, width=128, n_blocks=4, dropout=0.0, device=device)
        model = DeepFunctionalMap(net, k=k, solver=FunctionalMapSolver(lam=1e-3), tau=0.07).to(device)
        loss = unsupervised_loss()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            opt.zero_grad()
            total, _ = loss(model(xa, a, xb, b))
            total.backward()
            opt.step()
            return float(total)
    else:
        sys.path.insert(0, str(PEERS / "diffusion-net" / "src"))
        import diffusion_net

        if which == "ulrssm":
            sys.path.insert(0, str(PEERS / "ulrssm"))
            from losses.fmap_loss import SquaredFrobeniusLoss, SURFMNetLoss
            from networks.fmap_network import RegularizedFMNet
            from networks.permutation_network import Similarity

            k = 50
            net = diffusion_net.layers.DiffusionNet(C_in=xa.shape[1], C_out=256, C_width=128, N_block=4, dropout=False).to(device)
            fmap_net = RegularizedFMNet(lmbda=100, resolvant_gamma=0.5, bidirectional=True)
            surf, align, perm = SURFMNetLoss(w_bij=1.0, w_orth=1.0, w_lap=0.0), SquaredFrobeniusLoss(), Similarity(tau=0.07)
            opt = torch.optim.Adam(net.parameters(), lr=1e-3)
            ex, ey = a.evecs[None, :, :k], b.evecs[None, :, :k]
            etx, ety = (a.evecs[:, :k].T * a.mass)[None], (b.evecs[:, :k].T * b.mass)[None]
            lx, ly = a.evals[None, :k], b.evals[None, :k]

            def step():
                opt.zero_grad()
                fx = net(xa, **_peer_ops(a))[None]
                fy = net(xb, **_peer_ops(b))[None]
                Cxy, Cyx = fmap_net(fx, fy, lx, ly, etx, ety)
                terms = surf(Cxy, Cyx, lx, ly)
                nx, ny = torch.nn.functional.normalize(fx, dim=-1), torch.nn.functional.normalize(fy, dim=-1)
                sim = torch.bmm(nx, ny.transpose(1, 2))  # (1, Vx, Vy): the dense similarity
                Pxy, Pyx = perm(sim), perm(sim.transpose(1, 2))
                terms["l_align"] = align(Cxy, ety @ (Pyx @ ex)) + align(Cyx, etx @ (Pxy @ ey))
                total = sum(terms.values())
                total.backward()
                opt.step()
                return float(total)
        else:  # DiffusionNet's supervised functional_correspondence model
            sys.path.insert(0, str(PEERS / "diffusion-net" / "experiments" / "functional_correspondence"))
            from fmaps_model import FunctionalMapCorrespondenceWithDiffusionNetFeatures

            k = 30
            model = FunctionalMapCorrespondenceWithDiffusionNetFeatures(n_feat=128, n_fmap=k, input_features="hks").to(device)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            va, vb = (torch.as_tensor(s.vts, device=device) for s in shapes)
            C_gt = fmap_from_correspondences(vb, va, b.evecs[:, :k], a.evecs[:, :k])  # their C maps shape 1 -> 2

            def pack(o, x):
                return (o.verts.float(), o.faces, o.frames, o.mass, o.L, o.evals, o.evecs, o.grad_x, o.grad_y, x, None)

            def step():
                opt.zero_grad()
                C, _, _ = model(pack(a, xa), pack(b, xb))
                total = ((C[0] - C_gt) ** 2).sum()
                total.backward()
                opt.step()
                return float(total)
    with PeakMemory(device) as mem:  # from before the first step: the peak is a high-water mark
        step()  # warm-up
        _, wall, cpu = timed(step, steps)
    return {"ms": 1e3 * wall, "cpu_ms": 1e3 * cpu, "peak_mb": mem.mb, "V": [a.n_verts, b.n_verts], "k": k}


def section_train(args, device):
    bodies()  # operators into the cache before the workers start
    rows = []
    for which in ("meshlearn", "ulrssm", "dn_supervised"):
        r = run_worker(__file__, ["train", which, device.type, str(args.steps)])
        rows.append([which, r["k"], f"{r['ms']:.0f}", f"{r['cpu_ms']:.0f}", f"{r['peak_mb']:.0f}"])
    print(f"\n### training step, pair of bodies ({r['V'][0]} / {r['V'][1]} vertices), {device.type}\n")
    print_table(["pipeline", "k", "ms/step", "cpu ms", "peak MB"], rows)


# ---------------------------------------------------------------------------------------- memory
def memory_worker(what: str, n: int, device_name: str) -> dict:
    import torch

    from meshlearn.correspondence import dense_soft_map, soft_fmap, zoomout

    device = torch.device(device_name)
    g = torch.Generator(device="cpu").manual_seed(0)
    K, D = 50, int(os.environ.get("BENCH_MEM_D", "64"))
    fa = torch.nn.functional.normalize(torch.randn(n, D, generator=g), dim=1).to(device).requires_grad_(True)
    fb = torch.nn.functional.normalize(torch.randn(n, D, generator=g), dim=1).to(device).requires_grad_(True)
    ea = (torch.randn(n, K, generator=g) / np.sqrt(n)).to(device)
    eb = (torch.randn(n, K, generator=g) / np.sqrt(n)).to(device)
    mass = torch.full((n,), 1.0, device=device)
    t0 = time.perf_counter()
    with PeakMemory(device) as mem:
        if what == "soft":
            C = soft_fmap(fa, fb, ea, eb, mass, 0.07)
            C.square().sum().backward()
        elif what == "dense":
            P = dense_soft_map(fa, fb, 0.07)
            C = eb.T @ (mass[:, None] * (P @ ea))
            C.square().sum().backward()
        else:  # pointwise map + ZoomOut
            with torch.no_grad():
                C0 = torch.eye(30, device=device)
                zoomout(C0, ea, eb, mass, k_final=50, step=20)  # two nearest-neighbour passes
        _sync(device)
    return {"peak_mb": mem.mb, "s": time.perf_counter() - t0}


def section_memory(args, device):
    rows = []
    for n in args.mem_sizes:
        for what in ("soft", "dense", "zoomout"):
            dense_mb = n * n * 4 / 2**20
            if what == "dense" and dense_mb > args.dense_limit_mb:
                rows.append([n, what, "not run", f"(one matrix: {dense_mb:.0f})", ""])
                continue
            r = run_worker(__file__, ["memory", what, str(n), device.type])
            rows.append([n, what, f"{r['peak_mb']:.0f}", f"{dense_mb:.0f}", f"{r['s']:.1f}"])
    print(f"\n### memory, Va = Vb = V, D = {os.environ.get('BENCH_MEM_D', '64')}, k = 50, {device.type}\n")
    print_table(["V", "computation", "peak MB", "Va x Vb float32 MB", "seconds"], rows)


# ------------------------------------------------------------------------------------------ main
def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind = sys.argv[2]
        import torch

        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
        if kind == "train":
            out = train_worker(sys.argv[3], sys.argv[4], int(sys.argv[5]))
        else:
            out = memory_worker(sys.argv[3], int(sys.argv[4]), sys.argv[5])
        print(json.dumps(out))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sections", default="solver,train,memory")
    p.add_argument("--ks", default="30,50,100,200")
    p.add_argument("--mem-sizes", default="5000,50000")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--mem-d", type=int, default=64, help="descriptor channels of the memory section")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--dense-limit-mb", type=float, default=1024.0, help="skip the dense soft map above this size")
    args = p.parse_args()
    args.ks = [int(v) for v in args.ks.split(",")]
    args.mem_sizes = [int(v) for v in args.mem_sizes.split(",")]
    os.environ["BENCH_THREADS"] = str(args.threads)
    os.environ["BENCH_MEM_D"] = str(args.mem_d)
    import torch

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"load average {os.getloadavg()[0]:.1f}, threads {args.threads}, torch {torch.__version__}")
    for s in args.sections.split(","):
        {"solver": section_solver, "train": section_train, "memory": section_memory}[s](args, device)


if __name__ == "__main__":
    main()
