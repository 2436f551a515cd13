"""Knowledge edits shared by every worker: revisions in the database, followed by each host's files.

    files = DataFiles(settings)                       # the editable files, named alike on every host
    follower = KnowledgeFollower(storage, files, lock_dir, reloader).start()   # a worker, polling
    ...
    follower.stop()

With a shared database (PostgreSQL), each accepted change records the new content of the files it
changed as a revision (``Storage.finish_audit``, in the transaction that finishes the audited write, so a
crash never records a revision whose file was not written, nor loses one whose file was), then notifies
``CHANNEL``. Every worker LISTENs on it and, woken, reads the revisions newer than its own (one indexed
range scan), writes those files where its own config keeps them and reloads through the Reloader
(bot/live.py): an edit made on one host answers on every host within a second. A notice lost with a
dropped connection is made up by a look every ``SAFETY_INTERVAL`` seconds (bot/live.py's FollowLoop, the
loop the file watcher runs too). Editors hold one advisory lock for the
whole edit and bring their files up to the latest revision first (``pull``), so an edit from a second host
is applied on top of the first, or refused by the usual checks; it never overwrites it with a stale file.

The YAML files stay the format people edit, import and export, and the embedded default: with SQLite
(one host) nothing here runs and the file watcher is all there is, as before. Files are named by their role
("knowledge", "quiz", "intents/<file>"), not by path, because two hosts may keep them in different folders.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Settings
from ..knowledge.edit import atomic_write, locked
from ..storage import LockBusy, Storage
from ..storage.base import REVISIONS_CHANNEL

if TYPE_CHECKING:
    from ..live import Reloader

log = logging.getLogger(__name__)
EDIT_LOCK = "bot:knowledge-edits"  # the advisory lock every knowledge editor holds (bot/admin.py)
CHANNEL = REVISIONS_CHANNEL  # Storage.notify / listen: "a knowledge revision was recorded"
SAFETY_INTERVAL = 5.0  # s between looks when no notice came (one lost with a dropped connection)


@dataclass(frozen=True)
class RevisionFile:
    """One file of a revision: its name on every host and its whole content after the change."""

    id: int
    name: str
    content: str


class DataFiles:
    """The data files an admin edits, by the name they share on every host."""

    def __init__(self, settings: Settings) -> None:
        self.knowledge = Path(settings.knowledge).resolve()
        self.quiz = Path(settings.quiz_file).resolve()
        self.intents = Path(settings.intents).resolve()

    def name_of(self, path: Path | str) -> str | None:
        """The shared name of one of this host's files; None for a file that is not ours."""
        resolved = Path(path).resolve()
        if resolved == self.knowledge:
            return "knowledge"
        if resolved == self.quiz:
            return "quiz"
        if resolved.is_relative_to(self.intents) and resolved.suffix == ".yml":
            return "intents/" + resolved.relative_to(self.intents).as_posix()
        return None

    def paths(self) -> list[Path]:
        """Every data file this host has: the knowledge, the quiz, each intents file."""
        intents = sorted(self.intents.rglob("*.yml")) if self.intents.is_dir() else []
        return [p for p in (self.knowledge, self.quiz, *intents) if p.is_file()]

    def path_of(self, name: str) -> Path | None:
        """Where this host keeps the file ``name``; None for a name it cannot hold (never outside its folder)."""
        if name == "knowledge":
            return self.knowledge
        if name == "quiz":
            return self.quiz
        if name.startswith("intents/"):
            path = (self.intents / name.removeprefix("intents/")).resolve()
            if path.is_relative_to(self.intents) and path.suffix == ".yml":
                return path
        return None


