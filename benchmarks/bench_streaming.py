"""Benchmark: peak memory of training as the dataset grows, with operators streamed from the cache.

Usage::

    python benchmarks/bench_streaming.py --root /tmp/bench_streaming          # 50, 200, 800 shapes
    python benchmarks/bench_streaming.py --root /tmp/bench_streaming --sizes 20 40 --vertices 2000

Steps (each reused when its output is already there, so a second run only measures):

1. ``meshlearn data synthetic --n N --vertices V`` writes the largest dataset once (ROOT/bodies);
2. ``meshlearn preprocess ROOT/bodies/train --out ROOT/cache --for diffusionnet --k K`` computes
   its operators once;
3. for each size, ROOT/subsets/nN is a dataset folder linking the first N training shapes (and
   the same test/ folder), and a fresh process trains on it from ROOT/cache: ``fit`` for one
   epoch of ``--steps`` steps (10 by default, fewer than the smallest set has batches, so every
   run stops with the same batches prefetched; 0: the whole split) with 2 DataLoader workers,
   batches of 4 shapes, a small DiffusionNet and no validation split. Making the dataset reads
   every cache entry of the N shapes once (the check that nothing is missing), so each run goes
   through all N shapes whatever the number of steps.

The training process samples the memory of itself and of its DataLoader workers every 0.1 s;
the table gives the peak resident set of the training process (VmHWM), that of the largest worker,
and the peak of their summed proportional set sizes (PSS: a page shared by k processes counts
1/k in each, so the libraries every worker maps are not counted once per worker). "cache" is the size of the operator files of the N shapes, what holding every shape in
memory would need at the least.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, run_worker  # noqa: E402

MESHLEARN = str(Path(sys.executable).parent / "meshlearn")


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class TreeSampler(threading.Thread):
    """Sampled peaks: the proportional set size (PSS) of this process plus its children, and the
    resident set of the largest child."""

    def __init__(self, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.every, self.stop, self.peak_total, self.peak_child = every, threading.Event(), 0, 0

    def run(self) -> None:
        me = os.getpid()
        while not self.stop.is_set():
            kids = _children(me)
            self.peak_total = max(self.peak_total, _pss_kb(me) + sum(_pss_kb(c) for c in kids))
            self.peak_child = max([self.peak_child, *(_rss_kb(c) for c in kids)])
            time.sleep(self.every)


def worker(data: str, cache: str, out: str, k: int, loader_workers: int, batch: int, steps: int) -> None:
    sampler = TreeSampler()
    sampler.start()
    from meshlearn.train import TrainConfig, fit

    config = TrainConfig(task="segmentation", data=data, out=out, cache=cache, epochs=1, k=k, width=32, n_blocks=2,
                         batch_size=batch, threads=1, loader_workers=loader_workers, val_fraction=0.0, augment="none",
                         steps_per_epoch=steps)
    t0 = time.perf_counter()
    res = fit(config, progress=False)
    seconds = time.perf_counter() - t0
    time.sleep(0.2)
    sampler.stop.set()
    sampler.join()
    print(json.dumps({
        "seconds": seconds,
        "main_mb": _rss_kb(os.getpid(), "VmHWM") / 1024,
        "worker_mb": sampler.peak_child / 1024,
        "total_mb": sampler.peak_total / 1024,
        "train_loss": res.history[-1]["train_loss"],
    }))


def _link_subset(bodies: Path, dest: Path, names: list[str]) -> None:
    if (dest / "template.ply").exists():
        return
    for sub in ("meshes", "labels", "corres"):
        (dest / "train" / sub).mkdir(parents=True, exist_ok=True)
    for name in names:
        for src in [*(bodies / "train").glob(f"*/{name}.*")]:
            link = dest / "train" / src.parent.name / src.name
            if not link.exists():
                link.symlink_to(src)
    (dest / "test").symlink_to(bodies / "test")
    for f in ("parts.txt", "template_labels.txt", "template.ply"):  # template.ply last: the "done" mark
        if (bodies / f).exists():
            (dest / f).symlink_to(bodies / f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, help="folder for the data, the cache and the runs (required)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 800], help="training shapes (default 50 200 800)")
    ap.add_argument("--vertices", type=int, default=10000, help="vertices per shape (default 10000)")
    ap.add_argument("--k", type=int, default=128, help="eigenpairs (default 128)")
    ap.add_argument("--loader-workers", type=int, default=2, help="DataLoader workers (default 2)")
    ap.add_argument("--batch-size", type=int, default=4, help="shapes per step (default 4)")
    ap.add_argument("--jobs", type=int, default=2, help="preprocessing processes (default 2)")
    ap.add_argument("--steps", type=int, default=10, help="training steps (0: one whole epoch; default 10)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        data, cache, out = args.rest
        worker(data, cache, out, args.k, args.loader_workers, args.batch_size, args.steps)
        return

    if args.root is None:
        ap.error("--root is required")
    root = args.root.resolve()
    bodies, cache = root / "bodies", root / "cache"
    n_max = max(args.sizes)
    if not (bodies / "template.ply").exists():
        n_test = 10
        subprocess.run([MESHLEARN, "data", "synthetic", "--out", str(bodies), "--n", str(n_max + n_test),
                        "--test-fraction", str(n_test / (n_max + n_test)), "--vertices", str(args.vertices), "-q"],
                       check=True)
    names = sorted(p.stem for p in (bodies / "train" / "meshes").iterdir())
    if len(names) < n_max:
        raise SystemExit(f"{bodies} holds {len(names)} training shapes; --sizes asks for {n_max}")
    from meshlearn.preprocess import latest_by_source, read_manifest

    manifest = cache / "manifest.jsonl"
    done = {Path(src).stem for src, rec in (latest_by_source(read_manifest(manifest)).items() if manifest.exists() else [])
            if rec["status"] in ("ok", "skipped-cached")}
    if not set(names[:n_max]) <= done:
        t0 = time.perf_counter()
        subprocess.run([MESHLEARN, "preprocess", str(bodies / "train"), "--out", str(cache), "--for", "diffusionnet",
                        "--k", str(args.k), "-j", str(args.jobs), "-q"], check=True)
        print(f"preprocessing {len(names)} shapes: {time.perf_counter() - t0:.0f} s", flush=True)
    names = names[:n_max]

    sizes_by_name = {}
    for src, rec in latest_by_source(read_manifest(cache / "manifest.jsonl")).items():
        if rec.get("cache_file") and (cache / rec["cache_file"]).exists():
            sizes_by_name[Path(src).stem] = (cache / rec["cache_file"]).stat().st_size
    rows = []
    for n in args.sizes:
        subset = root / "subsets" / f"n{n}"
        _link_subset(bodies, subset, names[:n])
        run = root / "runs" / f"n{n}"
        if run.exists():
            import shutil

            shutil.rmtree(run)
        r = run_worker(__file__, ["--k", str(args.k), "--loader-workers", str(args.loader_workers), "--batch-size",
                                  str(args.batch_size), "--steps", str(args.steps), str(subset), str(cache), str(run)])
        cache_mb = sum(sizes_by_name.get(nm, 0) for nm in names[:n]) / 2**20
        rows.append((n, round(cache_mb), round(r["main_mb"]), round(r["worker_mb"]), round(r["total_mb"]),
                     round(r["seconds"])))
        print(f"{n} shapes: {r}", flush=True)
    print()
    print_table(["shapes", "cache (MB)", "training process peak (MB)", "largest worker peak (MB)",
                 "process + workers peak PSS (MB)", "run (s)"], rows)


if __name__ == "__main__":
    main()
