"""The JSONL manifest: one flushed line per record; a torn last line is tolerated and healed."""

from __future__ import annotations

import json

from meshlearn.preprocess import latest_by_source, read_manifest
from meshlearn.preprocess.manifest import ManifestWriter


def test_records_round_trip_one_line_each(tmp_path):
    path = tmp_path / "manifest.jsonl"
    with ManifestWriter(path) as m:
        m.write({"source": "a.ply", "status": "ok", "seconds": 1.5})
        # visible to readers before the writer is closed (flushed per line)
        assert read_manifest(path) == [{"source": "a.ply", "status": "ok", "seconds": 1.5}]
        m.write({"source": "b.ply", "status": "failed", "error": "bad"})
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line) for line in lines)


def test_torn_last_line_is_ignored_and_cut_by_the_next_writer(tmp_path, caplog):
    path = tmp_path / "manifest.jsonl"
    path.write_bytes(b'{"source": "a.ply", "status": "ok"}\n{"source": "b.ply", "sta')
    assert read_manifest(path) == [{"source": "a.ply", "status": "ok"}]
    with ManifestWriter(path) as m:
        m.write({"source": "b.ply", "status": "ok"})
    assert [r["source"] for r in read_manifest(path)] == ["a.ply", "b.ply"]
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_corrupt_middle_line_is_skipped_with_a_warning(tmp_path, caplog):
    path = tmp_path / "manifest.jsonl"
    path.write_text('{"source": "a"}\nnot json\n{"source": "b"}\n')
    assert [r["source"] for r in read_manifest(path)] == ["a", "b"]
    assert any("line 2" in r.getMessage() for r in caplog.records)


def test_missing_manifest_reads_empty(tmp_path):
    assert read_manifest(tmp_path / "none.jsonl") == []


def test_latest_record_per_source_wins():
    recs = [{"source": "a", "status": "failed"}, {"source": "b", "status": "ok"}, {"source": "a", "status": "ok"}]
    latest = latest_by_source(recs)
    assert latest["a"]["status"] == "ok" and list(latest) == ["a", "b"]


def test_torn_line_without_any_newline_is_dropped(tmp_path):
    path = tmp_path / "manifest.jsonl"
    path.write_bytes(b'{"sour')
    with ManifestWriter(path) as m:
        m.write({"source": "x"})
    assert path.read_text() == '{"source": "x"}\n'
