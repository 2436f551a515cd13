"""Named points where a test can kill this process as ``kill -9`` would, to prove a write survives it.

    crash_point("file-replaced")    # no-op unless BOT_CRASH_AT=file-replaced (or file-replaced:2, the 2nd time)

Crash-safety tests (tests/test_admin_crash.py, bench/bench_admin_crash.py) set ``BOT_CRASH_AT`` in a child
process; the child then dies by SIGKILL at exactly that step, with no ``finally`` or ``atexit`` run, so the
files and the database are left just as a power cut or an OOM kill would leave them. A real kill at a
random moment cannot reliably hit a window a few microseconds wide (right after ``os.replace``); this can.
Unset, it costs one dictionary look-up per step of an edit.
"""
from __future__ import annotations

import os
import signal

ENV = "BOT_CRASH_AT"
_hits: dict[str, int] = {}


def crash_point(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    wanted, _, nth = spec.partition(":")
    if wanted != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
