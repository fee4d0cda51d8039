"""How many threads a run can really have.

libgomp ends the process (``libgomp: Thread creation failed``, exit 1) when pthread_create
fails for a team thread: under a limit on threads (``ulimit -u`` counts every thread of the
user, a cgroup's pids.max) or on the memory for their stacks (``ulimit -v``). So before a run
asks libgomp for a larger team than its calling thread has asked for before, this module
starts that many threads itself, counts those that start, ends them, and the run asks
libgomp for no more. The C runtime (``c/runtime.c``) does the same with pthreads.

libgomp keeps one pool of team threads per thread that starts parallel regions, made on
demand and kept between runs, so the result is remembered per calling thread: once a thread
has probed a count, its runs cost nothing more. The probe sees the threads that exist when it
runs (libgomp's idle ones included, so it may clamp lower than strictly needed); threads
started elsewhere after it (another thread's concurrent run, the application's own) it cannot
foresee.
"""

from __future__ import annotations

import os
import threading
import time
import warnings

from cnncc.errors import CnnccNote

TASKS = "/proc/self/task"
RELEASE_WAIT_S = 1.0  # at most, for the kernel to release the probe's ended threads


class _Probed(threading.local):
    """Per calling thread: the largest team it probed, and how many of those threads started
    (itself included)."""
    asked = 1
    started = 1


_probed = _Probed()
_noted = False
_note_lock = threading.Lock()


def usable_threads(n: int) -> int:
    """``n`` (>= 1) or fewer: no more threads than this thread could start when it first
    asked for at least ``n``."""
    probed = _probed
    if n > probed.asked:
        probed.started = 1 + start_threads(n - 1)
        probed.asked = n
        if probed.started < n:
            _note_once(n, probed.started)
    return min(n, probed.started)


def start_threads(count: int) -> int:
    """How many of ``count`` threads can run at once; all are ended (and released by the
    kernel) before this returns."""
    release = threading.Event()
    started = []
    for _ in range(count):
        t = threading.Thread(target=release.wait, name="cnncc-thread-probe", daemon=True)
        try:
            t.start()
        except RuntimeError:  # "can't start new thread": pthread_create failed
            break
        started.append(t)
    release.set()
    for t in started:
        t.join()
    wait_until_released([t.native_id for t in started])
    return len(started)


def wait_until_released(tids: list[int]) -> None:
    """A joined thread still counts against the user's thread limit until the kernel
    releases it, a moment after it woke its joiner: libgomp creating its threads in that
    moment would fail. The kernel removes /proc/self/task/<tid> after releasing the count,
    so wait (briefly) until none of ``tids`` is listed there."""
    if not os.path.isdir(TASKS):
        return
    deadline = time.monotonic() + RELEASE_WAIT_S
    pending = [tid for tid in tids if tid is not None]
    while pending and time.monotonic() < deadline:
        pending = [tid for tid in pending if os.path.exists(f"{TASKS}/{tid}")]
        if pending:
            time.sleep(0.0002)


def _note_once(asked: int, started: int) -> None:
    global _noted
    with _note_lock:
        if _noted:
            return
        _noted = True
    warnings.warn(f"only {started} of the {asked} threads asked for could be started (a limit on threads or memory: "
                  f"ulimit -u, ulimit -v, a cgroup); runs use {started}", CnnccNote, stacklevel=5)
