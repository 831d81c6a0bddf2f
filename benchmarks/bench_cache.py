"""Benchmark: the cost of a cache lookup that needs only part of a stored entry.

An entry holding ``spectral,gradients,gauge`` (k=128) is written for a real mesh in the
one-file-per-shape layout (``<hash>.npz``, which every version of the cache reads), then
``OperatorCache.lookup`` is asked for ``spectral`` only. Reported: the median wall time of the
lookup and the bytes it read (``rchar`` of ``/proc/self/io``: every byte returned by read calls,
so Linux only), against the file's size.

Usage::

    python benchmarks/bench_cache.py --work /tmp/bench_cache            # computes the entry once
    python benchmarks/bench_cache.py --work /tmp/bench_cache --repeats 20

Run it with ``PYTHONPATH`` pointing at another checkout to measure that version's cache on the
same file.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import meshlearn
from meshlearn import OperatorSpec
from meshlearn.cache import OperatorCache, save_operators

MESH = Path(__file__).resolve().parents[1] / ".." / "shared" / "meshes" / "clean" / "brain_fsaverage5_pial_left.ply"
FULL = OperatorSpec(operators="spectral,gradients,gauge", k=128)
ASKED = OperatorSpec(operators="spectral", k=128)


def _rchar() -> int:
    with open("/proc/self/io") as fh:
        for line in fh:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise RuntimeError("no rchar in /proc/self/io")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="folder for the cache entry (reused between runs)")
    ap.add_argument("--mesh", type=Path, default=MESH)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()

    shape = meshlearn.load(args.mesh)
    args.work.mkdir(parents=True, exist_ok=True)
    path = args.work / f"{shape.content_hash()[:32]}.npz"
    if not path.exists():
        save_operators(path, meshlearn.compute_operators(shape, FULL))
    cache = OperatorCache(args.work)
    times, reads = [], []
    for _ in range(max(1, args.repeats)):
        r0, t0 = _rchar(), time.perf_counter()
        ops = cache.lookup(shape, ASKED)
        times.append(time.perf_counter() - t0)
        reads.append(_rchar() - r0)
        if ops is None or ops.evecs.shape != (shape.n_verts, ASKED.k):
            raise RuntimeError(f"{path}: the lookup did not answer {ASKED}")
    print(f"meshlearn: {meshlearn.__file__}")
    size = path.stat().st_size / 2**20
    print(f"mesh: {args.mesh.name}, V={shape.n_verts}; entry {size:.2f} MiB holding {sorted(FULL.operators)}")
    print(f"lookup {sorted(ASKED.operators)} k={ASKED.k}: median {statistics.median(times) * 1e3:.1f} ms "
          f"(min {min(times) * 1e3:.1f}), read {statistics.median(reads) / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
