"""Run every ``benchmarks/bench_*.py`` in turn (``make bench``).

By default each runs with small sizes (a few minutes in all on 2 cores); ``--full`` runs each with
its own defaults (the sizes the README's tables report). Each benchmark's output is printed as it
runs; a benchmark that fails or runs past ``--timeout`` is reported and the next one runs. The exit
status is 1 when any failed, else 0.

Run: ``python benchmarks/run_all.py``, ``--full``, ``--only nets,spectral``, ``--list``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: benchmark name (bench_NAME.py) -> its arguments for a quick run
QUICK = {
    "operators": ["--sizes", "4", "--bundles", "diffusionnet", "--k", "32", "--repeat", "1", "--threads", "1"],
    "spectral": ["--sizes", "4", "--shapes", "bumpy", "--k", "32", "--repeats", "1"],
    "nets": ["--sizes", "2k", "--steps", "2", "--repeat", "1", "--threads", "1"],
    "gem": ["--sizes", "2k", "--classes", "8", "--steps", "2", "--repeat", "1", "--threads", "1"],
    "preprocess": ["--quick"],
    "invariance": ["--trials", "3", "--k", "40"],
    "corr_train": ["--vertices", "2000", "--steps", "1", "--runs", "1", "--threads", "1"],
    "corr_memory": ["--sizes", "2000", "--threads", "1"],
    "corr_accuracy": ["--steps", "20", "--checks", "10", "--synthetic", "8", "--vertices", "1000", "--threads", "1"],
    "large_mesh": ["--vertices", "20000", "--k", "32", "--threads", "1"],
    "seg_accuracy": ["--quick", "--synthetic", "12", "--vertices", "1000", "--threads", "1"],
}


def benchmarks() -> list[str]:
    """Names of the benchmark scripts beside this file (``bench_NAME.py`` -> ``NAME``)."""
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def command(name: str, full: bool, scratch: Path) -> tuple[list[str], str]:
    """The command line of benchmark ``name`` and a note on what it leaves out ("" for none)."""
    args = [] if full else list(QUICK.get(name, []))
    note = ""  # a benchmark whose reference cannot be imported says so itself and skips that row
    if name == "invariance" and not full:  # keep the README's figure as it is
        args += ["--out", str(scratch)]
    if name == "corr_accuracy":  # a dataset folder it writes first (--synthetic) when none is given
        args += ["--data", str(scratch / "corr_synthetic")]
        if full:
            args += ["--synthetic", "12", "--vertices", "1500"]
    if name == "seg_accuracy":  # the same: a segmentation dataset written first (40 bodies for --full)
        args += ["--data", str(scratch / "seg_synthetic")]
        if full:
            args += ["--synthetic", "40", "--vertices", "2000"]
    return [sys.executable, str(HERE / f"bench_{name}.py"), *args], note


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="each benchmark's own default sizes (slow)")
    ap.add_argument("--only", default=None, help="comma-separated names, e.g. nets,spectral")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per benchmark before it counts as failed")
    ap.add_argument("--list", action="store_true", help="print the benchmarks and their quick arguments, run none")
    args = ap.parse_args(argv)

    names = benchmarks()
    if args.only:
        wanted = [n.strip().removeprefix("bench_").removesuffix(".py") for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            ap.error(f"no benchmark named {', '.join(unknown)}; there are: {', '.join(names)}")
        names = [n for n in names if n in wanted]
    if args.list:
        for n in names:
            print(f"{n:12s} {' '.join(QUICK.get(n, [])) or '(its defaults)'}")
        return 0

    results: list[tuple[str, str, float]] = []
    with tempfile.TemporaryDirectory(prefix="meshlearn-bench-") as scratch:
        for n in names:
            cmd, note = command(n, args.full, Path(scratch))
            print(f"\n=== bench_{n}.py {' '.join(cmd[2:])}" + (f"\n({note})" if note else ""), flush=True)
            t0 = time.perf_counter()
            try:
                rc = subprocess.run(cmd, cwd=HERE.parent, timeout=args.timeout).returncode
                status = "ok" if rc == 0 else f"failed (exit {rc})"
            except subprocess.TimeoutExpired:
                status = f"failed (over {args.timeout:.0f} s)"
            results.append((n, status, time.perf_counter() - t0))

    print("\n=== summary")
    for n, status, seconds in results:
        print(f"{n:12s} {status:24s} {seconds:8.1f} s")
    failed = [n for n, status, _ in results if status != "ok"]
    if failed:
        print(f"{len(failed)} of {len(results)} benchmarks failed: {', '.join(failed)}")
        return 1
    print(f"all {len(results)} benchmarks ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
