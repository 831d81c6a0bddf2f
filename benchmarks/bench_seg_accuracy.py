"""Segmentation accuracy of meshlearn's nets and the reference implementations, trained with the same
budget on one dataset and scored by one metric.

Pipelines (``--pipelines``, comma-separated):

* ``meshlearn-diffusionnet``: ``meshlearn.train.fit`` with the ``meshlearn train --task segmentation``
  defaults but for the width, depth and rate, written out as they were before the per-model
  defaults (DiffusionNet, width 64, 4 blocks, k = 128, dropout 0.1, Adam 1e-3 halved every 20
  epochs), its own operators (:func:`meshlearn.compute_operators` through the run's cache);
* ``meshlearn-gem``: the same with ``--model gem --width 16 --blocks 4 --lr 1e-3`` (GemCNN, the
  width of the reference's FAUST model);
* ``ref-diffusionnet``: ``diffusion_net.layers.DiffusionNet`` from the peers folder as its
  ``experiments/human_segmentation_original`` script builds and trains it: xyz input centred and
  scaled by its ``normalize_positions``, its ``get_operators`` (k = 128), width 128, 4 blocks,
  dropout, log-softmax and NLL loss, Adam 1e-3 halved every 50 epochs; per-vertex outputs (the
  labels here are per vertex);
* ``ref-gem``: the model of the reference GEM-CNN's ``experiments/faust_direct.py`` (built by
  ``benchmarks/bench_gem.py``: three residual blocks of width 16, max order 2, 2 rings, 7 samples,
  checkpointed, head 16 -> 256 -> the part classes, dropout 0.5, log-softmax), its transforms
  (trimesh normals and edges, ``SimpleGeometry``, ``GemPrecomp``), Adam 1e-2 as there
  (``--ref-gem-lr``; the script steps on batches of 4 meshes, here every pipeline steps on one).
  Its script normalises nothing; the bodies' files are not centred (the origin lies outside
  the body), so by default it reads the shapes as meshlearn's loader gives them to meshlearn's nets
  (centred, unit radius: :func:`meshlearn.datasets.load_sample`); ``--ref-gem-input file`` gives
  it the file's coordinates. ``GemPrecomp`` runs once per shape before training instead of in
  every forward pass (it is deterministic, so the network sees the same).

Same budget: every pipeline trains ``--epochs`` epochs, one shape per optimiser step, over the same
training shapes in the same order (epoch e shuffled by ``torch.randperm`` seeded with
``seed + e``, as meshlearn's sampler does), its network initialised after ``torch.manual_seed(seed)``.
The same validation shapes (``--val-fraction`` of the training split, drawn by
:func:`meshlearn.datasets.validation_split` with ``--seed``, as ``meshlearn train`` draws them) are
held out by all, and each keeps the epoch with the best validation vertex accuracy (without
validation shapes: the lowest training loss), as meshlearn keeps ``best.pt``. ``--augment so3``
rotates every training shape by a random rotation for every pipeline (meshlearn's ``so3``, which
also scales by a random factor in [0.9, 1.1]; the reference DiffusionNet's ``random_rotate_points``,
its script's augmentation for xyz; the same kind of rotation of the reference GEM-CNN's xyz
input); ``none`` (default) rotates none, as the README's 40-body rows. meshlearn's training scales
each shape by a random factor in [0.9, 1.1] whatever the augmentation (its ``input_features``); the
references' scripts do not.

Each pipeline runs in its own process with ``--threads`` threads (torch and BLAS) and writes its
predicted label per vertex of every test shape; this process scores them all with meshlearn's
:class:`meshlearn.train.metrics.SegmentationScores` (vertex accuracy, mean IoU over the classes
present) against the labels read by :func:`meshlearn.datasets.load_sample`. "prep s" is each
pipeline's own preprocessing of all shapes (operators, transforms), "train s" the wall time of its
epochs (training steps and validation). A reference that cannot be imported gets a "not run" row.

The dataset folder (``--data``) has train/ and test/ in the labelled layout, as written by
``meshlearn data synthetic --out D --n 40 --vertices 2000 --seed 0``; ``--synthetic N`` writes N
bodies of ``--vertices`` vertices there first when the folder does not exist.

Run::

    python benchmarks/bench_seg_accuracy.py --data D --epochs 10 --threads 1
    python benchmarks/bench_seg_accuracy.py --data D12 --synthetic 12 --vertices 1000 --quick
    python benchmarks/bench_seg_accuracy.py --data D --pipelines meshlearn-gem,ref-gem

``--quick`` trains 2 epochs (minutes on 2 cores at 12 bodies of 1000 vertices); at that budget the
accuracies say only that every pipeline runs, not how they compare.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import command_line, import_peer, load_average, print_table, run_side  # noqa: E402

#: pipeline -> (network, the peer it imports or None)
PIPELINES: dict[str, tuple[str, str | None]] = {
    "meshlearn-diffusionnet": ("meshlearn DiffusionNet, width 64, k 128", None),
    "meshlearn-gem": ("meshlearn GemCNN, width 16", None),
    "ref-diffusionnet": ("diffusion_net.layers.DiffusionNet, width 128, k 128", "diffusion_net"),
    "ref-gem": ("gem_cnn FAUST model (faust_direct.py), width 16", "gem_cnn"),
}
#: meshlearn pipeline -> TrainConfig options beside the defaults (the width, depth and rate written out:
#: the settings this comparison was made with, Adam 1e-3 as the reference DiffusionNet's script)
MESHLEARN_OPTIONS = {"meshlearn-diffusionnet": {"model": "diffusionnet", "width": 64, "n_blocks": 4, "lr": 1e-3},
                     "meshlearn-gem": {"model": "gem", "width": 16, "n_blocks": 4, "lr": 1e-3}}
#: the reference scripts' settings
REF_DIFFUSION = {"k_eig": 128, "width": 128, "blocks": 4, "lr": 1e-3, "decay_every": 50, "decay_rate": 0.5}
REF_GEM_LR = 1e-2  # experiments/faust_direct.py


# ------------------------------------------------------------------------------------ shared by all
def splits(data: str, val_fraction: float, seed: int):
    """(training records, validation records, test records, number of classes) of ``data``."""
    from meshlearn.datasets import read_dataset, validation_split
    from meshlearn.errors import DatasetError
    from meshlearn.train.classes import segmentation_class_count

    parts = read_dataset(data)
    if "train" not in parts or "test" not in parts:
        raise DatasetError(f"{data}: needs train/ and test/ (have {', '.join(parts)}); "
                           "write one with `meshlearn data synthetic --out D`")
    train_idx, val_idx = validation_split(parts["train"], val_fraction, seed)
    recs = parts["train"].records
    for split in ("train", "test"):
        missing = [r.mesh for r in parts[split].records if r.labels is None]
        if missing:
            raise DatasetError(f"{missing[0]}: no label file; every shape of a segmentation benchmark needs one")
    return ([recs[i] for i in train_idx], [recs[i] for i in val_idx], list(parts["test"].records),
            segmentation_class_count(parts))


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The training shapes' order in ``epoch``: meshlearn's sampler (``DistributedSampler``, one process)."""
    import torch

    g = torch.Generator()
    g.manual_seed(seed + epoch)
    return torch.randperm(n, generator=g).tolist()


