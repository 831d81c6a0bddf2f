"""Summary: counts, rate, slowest shapes and failures from records."""

from __future__ import annotations

from pathlib import Path

from meshlearn.preprocess import Summary


def _records():
    return [
        {"source": "/d/a.ply", "status": "ok", "seconds": 2.0, "V": 10, "error": None},
        {"source": "/d/b.ply", "status": "skipped-cached", "seconds": 0.1, "V": 10, "error": None},
        {"source": "/d/c.ply", "status": "failed", "seconds": 0.5, "V": None, "error": "/d/c.ply: cannot read"},
        {"source": "/d/d.ply", "status": "ok", "seconds": 4.0, "V": 12, "error": None},
    ]


def test_counts_rate_and_slowest():
    s = Summary(_records(), n_inputs=6, wall_seconds=2.0, manifest=Path("/c/manifest.jsonl"))
    assert s.counts == {"ok": 2, "skipped-cached": 1, "failed": 1, "not run": 2}
    assert s.shapes_per_second == 2.0  # 4 finished in 2 s
    assert [r["source"] for r in s.slowest(2)] == ["/d/d.ply", "/d/a.ply"]
    assert s.failures == [("/d/c.ply", "/d/c.ply: cannot read")]
    assert not s.complete


def test_format_lists_counts_slowest_and_failures_once():
    text = Summary(_records(), 4, 2.0, Path("/c/manifest.jsonl")).format(n_slowest=1)
    assert "4 of 4 shapes in 2.0 s (2.00 shapes/s): 2 ok, 1 skipped-cached, 1 failed" in text
    assert "/d/d.ply" in text and "/d/a.ply" not in text  # only the slowest one
    assert "  /d/c.ply: cannot read" in text and "/d/c.ply: /d/c.ply" not in text
    brief = Summary(_records(), 4, 2.0, Path("/c/manifest.jsonl")).format(brief=True)
    assert "slowest" not in brief and "cannot read" in brief


def test_empty_run_is_complete_and_rate_is_zero():
    s = Summary([], 0, 0.0, Path("m"))
    assert s.complete and s.shapes_per_second == 0.0
