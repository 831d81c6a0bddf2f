"""One preprocessing run per cache folder, and the clean-up of temporaries left by killed runs.

A run holds an exclusive POSIX record lock (``lockf``) on ``CACHE_DIR/.preprocess.lock`` while it
works. The operating system drops the lock when the process ends in any way (SIGKILL included), so
a stale lock file never blocks a rerun; and unlike ``flock``, the lock is not shared with processes
forked meanwhile (e.g. the eigensolver's helper), so none of them can keep it alive. Holding the lock, a run may delete the temporary files a killed run left
behind (cache writes go to ``.<name>.npz.<random>.tmp`` and are renamed into place).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from ..errors import CacheError

__all__ = ["CacheLock", "remove_temporaries", "TEMPORARY_GLOB"]

log = logging.getLogger(__name__)

#: Names of the cache's temporary files (see ``meshlearn.cache.atomic_write_bytes``).
TEMPORARY_GLOB = ".*.npz.*.tmp"
LOCK_NAME = ".preprocess.lock"


class CacheLock:
    """Context manager: the exclusive right to run ``preprocess`` into ``root``.

    Raises
    ------
    CacheError
        When another process holds the lock.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.path = Path(root) / LOCK_NAME
        self._fh: Any = None
        self.exclusive = False

    def __enter__(self) -> "CacheLock":
        self._fh = open(self.path, "a+")
        try:
            import fcntl
        except ImportError:  # not POSIX: run without the lock
            log.debug("no fcntl on this platform; %s is not locked", self.path.parent)
            return self
        try:
            fcntl.lockf(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            self._fh.seek(0)
            owner = self._fh.read().strip() or "unknown"
            self._fh.close()
            raise CacheError(
                f"{self.path.parent}: another `meshlearn preprocess` (process {owner}) is writing to this cache; "
                "wait for it to finish or choose another --out"
            ) from e
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(str(os.getpid()))
        self._fh.flush()
        self.exclusive = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._fh is not None and not self._fh.closed:
            self._fh.close()  # closing drops the lock


def remove_temporaries(root: str | os.PathLike, *, older_than: float = 0.0) -> int:
    """Delete the cache's temporary files in ``root`` older than ``older_than`` seconds; return how many.

    Call it only while holding :class:`CacheLock` (or with a generous ``older_than``): another
    process may be about to rename its temporary file into place.
    """
    now = time.time()
    removed = 0
    for p in Path(root).glob(TEMPORARY_GLOB):
        try:
            if now - p.stat().st_mtime >= older_than:
                p.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    if removed:
        log.info("%s: removed %d temporary file(s) left by an interrupted run", root, removed)
    return removed
