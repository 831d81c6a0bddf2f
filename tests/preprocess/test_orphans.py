"""orphan_guard: a process forked during a run exits when the run's process is killed."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

SCRIPT = """
import os, sys, time
from meshlearn.preprocess.orphans import orphan_guard
def quiet_sleep():  # let go of the test's pipes, then wait
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    time.sleep(60)
    os._exit(0)
with orphan_guard():
    child = os.fork()
    if child == 0:
        quiet_sleep()
print(child, flush=True)
os._exit(0) if sys.argv[1] == "die" else None
child2 = os.fork()  # outside the guard: not watched
if child2 == 0:
    quiet_sleep()
print(child2, flush=True)
os._exit(0)
"""


def _ended(proc: psutil.Process, timeout: float) -> bool:
    """Whether the process exited within ``timeout`` seconds. An exited process that nobody has
    reaped yet (a zombie: its parent is gone and the init process reaps it when it gets to it)
    counts as ended."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def test_child_forked_inside_the_guard_dies_with_its_parent():
    out = subprocess.run([sys.executable, "-c", SCRIPT, "die"], capture_output=True, text=True, timeout=60)
    child = psutil.Process(int(out.stdout.split()[0]))
    assert _ended(child, timeout=30)


def test_child_forked_outside_the_guard_is_left_alone():
    out = subprocess.run([sys.executable, "-c", SCRIPT, "live"], capture_output=True, text=True, timeout=60)
    guarded, unguarded = (psutil.Process(int(p)) for p in out.stdout.split())
    try:
        assert _ended(guarded, timeout=30)
        assert not _ended(unguarded, timeout=0)
    finally:
        unguarded.kill()
