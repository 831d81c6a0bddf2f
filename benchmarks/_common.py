"""Small helpers shared by the benchmarks: timing, peak memory in a fresh process, a table printer,
and the reference implementations ("peers") the benchmarks run beside meshlearn.

Each measurement that reports memory runs in its own Python process (``run_worker``), so the peak
resident set size belongs to that measurement alone and imports are not counted twice.

The peers (DiffusionNet, GEM-CNN; see ``shared/peers/README.md``) are never part of meshlearn:
only the benchmarks import them, through :func:`import_peer`, from the folder :func:`peers_dir`
finds: ``$MESHLEARN_PEERS`` if set, else ``<repository>/../shared/peers``.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Sequence

__all__ = [
    "timed",
    "peak_rss_mb",
    "run_worker",
    "print_table",
    "peers_dir",
    "import_peer",
    "load_average",
    "command_line",
]

REPO = Path(__file__).resolve().parent.parent

#: module name -> folders (relative to the peers folder) it needs on sys.path
PEER_PATHS: dict[str, tuple[str, ...]] = {
    "diffusion_net": ("diffusion-net/src",),
    "gem_cnn": ("gem-cnn", "shims"),
}


def peers_dir() -> Path | None:
    """The folder holding the reference implementations, or None when there is none."""
    env = os.environ.get("MESHLEARN_PEERS")
    if env:
        return Path(env).expanduser().resolve()
    default = REPO.parent / "shared" / "peers"
    return default.resolve() if default.is_dir() else None


def import_peer(name: str) -> tuple[ModuleType | None, str]:
    """Import the reference package ``name`` ("diffusion_net", "gem_cnn") from :func:`peers_dir`.

    Returns (module, "") or (None, why it could not be imported)."""
    root = peers_dir()
    if root is None:
        return None, "no peers folder (set MESHLEARN_PEERS to the folder holding diffusion-net/ and gem-cnn/)"
    for rel in reversed(PEER_PATHS[name]):
        folder = str(root / rel)
        if not Path(folder).is_dir():
            return None, f"{folder} is missing"
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        return importlib.import_module(name), ""
    except ImportError as e:  # a missing dependency of the peer (torch_geometric, torch_scatter, ...)
        return None, f"cannot import {name} from {root}: {e} (pip install -e '.[bench]')"


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages and its core count, for the printed record."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min) on {os.cpu_count()} cores"


def command_line() -> str:
    """The command that is running, as one would type it from the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(REPO)
    except ValueError:
        pass
    return " ".join(["python", str(script), *sys.argv[1:]])


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


def run_side(
    cmd: Sequence[str], env: dict[str, str] | None = None, timeout: float | None = None, max_rss_mb: float | None = None
) -> dict:
    """Run one side of a comparison in a fresh process; it prints one JSON line last.

    A side that fails or runs past ``timeout`` gives ``{"failed": why}`` (its last stderr line),
    so the table shows the row as failed instead of the run stopping. With ``max_rss_mb`` the
    process is stopped (and reported failed) as soon as its resident set exceeds that many MB
    (checked every 0.1 s, Linux), so a side that would not fit cannot take the machine's memory.
    """
    if max_rss_mb is not None:
        return _run_watched(cmd, env, timeout, max_rss_mb)
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"failed": f"over {timeout:.0f} s"}
    if out.returncode:
        lines = out.stderr.strip().splitlines()
        return {"failed": lines[-1] if lines else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _run_watched(cmd: Sequence[str], env: dict[str, str] | None, timeout: float | None, max_rss_mb: float) -> dict:
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, text=True, env=env)
        t0, why = time.perf_counter(), ""
        while proc.poll() is None:
            rss = _rss_mb(proc.pid)
            if rss > max_rss_mb:
                why = f"stopped at {rss:.0f} MB resident (limit {max_rss_mb:.0f} MB)"
            elif timeout is not None and time.perf_counter() - t0 > timeout:
                why = f"over {timeout:.0f} s"
            if why:
                proc.kill()
                proc.wait()
                return {"failed": why}
            time.sleep(0.1)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            lines = err.read().strip().splitlines()
            return {"failed": lines[-1] if lines else f"exit {proc.returncode}"}
        return json.loads(out.read().strip().splitlines()[-1])


def median_runs(runs: Sequence[dict], keys: Sequence[str], marker: str | None = None) -> dict:
    """The first run that worked with ``keys`` replaced by their medians over the runs that
    worked (those holding ``marker``, default ``keys[0]``); a failed run when none did."""
    marker = marker or keys[0]
    ok = [r for r in runs if marker in r]
    if not ok:
        return dict(runs[0]) if runs else {"failed": "not run"}
    out = dict(ok[0])
    out.update({k: statistics.median(float(r[k]) for r in ok) for k in keys})
    out["runs"] = len(ok)
    return out
