"""Progress for long work (training the model, checking a large folder), always on stderr.

    with status("training the intent model (1,460 examples)"):
        ...

On a terminal it is rich's spinner; otherwise (a pipe, a log, a test) a plain line once the work has
taken a second, and one when it ends. Never on stdout, so `ask --json` output stays pure JSON.
``BOT_QUIET=1`` silences it.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


LATER = 1.0  # s: quicker work says nothing in a pipe


def _quiet() -> bool:
    return os.environ.get("BOT_QUIET", "") not in ("", "0")


@contextmanager
def status(message: str) -> Iterator[None]:
    if _quiet():
        yield
        return
    start = time.monotonic()
    stream = sys.stderr
    if stream.isatty():
        from rich.console import Console

        with Console(stderr=True).status(message + "…"):
            yield
        stream.write(f"{message}: done in {time.monotonic() - start:.1f} s\n")
        return
    said = threading.Event()

    def announce() -> None:
        said.set()
        stream.write(f"{message}…\n")
        stream.flush()

    timer = threading.Timer(LATER, announce)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
    if said.is_set():
        stream.write(f"{message}: done in {time.monotonic() - start:.1f} s\n")
        stream.flush()
