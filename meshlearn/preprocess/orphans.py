"""Processes forked during a run die with the process that forked them.

meshlearn's eigensolver keeps a forked helper process for sliced solves. When a preprocessing run
is killed (SIGKILL, the out-of-memory killer), such a helper would be left waiting for work that
never comes. Inside :func:`orphan_guard`, every process forked by this one starts a small thread
that ends it as soon as its parent is gone. Such helpers only compute and write no files, so
ending them at any moment loses nothing.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from typing import Iterator

__all__ = ["orphan_guard"]

_active = False
_registered = False
_forking_parent = 0


def _watch(parent: int, every: float) -> None:
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


def _before_fork() -> None:
    global _forking_parent
    _forking_parent = os.getpid()


def _after_fork_in_child() -> None:
    # The parent's pid as it was before the fork, not os.getppid() now: on a loaded machine the
    # parent may already have exited (and the child been reparented) when this runs.
    if _active:
        threading.Thread(target=_watch, args=(_forking_parent, 0.5), daemon=True, name="watch-parent").start()


@contextmanager
def orphan_guard() -> Iterator[None]:
    """Within this block, children forked by this process exit when this process dies."""
    global _active, _registered
    if not _registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
        _registered = True
    before, _active = _active, True
    try:
        yield
    finally:
        _active = before
