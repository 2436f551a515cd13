"""Checkpoints of SQLite's write-ahead log, off the thread that answers.

SQLite checkpoints the log itself, in whichever connection commits the page that fills it (1,000 pages by
default): that commit copies the logged pages into the database file and syncs both, about 1.5 ms of CPU
inside one message's reply (in bench/bench_brain.py, the same handful of messages each run, among the
slowest). So the bot's connection leaves that to SQLite only as a safety net (``SAFETY_PAGES``, four times
further) and asks for a checkpoint here every ``EVERY`` commits: one daemon thread per process runs it on a
connection of its own while the bot goes on answering (``checkpoint``: a PASSIVE pass, which holds nobody
up, then a short RESTART so that the log starts afresh). A write of the bot's that meets the RESTART waits
for it (a millisecond or so, in wall time) instead of doing the copying itself. Other processes on the
file (the command line) keep SQLite's own checkpoints.
"""
from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from pathlib import Path

EVERY = 300  # commits between checkpoints: about SQLite's 1,000 pages, at three pages a commit
SAFETY_PAGES = 4_000  # SQLite's own checkpoint still comes this far on, should this thread fall behind
RESTARTS = 20  # tries of the checkpoint that starts the log afresh...
RETRY = 0.002  # ...seconds apart

log = logging.getLogger(__name__)


class Checkpoints:
    """Files whose log is due for a checkpoint, and the one thread that checkpoints them."""

    def __init__(self) -> None:
        self._due: set[str] = set()
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def request(self, path: str) -> None:
        """Checkpoint ``path`` soon, on the checkpoint thread (started on the first request)."""
        with self._guard:
            self._due.add(path)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._guard:
                due, self._due = self._due, set()
            for path in due:
                checkpoint(path)


def checkpoint(path: str) -> None:
    """Checkpoint the file's log on a connection of its own: first PASSIVE, which copies what is logged
    without holding anyone up, while the bot goes on logging; then RESTART, which copies the few pages
    logged meanwhile and has the bot's next write start the log afresh (without it the log only grows, to
    the safety net). RESTART holds writers off while it runs, so it is tried without waiting (the bot
    writing then: it returns busy) a few times, a moment apart. A file gone meanwhile (its storage closed
    and deleted) is not created again: existing files only."""
    try:
        uri = f"{Path(path).resolve().as_uri()}?mode=rw"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=0)) as db:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            for _ in range(RESTARTS):
                if not db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()[0]:
                    return
                time.sleep(RETRY)
    except (sqlite3.Error, OSError) as exc:  # the next request tries again; SQLite's own is the safety net
        log.debug("checkpoint of %s failed: %s", path, exc)


CHECKPOINTS = Checkpoints()
