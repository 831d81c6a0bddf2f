"""The preprocessing manifest: ``CACHE_DIR/manifest.jsonl``, one JSON record per shape and run.

The file is append-only. Each record is written as one line and flushed at once, so a process
killed at any moment loses at most the line it was writing. Reading tolerates such a torn last
line, and the next writer cuts it off before appending. A rerun appends new records; the latest record
of a source (:func:`latest_by_source`) is its current state.

Record fields
-------------
source : str
    The shape file, absolute path.
hash : str or None
    SHA-256 content hash of the shape as stored (after cleaning, normalisation, decimation);
    ``None`` when the file could not be loaded.
status : {"ok", "failed", "skipped-cached"}
    ``ok``: operators computed and stored; ``skipped-cached``: a valid cache entry already
    answered the request, nothing computed; ``failed``: see ``error``.
seconds : float
    Time spent on the shape, loading included.
V, F : int or None
    Vertex and face counts of the stored shape (F is 0 for a point cloud).
error : str or None
    Why the shape failed.
error_type : str or None
    The exception's class name (a MeshlearnError subclass for every problem meshlearn recognises).
cache_file : str or None
    The name inside CACHE_DIR of the cache entry that answers the request (one file per shape and spec).
spec : str
    ``OperatorSpec.key()`` of the request.
clean, normalize : bool, str or None
    How the shape was loaded (:func:`meshlearn.load`'s arguments); training checks them against
    its own before reading the cache.
decimated_from : [int, int] or None
    Vertex and face counts before decimation, when the shape was decimated.
time : str
    UTC time the record was written, ISO 8601.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable

__all__ = [
    "MANIFEST_NAME",
    "STATUS_OK",
    "STATUS_FAILED",
    "STATUS_CACHED",
    "ManifestWriter",
    "read_manifest",
    "latest_by_source",
]

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.jsonl"
STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_CACHED = "skipped-cached"


class ManifestWriter:
    """Appends records to a manifest file, one flushed line each.

    Parameters
    ----------
    path : str or Path
        The ``.jsonl`` file; created if missing.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if self.path.exists():
            _drop_torn_tail(self.path)
        self._fh = open(self.path, "ab")

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` as one line and flush it to the operating system."""
        line = json.dumps(record, sort_keys=True, allow_nan=False) + "\n"
        self._fh.write(line.encode("utf-8"))
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            os.fsync(self._fh.fileno())
            self._fh.close()

    def __enter__(self) -> "ManifestWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _drop_torn_tail(path: Path, block: int = 1 << 16) -> None:
    """Cut an unfinished last line (a run killed while writing it) so that appends start whole."""
    with open(path, "r+b") as fh:
        end = fh.seek(0, os.SEEK_END)
        pos = end
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                cut = start + nl + 1
                break
            pos = start
        else:
            cut = 0
        if cut < end:
            log.info("%s: dropping an unfinished last line left by an interrupted run", path)
            fh.truncate(cut)


def read_manifest(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of a manifest, in file order.

    A line that is not valid JSON is skipped: silently when it is the last line (a run killed
    while writing it), with a warning anywhere else. A missing file gives an empty list.
    """
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    records: list[dict[str, Any]] = []
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            if i == last:
                log.debug("%s: ignoring a torn last line", path)
            else:
                log.warning("%s, line %d: not a JSON record; skipped", path, i + 1)
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def latest_by_source(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record of each source, keyed by source path (in order of first appearance)."""
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        latest[record.get("source", "")] = record
    return latest
