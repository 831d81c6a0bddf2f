"""The worker process that solves a spectrum slice beside this one, and how many cores to use.

The sliced ARPACK fallback (:mod:`.slicing`) solves its interior slice in one persistent worker
process, forked so that it starts in milliseconds. It uses a second core only where there is one
and this process may use it: a daemonic process (a ``multiprocessing.Pool`` worker, as batch preprocessing
starts one per core) keeps to its own core and may not start children.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor

__all__ = ["default_workers", "reset_worker_pool", "worker_pool"]

log = logging.getLogger(__name__)

_POOL: ProcessPoolExecutor | None = None


def worker_pool() -> ProcessPoolExecutor | None:
    """One persistent worker process (forked, so it starts in milliseconds); None where fork is unsafe."""
    global _POOL
    if _POOL is None:
        import multiprocessing as mp

        if "fork" not in mp.get_all_start_methods() or mp.current_process().daemon:
            return None  # daemonic processes (multiprocessing.Pool workers) may not have children
        try:
            _POOL = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("fork"))
        except (OSError, ValueError, AssertionError) as e:  # daemonic parent, no /dev/shm, ...
            log.debug("no worker process for sliced eigensolves (%s)", e)
            return None
    return _POOL


def reset_worker_pool(*, wait: bool = False) -> None:
    """Shut the worker process down (pending slices cancelled); the next :func:`worker_pool` starts
    a new one. ``wait``: return only once the process has exited. default: False"""
    global _POOL
    if _POOL is not None:
        _POOL.shutdown(wait=wait, cancel_futures=True)
    _POOL = None


def default_workers() -> int:
    """2 on a machine with two or more cores; 1 inside a pool worker process (a daemonic process,
    as the batch preprocessing starts one per core), which is to stay on its own core."""
    import multiprocessing as mp

    if mp.current_process().daemon:
        return 1
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    return 2 if n >= 2 else 1
