"""Killing a run: SIGKILL leaves no partial file and a rerun completes; Ctrl-C stops with 130 and
prints the exact command that resumes."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

import meshlearn
from meshlearn import OperatorSpec
from meshlearn.cache import load_operators
from meshlearn.preprocess import read_manifest

CLI = [sys.executable, "-c", "from meshlearn.cli import main; main()"]
N = 6

pytestmark = pytest.mark.timeout(300)  # a hung pool must fail the test, not stall the suite


def _start(folder: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [*CLI, "preprocess", str(folder), "--out", str(out), "--k", "16", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _wait_for_records(proc: subprocess.Popen, manifest: Path, n: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended before it could be interrupted (rc {proc.returncode}):\n{out}\n{err}")
        if manifest.exists() and manifest.read_bytes().count(b"\n") >= n:
            return
        time.sleep(0.02)
    proc.kill()
    pytest.fail("no manifest records in time")


def _children(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def test_sigkill_mid_run_then_rerun_completes(sphere_folder, tmp_path):
    folder, out = sphere_folder(N), tmp_path / "cache"
    proc = _start(folder, out, "--workers", "2")
    _wait_for_records(proc, out / "manifest.jsonl", 2)
    workers = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    first = read_manifest(out / "manifest.jsonl")
    assert 2 <= len(first) < N and all(r["status"] == "ok" for r in first)
    for f in out.glob("*.npz"):  # whatever has a final name is whole
        load_operators(f)
    # orphaned pool workers notice that their parent is gone and exit
    _, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive

    s = meshlearn.preprocess(folder, out, spec=OperatorSpec(operators=frozenset({"spectral"}), k=16), workers=1, quiet=True,
                             normalize="radius")  # `meshlearn preprocess`'s default
    assert s.complete and len(s.records) == N
    assert s.counts["skipped-cached"] >= len(first)  # what the killed run finished is not redone
    assert s.counts["ok"] + s.counts["skipped-cached"] == N
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))
    assert len(list(out.glob("*.npz"))) == N
    for f in out.glob("*.npz"):
        ops, _ = load_operators(f)
        assert ops.evals.shape == (16,)


def test_ctrl_c_stops_with_130_and_the_printed_command_resumes(sphere_folder, tmp_path):
    # more shapes than the other tests: on a busy machine six small ones can all finish before the signal lands
    n = 4 * N
    folder, out = sphere_folder(n), tmp_path / "cache"
    proc = _start(folder, out, "--workers", "2")
    _wait_for_records(proc, out / "manifest.jsonl", 1)
    workers = _children(proc.pid)
    os.kill(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "resume with:" in stderr
    command = stderr.strip().splitlines()[-1].strip()
    assert command == f"meshlearn preprocess {shlex.quote(str(folder))} --out {shlex.quote(str(out))} --k 16 --workers 2"
    _, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive
    assert not list(out.glob(".*.tmp"))
    done = read_manifest(out / "manifest.jsonl")
    assert 1 <= len(done) < n

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    rerun = subprocess.run([*CLI, *shlex.split(command)[1:], "--quiet"], capture_output=True, text=True, timeout=120, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stderr == ""  # --quiet: no progress lines
    assert f"{n} of {n} shapes" in rerun.stdout and "0 failed" in rerun.stdout
    assert len(list(out.glob("*.npz"))) == n


def test_a_worker_killed_mid_shape_is_replaced_and_its_shape_retried(sphere_folder, tmp_path):
    # What the kernel's out-of-memory killer does to one worker: the batch still completes.
    folder, out = sphere_folder(N), tmp_path / "cache"
    proc = _start(folder, out, "--workers", "2")
    _wait_for_records(proc, out / "manifest.jsonl", 1)
    workers = [p for p in _children(proc.pid) if "spawn_main" in " ".join(p.cmdline())]
    assert len(workers) == 2
    workers[0].kill()
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "a worker process died" in stderr
    assert f"{N} of {N} shapes" in stdout and "0 failed" in stdout
    records = read_manifest(out / "manifest.jsonl")
    assert sorted(r["source"] for r in records) == sorted(str(p) for p in folder.glob("*.ply"))
    assert not list(out.glob(".*.tmp"))
