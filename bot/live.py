"""Live knowledge: a running bot picks up edited data files without a restart.

    watcher = KnowledgeWatcher(brain).start()   # a daemon thread polling every 0.5 s
    ...
    watcher.stop()

The loop itself (``FollowLoop``) is shared with the follower of a shared database's revisions
(bot/cluster/knowledge.py), which wakes on LISTEN/NOTIFY instead of polling.

Polling is a ``stat`` of each file (mtime, size, inode: an atomic replace changes the inode), so it costs
nothing between edits. On a change the files are loaded and validated off the message path; a new Mind
is built (the intent model is reused unless the training examples changed) and swapped in whole, so a
message in flight finishes on the old Mind and the next one sees the new. A broken file is logged once
and the old Mind keeps answering.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .dialogue import Brain, build_mind
from .errors import BotError
from .knowledge import KnowledgeBase
from .storage.base import Wakeups

log = logging.getLogger(__name__)
Signature = tuple[tuple[str, int, int, int], ...]


class Reloader:
    """Rebuilds the Brain's Mind when the knowledge or intents files change. Thread-safe."""

    def __init__(self, brain: Brain, settings: object | None = None) -> None:
        self.brain = brain
        self.settings = settings or brain.settings
        self._lock = threading.Lock()
        self._seen = self.signature()
        self._nlu_seen = self._nlu_signature()

    def _files(self) -> list[Path]:
        s = self.settings
        intents = Path(s.intents)  # type: ignore[attr-defined]
        files = sorted(intents.rglob("*.yml")) if intents.is_dir() else []
        quiz = Path(getattr(s, "quiz_file", "")) if getattr(s, "quiz_file", None) else None
        return [Path(s.knowledge), *files, *([quiz] if quiz else [])]  # type: ignore[attr-defined]

    def signature(self) -> Signature:
        out = []
        for path in self._files():
            try:
                st = path.stat()
            except OSError:
                out.append((str(path), -1, -1, -1))
                continue
            out.append((str(path), st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(out)

    def _nlu_signature(self) -> Signature:
        knowledge = str(Path(self.settings.knowledge))  # type: ignore[attr-defined]
        return tuple(s for s in self.signature() if s[0] != knowledge)

    def changed(self) -> bool:
        return self.signature() != self._seen

    def reload(self, force: bool = False, kb: KnowledgeBase | None = None, raise_errors: bool = False) -> bool:
        """Swap in a new Mind if the files changed (or ``force``); False if nothing was done."""
        with self._lock:
            seen = self.signature()  # before reading: a change made while we build is seen next time
            if not force and seen == self._seen:
                return False
            try:
                mind = self._build(kb)
            except BotError as exc:
                self._seen = seen  # log a broken file once, not every poll
                if raise_errors:
                    raise
                log.error("knowledge not reloaded, the bot keeps the previous version: %s", exc)
                return False
            except Exception:
                self._seen = seen
                if raise_errors:
                    raise
                log.exception("knowledge not reloaded, the bot keeps the previous version")
                return False
            self.brain.swap(mind)
            self._seen = seen
            log.info("knowledge reloaded")
            return True

    def _build(self, kb: KnowledgeBase | None):  # type: ignore[no-untyped-def]
        settings = self.settings
        kb = kb or KnowledgeBase.load(Path(settings.knowledge))  # type: ignore[attr-defined]
        nlu_seen = self._nlu_signature()
        if nlu_seen != self._nlu_seen:
            # Intents changed: NLU.build loads the model cached for this training data, or retrains.
            mind = build_mind(settings, kb=kb)  # type: ignore[arg-type]
        else:
            mind = build_mind(settings, kb=kb, nlu=self.brain.mind.nlu)  # type: ignore[arg-type]
        self._nlu_seen = nlu_seen
        return mind


class FollowLoop:
    """The one loop behind every follower of the knowledge (this host's files, the shared revisions): a
    daemon thread that runs ``step`` whenever something may have changed.

    Without ``listen`` it polls: ``step`` every ``interval`` seconds. With ``listen`` (a Storage's
    LISTEN/NOTIFY, bot/cluster/knowledge.py) it runs ``step`` as soon as a notice arrives, and every
    ``interval`` seconds as a safety net; listening starts before the first step, so no notice falls between
    them. A lost listening connection is opened again at the safety net's next turn, whose step catches up
    on what was missed. A step that fails is logged and tried again at the
    next turn: the loop never dies."""

    SLICE = 0.25  # s: the longest a wait lasts before the loop looks whether it was stopped

    def __init__(self, name: str, step: Callable[[], object], interval: float,
                 listen: Callable[[], Wakeups] | None = None) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self.listen = listen
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wakeups: Wakeups | None = None

    def start(self, *, step_first: bool = False) -> "FollowLoop":
        """Start the thread; ``step_first``: one step now, in the caller's thread, before returning."""
        if self._thread is None:
            self._open()
            if step_first:
                self.step()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _open(self) -> None:
        """Listen, if there is something to listen to and not yet."""
        if self.listen is None or self._wakeups is not None:
            return
        try:
            self._wakeups = self.listen()
        except Exception:  # noqa: BLE001 - the database is away: the safety net polls until it is back
            log.warning("%s: could not listen for notices; looking every %g s", self.name, self.interval,
                        exc_info=True)

    def _wait(self, timeout: float) -> bool:
        """Wait at most ``timeout`` s for a notice (True) or nothing (False)."""
        if self._wakeups is None:
            self._stop.wait(timeout)
            return False
        try:
            return self._wakeups.wait(timeout)
        except Exception:  # noqa: BLE001 - the connection dropped: listen again next turn
            log.warning("%s: lost the connection it listened on", self.name, exc_info=True)
            self._close()
            return False

    def _close(self) -> None:
        wakeups, self._wakeups = self._wakeups, None
        if wakeups is not None:
            with contextlib.suppress(Exception):
                wakeups.close()

    def _run(self) -> None:
        due = time.monotonic() + self.interval
        try:
            while not self._stop.is_set():
                woke = self._wait(max(0.0, min(self.SLICE, due - time.monotonic())))
                if self._stop.is_set():
                    break
                if not woke and time.monotonic() < due:
                    continue
                due = time.monotonic() + self.interval
                self._open()  # lost (or never opened): listen again at the safety net's turn, then catch up
                try:
                    self.step()
                except Exception:  # never let the loop die: the next turn may succeed
                    log.exception("%s failed", self.name)
        finally:
            self._close()


class KnowledgeWatcher:
    """Polls the data files (a FollowLoop) and reloads the Brain when they change."""

    def __init__(self, brain: Brain, settings: object | None = None, interval: float = 0.5,
                 reloader: Reloader | None = None) -> None:
        self.reloader = reloader or Reloader(brain, settings)
        self.interval = interval
        self._loop = FollowLoop("knowledge-watcher", self.poll, interval)

    def start(self) -> "KnowledgeWatcher":
        self._loop.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._loop.stop(timeout)

    def __enter__(self) -> "KnowledgeWatcher":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def poll(self) -> bool:
        """One check; True if a new Mind was swapped in (for fronts with their own scheduler)."""
        return self.reloader.changed() and self.reloader.reload()
