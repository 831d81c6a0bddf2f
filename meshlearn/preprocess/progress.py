"""Progress of a preprocessing run: a tqdm bar with ETA on a terminal, log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

from .manifest import STATUS_FAILED

__all__ = ["Progress"]

log = logging.getLogger("meshlearn.preprocess")


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _reason(record: dict[str, Any]) -> str:
    """``source: error``, without repeating the source when the message starts with it."""
    src, why = str(record.get("source")), str(record.get("error"))
    return why if why.startswith(f"{src}:") else f"{src}: {why}"


class Progress:
    """Reports each finished shape.

    Parameters
    ----------
    total : int
        Number of shapes.
    quiet : bool
        Report nothing.
    stream : text stream, optional
        Where the bar goes. default: ``sys.stderr``. When it is not a terminal, each shape is
        logged as one INFO line on the ``meshlearn.preprocess`` logger instead (with the rate and
        ETA), and failures as WARNING lines.
    """

    def __init__(self, total: int, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.total = total
        self.quiet = quiet
        self.done = 0
        self._t0 = time.perf_counter()
        stream = stream or sys.stderr
        self._stream = stream
        self._bar = None
        if not quiet and stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="shape", file=stream, dynamic_ncols=True, desc="preprocess")

    def update(self, record: dict[str, Any]) -> None:
        self.done += 1
        if self.quiet:
            return
        failed = record.get("status") == STATUS_FAILED
        if self._bar is not None:
            if failed:
                self._bar.write(f"failed: {_reason(record)}", file=self._stream)
            self._bar.update(1)
            return
        elapsed = time.perf_counter() - self._t0
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        line = "[%d/%d] %s: %s in %.2f s (%.2f shapes/s, ETA %s)"
        args = (self.done, self.total, record.get("source"), record.get("status"), record.get("seconds") or 0.0, rate, _clock(eta))
        if failed:
            log.warning(line + " - %s", *args, record.get("error"))
        else:
            log.info(line, *args)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
