"""Process settings for long-running fronts (the Telegram bot).

Python's cyclic garbage collector rescans every live container object on a full collection. The bot
keeps a large, never-freed heap (the knowledge, the NLU model, the question bank) and, with many quiz
games running, tens of thousands of small timer and game objects: with the default thresholds the
collections paused the event loop long enough to make quiz timers fire late (bench/bench_quiz.py,
10,000 games started over 20 s: p99 lateness 78 ms before, 34 ms after; with the collector switched
off entirely, all 10,000 started at once: 408 ms -> 39 ms).
"""
from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

GC_THRESHOLDS = (10_000, 50, 100)  # default (700, 10, 10): collections ~14x rarer


def tune_gc() -> None:
    """Call once start-up is done: what exists now lives for good, so the collector stops rescanning it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No collection while the bot loads: what loading builds (the knowledge, the model, their indexes)
    lives for the process, and collecting while it grows rescanned it every few hundred objects (107
    collections, 70 ms of CPU of `ask`'s start). Garbage cycles left meanwhile wait for the next
    collection after the pause."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
