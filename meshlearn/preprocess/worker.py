"""One shape's work: load, bring under the vertex budget, compute its operators through the cache.

:func:`process_one` never raises for a bad shape: whatever goes wrong becomes a ``failed``
manifest record with the reason, so one bad file never stops a batch. It returns only the small
record, never the operators, so the parent process holds no arrays.

Process-pool workers are started with :func:`init_worker`: one BLAS / OpenMP / torch thread each
(the pool supplies the parallelism), and a SIGINT handler that interrupts a shape in progress but
leaves an idle worker alone, so that Ctrl-C stops a run without tracebacks from idle processes; a
watch on the parent process, so that a worker whose parent was killed stops instead of lingering;
and, when the worker exits, the end of any helper process it started (the eigensolver keeps one).
"""

from __future__ import annotations

import datetime as _dt
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidMeshError, MeshlearnError
from ..geometry.operators import OperatorSpec, compute_operators
from ..shape import Shape
from .manifest import STATUS_CACHED, STATUS_FAILED, STATUS_OK

__all__ = ["Task", "process_one", "failed_record", "describe_error", "init_worker"]

_busy = False


@dataclass(frozen=True)
class Task:
    """Everything a worker needs for one shape (small and picklable).

    Parameters
    ----------
    path : str
        The shape file.
    cache_root : str
        The cache folder (must be reachable from the worker, e.g. a shared file system for Dask).
    spec : OperatorSpec
        What to compute.
    clean, normalize :
        Passed to :func:`meshlearn.load`.
    max_vertices : int
        Vertex budget; a larger shape is decimated (``decimate=True``) or fails.
    decimate : bool
        Decimate shapes over the budget instead of failing them.
    """

    path: str
    cache_root: str
    spec: OperatorSpec
    clean: bool = False
    normalize: str | None = None
    max_vertices: int = 200_000
    decimate: bool = False


def process_one(task: Task) -> dict[str, Any]:
    """Process one shape and return its manifest record (see :mod:`meshlearn.preprocess.manifest`).

    Raises only ``KeyboardInterrupt`` (Ctrl-C); every other error is recorded as ``failed``.
    """
    global _busy
    _busy = True
    try:
        return _process(task)
    finally:
        _busy = False


def _process(task: Task) -> dict[str, Any]:
    from ..cache import OperatorCache
    from ..io import load

    t0 = time.perf_counter()
    record = failed_record(task, None)
    try:
        shape = load(task.path, clean=task.clean, normalize=task.normalize)
        record["V"], record["F"] = shape.n_verts, shape.n_faces
        if shape.n_verts > task.max_vertices:
            shape = _shrink(shape, task)
            record["decimated_from"] = [record["V"], record["F"]]
            record["V"], record["F"] = shape.n_verts, shape.n_faces
        record["hash"] = shape.content_hash()
        cache = OperatorCache(task.cache_root)
        if cache.contains(shape, task.spec):
            record["status"] = STATUS_CACHED
        else:
            compute_operators(shape, task.spec, cache=cache)
            record["status"] = STATUS_OK
        record["cache_file"] = cache.path_for(shape, task.spec).name
    except Exception as e:  # noqa: BLE001 - one bad file must never stop the batch
        record["error"] = describe_error(e)
        record["error_type"] = type(e).__name__
    record["seconds"] = round(time.perf_counter() - t0, 6)
    record["time"] = _now()
    return record


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def failed_record(task: Task, error: str | None) -> dict[str, Any]:
    """A ``failed`` manifest record for ``task`` with the reason ``error`` and nothing measured."""
    return {
        "source": task.path,
        "hash": None,
        "status": STATUS_FAILED,
        "seconds": 0.0,
        "V": None,
        "F": None,
        "error": error,
        "error_type": None,
        "cache_file": None,
        "spec": task.spec.key(),
        "clean": task.clean,
        "normalize": task.normalize,
        "decimated_from": None,
        "time": _now(),
    }


def _shrink(shape: Shape, task: Task) -> Shape:
    from ..io import load

    if not task.decimate:
        raise InvalidMeshError(
            f"{task.path}: {shape.n_verts} vertices, over the budget of {task.max_vertices} (--max-vertices); "
            "pass --decimate to simplify it first, or raise --max-vertices if the machine has the memory"
        )
    from .decimate import decimate

    small = decimate(shape, task.max_vertices)
    # Clean and normalise again: decimation can create defects and changes the area a little.
    again = load((small.verts, small.faces), clean=task.clean, normalize=task.normalize)
    meta = {**shape.meta, **again.meta, "decimated_from": (shape.n_verts, shape.n_faces)}
    meta.pop("vertex_map", None)  # decimated vertices no longer correspond to the file's
    return again.with_(source=shape.source, name=shape.name, repairs=tuple(small.repairs) + tuple(again.repairs), meta=meta)


def describe_error(e: BaseException) -> str:
    """One line for the manifest: meshlearn's own message, or the exception type and text."""
    text = " ".join(str(e).split()) or "(no message)"
    if isinstance(e, MeshlearnError):
        return text
    if isinstance(e, MemoryError):
        return f"out of memory ({text}); lower --max-vertices and pass --decimate, or use fewer --workers"
    return f"{type(e).__name__}: {text}"


def _on_sigint(signum: int, frame: Any) -> None:
    global _busy
    if _busy:
        _busy = False  # a second signal must not interrupt the clean-up of the first
        raise KeyboardInterrupt


def _end_helpers(timeout: float = 5.0) -> None:
    """End the helper processes this worker started (e.g. the eigensolver's), which would otherwise
    keep the worker from exiting: multiprocessing joins a process's children when it exits."""
    import multiprocessing

    helpers = multiprocessing.active_children()
    for p in helpers:
        p.terminate()
    for p in helpers:
        p.join(timeout)


def _watch_parent(parent: int, every: float = 0.5) -> None:
    """Exit this worker once its parent is gone (e.g. SIGKILLed), after stopping the shape in progress."""
    while os.getppid() == parent:
        time.sleep(every)
    if _busy:
        os.kill(os.getpid(), signal.SIGINT)  # the handler stops the shape; its cache write cleans up
    while _busy:
        time.sleep(0.05)
    _end_helpers()
    os._exit(1)


def init_worker(threads: int = 1) -> None:
    """Initialiser for pool workers: ``threads`` compute threads, Ctrl-C only while busy, and an exit
    of the worker when the parent process dies (an orphaned worker would otherwise wait forever)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
        os.environ[var] = str(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    signal.signal(signal.SIGINT, _on_sigint)
    from multiprocessing.util import Finalize

    Finalize(None, _end_helpers, exitpriority=100)  # runs before the exit joins the children
    from .orphans import orphan_guard

    orphan_guard().__enter__()  # for the worker's lifetime: its helpers die with it
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True, name="watch-parent").start()
