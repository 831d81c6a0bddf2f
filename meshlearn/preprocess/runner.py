"""Where the shapes are processed: in this process, a local process pool, or a Dask cluster.

Each runner is a generator of manifest records in completion order. It keeps only a window of
tasks in flight (a few per worker), so memory does not grow with the number of files. Closing the
generator early (``--fail-fast``) or a ``KeyboardInterrupt`` while it waits cancels the tasks not
started; the pool runner also interrupts the shapes in progress (their cache writes are atomic, so
nothing partial is left) and waits for its workers to exit.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import signal
import time
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Iterator, Sequence

from ..errors import ConfigError
from ..optional import require
from .worker import Task, describe_error, failed_record, init_worker, process_one

__all__ = ["run_inline", "run_pool", "run_dask"]

log = logging.getLogger(__name__)

#: Tasks queued per worker beyond the one it is running.
_WINDOW = 2

_DIED = (
    "a worker process died while this shape was in progress, twice (killed by the system, "
    "perhaps out of memory: lower --max-vertices with --decimate, or use fewer --workers)"
)


def _died(task: Task) -> dict[str, Any]:
    record = failed_record(task, _DIED)
    record["error_type"] = "BrokenProcessPool"
    return record


def run_inline(tasks: Sequence[Task]) -> Iterator[dict[str, Any]]:
    """Process the tasks one after another in this process (``--workers 1``)."""
    for task in tasks:
        yield process_one(task)


def run_pool(tasks: Sequence[Task], workers: int) -> Iterator[dict[str, Any]]:
    """Process the tasks on a local pool of ``workers`` processes ('spawn' start method).

    Each worker uses one compute thread (see :func:`~meshlearn.preprocess.worker.init_worker`).
    When a worker process dies (e.g. killed for memory), the pool is restarted and the shapes that
    were in flight are tried once more; a shape in flight at two deaths is recorded as failed.
    """
    ctx = multiprocessing.get_context("spawn")
    before = {p.pid for p in multiprocessing.active_children()}

    def new_pool() -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_worker, initargs=(1,))

    pool = new_pool()
    todo = iter(tasks)
    retry: deque[tuple[Task, int]] = deque()
    inflight: dict[cf.Future, tuple[Task, int]] = {}
    cap = workers * (1 + _WINDOW)

    def fill() -> None:
        while len(inflight) < cap:
            if retry:
                task, tries = retry.popleft()
            else:
                task = next(todo, None)
                if task is None:
                    return
                tries = 0
            inflight[pool.submit(process_one, task)] = (task, tries)

    finished = False
    try:
        fill()
        while inflight:
            done, _ = cf.wait(list(inflight), return_when=cf.FIRST_COMPLETED)
            broken = False
            for fut in done:
                task, tries = inflight.pop(fut)
                try:
                    record = fut.result()
                except BrokenProcessPool:
                    broken = True
                    if tries >= 1:
                        yield _died(task)
                    else:
                        retry.append((task, tries + 1))
                    continue
                yield record
            if broken:
                # Every other task of a broken pool fails at once with the same error: retry them too.
                rest, _ = cf.wait(list(inflight))
                for fut in rest:
                    task, tries = inflight.pop(fut)
                    try:
                        yield fut.result()
                    except BrokenProcessPool:
                        if tries >= 1:
                            yield _died(task)
                        else:
                            retry.append((task, tries + 1))
                log.warning("a worker process died; restarting the pool and retrying the shapes in flight")
                pool.shutdown(wait=True)
                pool = new_pool()
            fill()
        finished = True
    finally:
        if not finished:
            _stop(pool, before)
        pool.shutdown(wait=True, cancel_futures=True)


def _stop(pool: cf.ProcessPoolExecutor, before: set[int | None]) -> None:
    """Cancel what has not started and interrupt the shapes in progress until the workers exit."""
    pool.shutdown(wait=False, cancel_futures=True)
    procs = [p for p in multiprocessing.active_children() if p.pid not in before]
    t0, told = time.monotonic(), False
    while any(p.is_alive() for p in procs):
        if not told and time.monotonic() - t0 > 2.0:
            told = True
            log.warning("waiting for the shapes in progress to stop (a long solve finishes first; Ctrl-C again to leave them)")
        for p in procs:
            if p.is_alive() and p.pid is not None:
                try:
                    os.kill(p.pid, signal.SIGINT)  # idle workers ignore it; busy ones stop their shape
                except OSError:
                    pass
        for p in procs:
            p.join(0.1)


def run_dask(tasks: Sequence[Task], address: Any) -> Iterator[dict[str, Any]]:
    """Process the tasks on an existing Dask distributed cluster.

    Parameters
    ----------
    address : str or distributed.Client
        The scheduler, e.g. ``"tcp://10.0.0.5:8786"``, or a connected client. The workers must
        be able to import meshlearn and to read the input files and write the cache folder at
        the same paths as this machine (a shared file system).

    A task the cluster itself gives up on (e.g. its worker was killed repeatedly) is recorded as
    failed with Dask's reason.
    """
    distributed = require("distributed", "preprocessing on a Dask cluster (--scheduler)")
    Client, as_completed = distributed.Client, distributed.as_completed

    own = not isinstance(address, Client)
    if own:
        try:
            client = Client(address, timeout="20s")
        except (OSError, TimeoutError, ValueError) as e:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {address} ({e}); check the address (tcp://HOST:PORT) "
                "and that the scheduler is running"
            ) from e
    else:
        client = address
    info = client.scheduler_info()
    threads = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values())
    todo = iter(tasks)
    live: dict[Any, Task] = {}

    def submit(task: Task) -> Any:
        fut = client.submit(process_one, task, pure=False)
        live[fut] = task
        return fut

    first = []
    for task in todo:
        first.append(submit(task))
        if len(first) >= max(1, threads) * (1 + _WINDOW):
            break
    stream = as_completed(first)
    finished = False
    try:
        for fut in stream:
            task = live.pop(fut)
            for nxt in todo:
                stream.add(submit(nxt))
                break
            try:
                record = fut.result()
            except Exception as e:  # noqa: BLE001 - the cluster lost the task; record why
                record = failed_record(task, f"the Dask cluster could not run this shape: {describe_error(e)}")
                record["error_type"] = type(e).__name__
            yield record
        finished = True
    finally:
        if not finished:
            stream.clear()
            client.cancel(list(live))
        if own:
            client.close()
