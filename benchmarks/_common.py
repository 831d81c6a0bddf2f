"""Small helpers shared by the benchmarks: timing, peak memory in a fresh process, a table printer.

Each measurement that reports memory runs in its own Python process (``run_worker``), so the peak
resident set size belongs to that measurement alone and imports are not counted twice.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Sequence

__all__ = ["timed", "peak_rss_mb", "run_worker", "print_table"]


def timed(fn: Callable[[], Any], repeats: int = 3) -> tuple[Any, float, float]:
    """Run ``fn`` ``repeats`` times. Returns (last result, median wall seconds, median CPU seconds
    of this process and its finished children)."""
    walls, cpus, out = [], [], None
    for _ in range(max(1, repeats)):
        c0 = _cpu()
        t0 = time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu() - c0)
    return out, statistics.median(walls), statistics.median(cpus)


def _cpu() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def peak_rss_mb() -> dict[str, float]:
    """Peak resident memory so far, MB: this process, and the largest of its waited-for children."""
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"self": self_kb / 1024.0, "children": child_kb / 1024.0}


def run_worker(script: str, args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 3600) -> dict:
    """Run ``python script --worker args...`` in a fresh process; it must print one JSON line last."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, script, "--worker", *args], capture_output=True, text=True, env=full_env, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a Markdown table."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v == 0 or 1e-2 <= abs(v) < 1e5:
            return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
        return f"{v:.1e}"
    return str(v)