# ------------------------------------------------------------------------------------ meshlearn
def run_meshlearn(name: str, data: str, args, scratch: Path) -> dict:
    from threadpoolctl import threadpool_limits

    from meshlearn.train.checkpoint import load_checkpoint
    from meshlearn.train.config import TrainConfig
    from meshlearn.train.evaluate import evaluate
    from meshlearn.train.loop import fit, load_datasets

    out = scratch / name
    config = TrainConfig(task="segmentation", data=data, out=str(out), epochs=args.epochs, seed=args.seed,
                         threads=args.threads, val_fraction=args.val_fraction, augment=args.augment, log="none",
                         **MESHLEARN_OPTIONS[name])
    t0 = time.perf_counter()
    with threadpool_limits(args.threads):
        load_datasets(config, splits=("train", "test"))  # fills the run's operator cache
    prep_s = time.perf_counter() - t0
    result = fit(config, progress=False)
    train_s = sum(float(h["time_s"]) for h in result.history)
    ev = evaluate(out, progress=False)
    preds = {}
    for f in (out / "predictions").glob("*.npz"):
        with np.load(f) as z:
            preds[f.stem] = np.asarray(z["pred"], dtype=np.int64)
    kept = f"epoch {load_checkpoint(out / ev['checkpoint'])['epoch']}"
    return {"prep_s": prep_s, "train_s": train_s, "params": sum(p.numel() for p in result.model.parameters()),
            "kept": kept, "preds": preds}