class Revisions:
    """The revision queries, over any Storage."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def latest(self) -> int:
        rows = self.storage.query("SELECT MAX(id) FROM kb_revisions")
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0  # type: ignore[call-overload]

    def names_since(self, seen: int) -> list[str]:
        """The files changed after revision ``seen`` (one indexed range scan: nothing, between edits)."""
        return [str(r[0]) for r in self.storage.query("SELECT DISTINCT name FROM kb_revisions WHERE id > ?", (seen,))]

    def newest_since(self, seen: int) -> list[RevisionFile]:
        """The latest content of each file changed after revision ``seen``, oldest first."""
        rows = self.storage.query(
            "SELECT id, name, content FROM kb_revisions WHERE id IN "
            "(SELECT MAX(id) FROM kb_revisions WHERE id > ? GROUP BY name) ORDER BY id", (seen,))
        return [RevisionFile(int(i), str(n), str(c)) for i, n, c in rows]  # type: ignore[call-overload]

    def published(self) -> dict[str, str]:
        """The latest content of every file that has a revision, by name."""
        return {f.name: f.content for f in self.newest_since(0)}

    def record(self, name: str, content: str, at: float) -> None:
        """A revision with no audited change behind it (a file's first published version)."""
        self.storage.query("INSERT INTO kb_revisions(at, audit, name, content) VALUES (?, NULL, ?, ?)",
                           (at, name, content))

    def name_for_audit(self, audit_id: int) -> str | None:
        rows = self.storage.query("SELECT name FROM kb_revisions WHERE audit = ? ORDER BY id DESC LIMIT 1",
                                  (audit_id,))
        return str(rows[0][0]) if rows else None


class SharedFiles:
    """One host's copy of the shared knowledge: brings its files up to the database's latest revision."""

    def __init__(self, storage: Storage, files: DataFiles, lock_dir: Path) -> None:
        self.revisions = Revisions(storage)
        self.files = files
        self.lock_dir = lock_dir
        self.seen = 0  # the revision this host's files are known to hold
        self._lock = threading.Lock()

    def pull(self) -> list[Path]:
        """Write the files of revisions newer than ``seen`` that differ here; the paths written. Under the
        files' own locks, and with the revisions read again once they are held: an edit made on this host
        meanwhile recorded its revision before releasing them, so what is written is never older than what
        it finds on disk (read before the locks, a revision could undo that edit until the next poll)."""
        with self._lock:
            names = self.revisions.names_since(self.seen)
            if not names:
                return []
            paths = {name: self.files.path_of(name) for name in names}
            for name in [n for n, p in paths.items() if p is None]:
                log.warning("a revision names a file this host cannot hold: %r", name)
            written = []
            with locked(*[p for p in paths.values() if p is not None], lock_dir=self.lock_dir):
                newest = self.revisions.newest_since(self.seen)
                for revision in newest:
                    path = paths.get(revision.name)
                    if path is None:
                        continue
                    data = revision.content.encode("utf-8")
                    if path.exists() and path.read_bytes() == data:
                        continue
                    path.parent.mkdir(parents=True, exist_ok=True)
                    atomic_write(path, data)
                    written.append(path)
            later = [f.id for f in newest if f.name not in paths]  # a file first changed meanwhile: next pull
            handled = [f.id for f in newest if f.name in paths]
            if handled:
                self.seen = min([max(handled), *(i - 1 for i in later)])
            if written:
                log.info("knowledge revision %d from another worker: %s", self.seen,
                         ", ".join(p.name for p in written))
            return written


    def seed(self, wait: float = 0.5) -> list[str]:
        """Record this host's copy of every file no revision names yet, as that file's first revision: the
        shared version later changes are made on, and undone back to (a hand edit published by ``kb
        import`` included). Under the edit lock; a host that seeds second finds the files recorded, and
        its first pull brings it onto them, so hosts deployed with different copies end on one. The names
        seeded; none when the lock is busy (an editor is at work: the next start seeds)."""
        try:
            lock = self.revisions.storage.held_lock(EDIT_LOCK, wait)
            with lock:
                have = set(self.revisions.published())
                missing = [(n, p) for p in self.files.paths() if (n := self.files.name_of(p)) and n not in have]
                now = time.time()
                for name, path in missing:
                    self.revisions.record(name, path.read_bytes().decode("utf-8"), now)
        except LockBusy:
            return []
        if missing:
            self.revisions.storage.notify(CHANNEL)
            log.info("first revision of %s, from this host's files", ", ".join(n for n, _ in missing))
        return [n for n, _ in missing]


class KnowledgeFollower:
    """A worker's thread that follows the shared knowledge: new revisions' files, then a reload. It wakes
    on the revisions' notices (LISTEN/NOTIFY) and looks every ``interval`` seconds besides (bot/live.py's
    FollowLoop, the same loop as the file watcher's)."""

    def __init__(self, shared: SharedFiles, reloader: "Reloader", interval: float = SAFETY_INTERVAL,
                 storage: Storage | None = None) -> None:
        from ..live import FollowLoop

        self.shared = shared
        self.reloader = reloader
        self.interval = interval
        listen = (lambda: storage.listen(CHANNEL)) if storage is not None else None
        self._loop = FollowLoop("knowledge-follower", self.poll, interval, listen)

    def poll(self) -> bool:
        """One look; True if a new Mind was swapped in. The Reloader rebuilds only if the files differ from
        what it last loaded, so a worker's own edit (already loaded) costs no second rebuild."""
        self.shared.pull()
        return self.reloader.reload()

    def start(self) -> "KnowledgeFollower":
        try:
            self.shared.seed()
        except Exception:  # noqa: BLE001 - a file without a revision is then published by its first edit
            log.exception("could not record this host's files as their first revisions")
        # a worker starts on the shared knowledge, not on what its files held at deploy time
        self._loop.start(step_first=True)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._loop.stop(timeout)


def follow(storage: Storage, settings: Settings, reloader: "Reloader", lock_dir: Path | None = None,
           interval: float = SAFETY_INTERVAL) -> KnowledgeFollower | None:
    """The follower a worker runs when its database is shared, started; None with SQLite (one host: the
    file watcher sees every edit). ``lock_dir``: the edit locks' folder, the Admin's by default."""
    if not storage.shared:
        return None
    folder = lock_dir or edit_lock_dir(settings)
    return KnowledgeFollower(SharedFiles(storage, DataFiles(settings), folder), reloader, interval,
                             storage).start()


def edit_lock_dir(settings: Settings) -> Path:
    """Edit locks live with the cache, not in the user's knowledge folder (every editor of a file uses it)."""
    return Path(settings.cache_dir) / "locks"
