"""orphan_guard: a process forked during a run exits when the run's process is killed."""

from __future__ import annotations

import subprocess
import sys

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


def test_child_forked_inside_the_guard_dies_with_its_parent():
    out = subprocess.run([sys.executable, "-c", SCRIPT, "die"], capture_output=True, text=True, timeout=60)
    child = psutil.Process(int(out.stdout.split()[0]))
    _, alive = psutil.wait_procs([child], timeout=10)
    assert not alive


def test_child_forked_outside_the_guard_is_left_alone():
    out = subprocess.run([sys.executable, "-c", SCRIPT, "live"], capture_output=True, text=True, timeout=60)
    guarded, unguarded = (psutil.Process(int(p)) for p in out.stdout.split())
    try:
        _, alive = psutil.wait_procs([guarded, unguarded], timeout=2)
        assert [p.pid for p in alive] == [unguarded.pid]
    finally:
        unguarded.kill()