# ------------------------------------------------------------------------------------ the peers
def _train_peer(net, opt, train, val, args, loss_of, predict, on_epoch=None) -> tuple[float, str]:
    """Train ``net`` the shared way; returns (seconds, which epoch was kept) and leaves the best state in ``net``."""
    import torch

    best, best_state, kept = float("-inf"), None, ""
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        if on_epoch is not None:
            on_epoch(epoch)
        net.train()
        total = 0.0
        for i in epoch_order(len(train), args.seed, epoch):
            rng = np.random.default_rng([args.seed, epoch, i])
            torch.manual_seed(int(rng.integers(2**62)))
            opt.zero_grad()
            loss = loss_of(train[i], rng)
            loss.backward()
            opt.step()
            total += float(loss.detach())
        if val:  # vertex accuracy over the validation vertices with a known label
            right = sum(int(((predict(p) == p["labels"]) & (p["labels"] >= 0)).sum()) for p in val)
            score = right / max(sum(int((p["labels"] >= 0).sum()) for p in val), 1)
        else:
            score = -total / max(len(train), 1)
        if score > best:
            best, best_state, kept = score, copy.deepcopy(net.state_dict()), f"epoch {epoch + 1}"
    seconds = time.perf_counter() - t0
    if best_state is not None:
        net.load_state_dict(best_state)
    return seconds, kept


def _raw(rec, normalize: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The vertices, faces and per-vertex labels of a record: the file's coordinates (``normalize``
    None: the peer applies its own normalisation), or as meshlearn's loader normalises them."""
    from meshlearn.datasets import DEFAULT_NORMALIZE, load_sample

    s = load_sample(rec, normalize=DEFAULT_NORMALIZE if normalize == "normalized" else None)
    return np.asarray(s.shape.verts, dtype=np.float32), np.asarray(s.shape.faces, dtype=np.int64), s.labels


def run_ref_diffusion(data: str, args, n_classes: int, train_recs, val_recs, test_recs) -> dict:
    import torch

    dn, why = import_peer("diffusion_net")
    if dn is None:
        raise ImportError(why)

    def prepare(rec) -> dict:
        v, f, labels = _raw(rec)
        verts = dn.geometry.normalize_positions(torch.from_numpy(v))
        faces = torch.from_numpy(f)
        _, mass, L, evals, evecs, gradX, gradY = dn.geometry.get_operators(verts, faces, k_eig=REF_DIFFUSION["k_eig"])
        return dict(verts=verts, faces=faces, mass=mass, L=L, evals=evals, evecs=evecs, gradX=gradX, gradY=gradY,
                    labels=torch.from_numpy(labels), name=rec.name)

    t0 = time.perf_counter()
    train, val, test = [[prepare(r) for r in recs] for recs in (train_recs, val_recs, test_recs)]
    prep_s = time.perf_counter() - t0
    torch.manual_seed(args.seed)
    net = dn.layers.DiffusionNet(C_in=3, C_out=n_classes, C_width=REF_DIFFUSION["width"], N_block=REF_DIFFUSION["blocks"],
                                 last_activation=lambda x: torch.nn.functional.log_softmax(x, dim=-1),
                                 outputs_at="vertices", dropout=True)
    opt = torch.optim.Adam(net.parameters(), lr=REF_DIFFUSION["lr"])

    def forward(p, x):
        return net(x, p["mass"], L=p["L"], evals=p["evals"], evecs=p["evecs"], gradX=p["gradX"], gradY=p["gradY"],
                   faces=p["faces"])

    def loss_of(p, rng):
        x = p["verts"]
        if args.augment == "so3":  # its own rotation, drawn from the step's seeded generator
            x = dn.utils.random_rotate_points(x, np.random.RandomState(int(rng.integers(2**31))))
        return torch.nn.functional.nll_loss(forward(p, x), p["labels"], ignore_index=-1)

    def predict(p):
        net.eval()
        with torch.no_grad():
            return forward(p, p["verts"]).argmax(1)

    def on_epoch(epoch):  # the script's decay: lr halved every 50 epochs
        if epoch > 0 and epoch % REF_DIFFUSION["decay_every"] == 0:
            for g in opt.param_groups:
                g["lr"] *= REF_DIFFUSION["decay_rate"]

    train_s, kept = _train_peer(net, opt, train, val, args, loss_of, predict, on_epoch)
    preds = {p["name"]: predict(p).numpy() for p in test}
    return {"prep_s": prep_s, "train_s": train_s, "params": sum(q.numel() for q in net.parameters()), "kept": kept,
            "preds": preds}


