"""What a preprocessing run did: counts, rate, the slowest shapes and the failures with reasons."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .manifest import STATUS_CACHED, STATUS_FAILED, STATUS_OK

__all__ = ["Summary"]


@dataclass
class Summary:
    """The result of :func:`meshlearn.preprocess`.

    Parameters
    ----------
    records : list of dict
        The manifest records written by this run, in completion order.
    n_inputs : int
        Number of shape files the inputs expanded to.
    wall_seconds : float
        Elapsed time of the run.
    manifest : Path
        The manifest file the records were appended to.
    stopped_early : bool
        True when ``fail_fast`` stopped the run at its first failure.
    interrupted : bool
        True when Ctrl-C stopped the run.
    """

    records: list[dict[str, Any]]
    n_inputs: int
    wall_seconds: float
    manifest: Path
    stopped_early: bool = False
    interrupted: bool = False

    @property
    def counts(self) -> dict[str, int]:
        """Shapes per status (``ok``, ``skipped-cached``, ``failed``) and ``not run``."""
        c = Counter(r.get("status") for r in self.records)
        return {
            STATUS_OK: c[STATUS_OK],
            STATUS_CACHED: c[STATUS_CACHED],
            STATUS_FAILED: c[STATUS_FAILED],
            "not run": self.n_inputs - len(self.records),
        }

    @property
    def n_failed(self) -> int:
        return self.counts[STATUS_FAILED]

    @property
    def complete(self) -> bool:
        """True when every input was processed and none failed."""
        counts = self.counts
        return counts[STATUS_FAILED] == 0 and counts["not run"] == 0

    @property
    def shapes_per_second(self) -> float:
        """Shapes finished (any status) per second of wall time."""
        return len(self.records) / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def slowest(self, n: int = 5) -> list[dict[str, Any]]:
        """The ``n`` records that took longest, slowest first."""
        return sorted(self.records, key=lambda r: -float(r.get("seconds") or 0.0))[:n]

    @property
    def failures(self) -> list[tuple[str, str]]:
        """(source, reason) of every failed shape."""
        return [(r.get("source", "?"), r.get("error") or "unknown error") for r in self.records if r.get("status") == STATUS_FAILED]

    def format(self, *, n_slowest: int = 5, brief: bool = False) -> str:
        """The summary as text; ``brief`` keeps the counts line and the failures only."""
        counts = self.counts
        parts = [f"{counts[STATUS_OK]} ok", f"{counts[STATUS_CACHED]} skipped-cached", f"{counts[STATUS_FAILED]} failed"]
        if counts["not run"]:
            parts.append(f"{counts['not run']} not run")
        lines = [
            f"{len(self.records)} of {self.n_inputs} shapes in {self.wall_seconds:.1f} s "
            f"({self.shapes_per_second:.2f} shapes/s): " + ", ".join(parts)
        ]
        if self.stopped_early:
            lines.append("stopped at the first failure (--fail-fast)")
        if not brief and self.records:
            lines.append("slowest:")
            for r in self.slowest(n_slowest):
                size = f"V={r['V']}" if r.get("V") is not None else "not loaded"
                lines.append(f"  {float(r.get('seconds') or 0):8.2f} s  {r.get('source')} ({size}, {r.get('status')})")
        if self.failures:
            lines.append("failed:")
            for src, why in self.failures:
                # meshlearn's messages start with the file name already
                lines.append(f"  {why}" if why.startswith(f"{src}:") else f"  {src}: {why}")
        if not brief:
            lines.append(f"manifest: {self.manifest}")
        return "\n".join(lines)
