"""Progress: a tqdm bar on a terminal, log lines with rate and ETA otherwise, nothing when quiet."""

from __future__ import annotations

import io
import logging

from meshlearn.preprocess.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _records():
    return [
        {"source": "a.ply", "status": "ok", "seconds": 1.0},
        {"source": "b.ply", "status": "failed", "seconds": 0.1, "error": "b.ply: broken"},
        {"source": "c.ply", "status": "skipped-cached", "seconds": 0.0},
    ]


def test_terminal_gets_a_bar_and_failures_as_lines():
    term = _Terminal()
    with Progress(3, stream=term) as p:
        for r in _records():
            p.update(r)
    text = term.getvalue()
    assert "3/3" in text and "failed: b.ply: broken\n" in text


def test_no_terminal_logs_one_line_per_shape(caplog):
    caplog.set_level(logging.INFO, logger="meshlearn.preprocess")
    with Progress(3, stream=io.StringIO()) as p:
        for r in _records():
            p.update(r)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and lines[0].startswith("[1/3] a.ply: ok in 1.00 s") and "ETA" in lines[0]
    assert caplog.records[1].levelname == "WARNING" and "b.ply: broken" in lines[1]


def test_quiet_reports_nothing(caplog):
    caplog.set_level(logging.INFO, logger="meshlearn.preprocess")
    term = _Terminal()
    with Progress(3, quiet=True, stream=term) as p:
        for r in _records():
            p.update(r)
    assert term.getvalue() == "" and not caplog.records