def run_ref_gem(data: str, args, n_classes: int, train_recs, val_recs, test_recs) -> dict:
    import torch

    from bench_gem import reference_inputs, reference_model

    torch.manual_seed(args.seed)
    net, transform = reference_model(n_classes, checkpoint=True)  # raises ImportError with the reason

    def prepare(rec) -> dict:
        v, f, labels = _raw(rec, args.ref_gem_input)
        pos, edge_index, precomp, connection = reference_inputs(v, f, transform)
        return dict(pos=pos, edge_index=edge_index, precomp=precomp, connection=connection,
                    labels=torch.from_numpy(labels), name=rec.name)

    t0 = time.perf_counter()
    train, val, test = [[prepare(r) for r in recs] for recs in (train_recs, val_recs, test_recs)]
    prep_s = time.perf_counter() - t0
    opt = torch.optim.Adam(net.parameters(), lr=args.ref_gem_lr)

    def forward(p, pos):
        return net(pos, p["edge_index"], p["precomp"], p["connection"])

    def loss_of(p, rng):
        pos = p["pos"]
        if args.augment == "so3":
            from meshlearn.geometry.rotations import random_rotation

            pos = pos @ torch.as_tensor(random_rotation(rng), dtype=pos.dtype).T
        return torch.nn.functional.nll_loss(forward(p, pos), p["labels"], ignore_index=-1)

    def predict(p):
        net.eval()
        with torch.no_grad():
            return forward(p, p["pos"]).argmax(1)

    train_s, kept = _train_peer(net, opt, train, val, args, loss_of, predict)
    preds = {p["name"]: predict(p).numpy() for p in test}
    return {"prep_s": prep_s, "train_s": train_s, "params": sum(q.numel() for q in net.parameters()), "kept": kept,
            "preds": preds}


def worker(name: str, data: str, args, out: str) -> dict:
    """Train and predict one pipeline in this process; predictions go to ``out`` (npz, one array per test shape)."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    train_recs, val_recs, test_recs, n_classes = splits(data, args.val_fraction, args.seed)
    if name in MESHLEARN_OPTIONS:
        with tempfile.TemporaryDirectory(prefix=f"bench-seg-{name}-") as scratch:
            r = run_meshlearn(name, data, args, Path(scratch))
        # predictions are named by file stem; map them to the records' names
        r["preds"] = {rec.name: r["preds"][Path(rec.mesh).stem] for rec in test_recs}
    else:
        with threadpool_limits(args.threads):
            run = run_ref_diffusion if name == "ref-diffusionnet" else run_ref_gem
            r = run(data, args, n_classes, train_recs, val_recs, test_recs)
    np.savez(out, **{f"pred_{i}": r["preds"][rec.name] for i, rec in enumerate(test_recs)})
    del r["preds"]
    return r


# ------------------------------------------------------------------------------------ the table
def peer_problem(name: str) -> str:
    """Why pipeline ``name`` cannot run here ("" when it can)."""
    peer = PIPELINES[name][1]
    if peer is None:
        return ""
    module, why = import_peer(peer)
    if module is None:
        return why
    if peer == "gem_cnn":
        try:
            import gem_cnn.nn  # noqa: F401
            import torch_geometric  # noqa: F401
        except ImportError as e:
            return f"cannot import gem_cnn.nn: {e} (pip install -e '.[bench]')"
    return ""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="dataset folder with train/ and test/ (labelled layout)")
    p.add_argument("--epochs", type=int, default=10, help="training epochs per pipeline (the README table's)")
    p.add_argument("--quick", action="store_true", help="2 epochs")
    p.add_argument("--pipelines", default=",".join(PIPELINES), help=f"comma-separated, from: {', '.join(PIPELINES)}")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="share of the training shapes held out to keep the best epoch (meshlearn train's default)")
    p.add_argument("--augment", default="none", choices=("none", "so3"), help="random rotations of the training shapes")
    p.add_argument("--ref-gem-lr", type=float, default=REF_GEM_LR, help="Adam rate of ref-gem (its script's: 1e-2)")
    p.add_argument("--ref-gem-input", default="normalized", choices=("normalized", "file"),
                   help="ref-gem's xyz: as meshlearn's loader normalises the shapes, or the file's coordinates")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch and BLAS threads per pipeline")
    p.add_argument("--synthetic", type=int, default=0,
                   help="write this many synthetic bodies to --data first when it does not exist")
    p.add_argument("--vertices", type=int, default=2000, help="vertices per synthetic body (with --synthetic)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per pipeline before it counts as failed")
    return p


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        name, out = sys.argv[2], sys.argv[3]
        args = parser().parse_args(sys.argv[4:])
        if args.quick:
            args.epochs = 2
        print(json.dumps(worker(name, args.data, args, out)))
        return
    p = parser()
    args = p.parse_args()
    if args.quick:
        args.epochs = 2
    names = [n.strip() for n in args.pipelines.split(",") if n.strip()]
    unknown = [n for n in names if n not in PIPELINES]
    if unknown or not names:
        p.error(f"unknown pipeline {', '.join(unknown) or '(none given)'}: expected some of {', '.join(PIPELINES)}")

    from meshlearn.datasets import load_sample
    from meshlearn.train.metrics import SegmentationScores

    print(command_line())
    print(f"before: {load_average()}; {args.threads} thread(s) per pipeline")
    if args.synthetic and not Path(args.data).exists():
        from meshlearn.datasets.synthetic import write_dataset

        write_dataset(args.data, n=args.synthetic, n_vertices=args.vertices, seed=args.seed, progress=False)
        print(f"wrote {args.synthetic} synthetic bodies of about {args.vertices} vertices to {args.data}")
    train_recs, val_recs, test_recs, n_classes = splits(args.data, args.val_fraction, args.seed)
    truth = [load_sample(r).labels for r in test_recs]
    sizes = [t.size for t in truth]
    print(f"{args.data}: {len(train_recs)} training, {len(val_recs)} validation, {len(test_recs)} test shapes "
          f"({min(sizes)}-{max(sizes)} vertices each), {n_classes} classes")

    forwarded = ["--data", args.data, "--epochs", str(args.epochs), "--val-fraction", str(args.val_fraction),
                 "--ref-gem-lr", str(args.ref_gem_lr), "--ref-gem-input", args.ref_gem_input,
                 "--augment", args.augment, "--seed", str(args.seed), "--threads", str(args.threads)]
    t = str(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=t, OPENBLAS_NUM_THREADS=t, MKL_NUM_THREADS=t)
    rows = []
    with tempfile.TemporaryDirectory(prefix="meshlearn-bench-seg-") as scratch:
        for name in names:
            label = PIPELINES[name][0] + (f", Adam {args.ref_gem_lr:g}, {args.ref_gem_input} xyz"
                                          if name == "ref-gem" else "")
            why = peer_problem(name)
            if why:
                rows.append([name, label, "", "", "", "", "", "", f"not run: {why}"])
                continue
            out = str(Path(scratch) / f"{name}.npz")
            t0 = time.perf_counter()
            r = run_side([sys.executable, __file__, "--worker", name, out, *forwarded], env=env, timeout=args.timeout)
            print(f"  {name}: {time.perf_counter() - t0:.0f} s in all; {load_average()}", flush=True)
            if "train_s" not in r:
                rows.append([name, label, "", "", "", "", "", "", f"failed: {r.get('failed')}"])
                continue
            scores = SegmentationScores(n_classes)
            with np.load(out) as z:
                for i, rec in enumerate(test_recs):
                    scores.add(z[f"pred_{i}"], truth[i], source=str(rec.mesh))
            s = scores.summary()
            rows.append([name, label, r["params"], f"{r['prep_s']:.1f}", f"{r['train_s']:.0f}", r["kept"],
                         f"{100 * s['accuracy']:.2f}", f"{100 * s['mean_iou']:.2f}", ""])
    print(f"\n### segmentation, {args.epochs} epochs each, seed {args.seed}, augment {args.augment}, "
          f"{len(test_recs)} test shapes, cpu, {args.threads} thread(s)\n")
    print_table(["pipeline", "network", "params", "prep s", "train s", "kept", "vertex acc. %", "mean IoU %", "note"], rows)
    print("\nvertex acc. and mean IoU: meshlearn.train.metrics.SegmentationScores over all test vertices; "
          "'kept': the epoch with the best validation vertex accuracy (meshlearn: best.pt).")
    print(f"after: {load_average()}")


if __name__ == "__main__":
    main()
