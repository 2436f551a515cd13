"""`kb set` and `kb undo` killed (SIGKILL, as kill -9) at every step of an edit: each change on disk keeps its
audit row, no row claims a change that is not on disk, and every change can still be undone byte for byte.

The child processes die at named crash points (bot/crashpoints.py) rather than after a sleep, so each run
hits its window exactly, including the microseconds between the file's replace and the audit row's finish.
bench/bench_admin_crash.py does the same with random kills, at length.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.admin import Actor, Admin
from bot.config import Settings, load_settings
from bot.errors import EditError
from bot.knowledge import KnowledgeBase
from bot.storage import Storage, open_storage

ROOT = Path(__file__).resolve().parent.parent
POINTS = ["audit-written", "temp-written", "file-replaced", "audit-finished"]
ME = Actor.local_operator()


def run_killed(config: Path, point: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BOT_CONFIG=str(config), PYTHONPATH=str(ROOT), BOT_CRASH_AT=point)
    return subprocess.run([sys.executable, "-m", "bot", "kb", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def assert_consistent(settings: Settings, original: bytes, listing: list[str]) -> Admin:
    """What a fresh process sees after the crash (Admin settles pending rows when it starts)."""
    path = Path(settings.knowledge)
    admin = Admin(settings, open_storage(settings.database))
    KnowledgeBase.load(path)  # not torn: it loads and validates
    assert admin.storage.pending_audit() == []
    latest = admin.storage.last_undoable()
    if latest:
        assert path.read_bytes() == (latest[0].after or "").encode("utf-8"), \
            f"the file on disk is not change #{latest[0].id}'s result: an audit row is missing"
    else:
        assert path.read_bytes() == original, "the file changed with no audit row to undo it"
    assert sorted(os.listdir(path.parent)) == listing, "a crash left a file behind in the knowledge folder"
    return admin


@pytest.mark.parametrize("operation", ["set", "undo"])
def test_kill_9_at_every_step_of_an_edit_leaves_every_change_undoable(project: Path, operation: str) -> None:
    settings = load_settings(project, env={})
    path = Path(settings.knowledge)
    original, listing = path.read_bytes(), sorted(os.listdir(path.parent))
    admin = Admin(settings, open_storage(settings.database))
    states = [original]
    for n in range(len(POINTS) + 1):  # changes for the undos to revert (and a history for the sets to extend)
        admin.set_fact(ME, "Ballerina", "release", f"setup take {n}", source=f"source {n}")
        states.append(path.read_bytes())

    for point in POINTS:
        before = path.read_bytes()
        if operation == "set":
            p = run_killed(project, point, "set", "Ballerina", "release", f"killed at {point}", "--source", "Variety")
        else:
            p = run_killed(project, point, "undo")
        assert p.returncode == -signal.SIGKILL, (point, p.returncode, p.stderr[-1000:])
        now = path.read_bytes()
        known = {before, *states} if operation == "undo" else {before}
        assert now in known or f"killed at {point}".encode() in now, f"torn file after a kill at {point}"
        if point == "audit-written":
            assert now == before, "the file changed before the change was begun"
        if point in ("file-replaced", "audit-finished"):
            assert now != before, "the change did not reach the disk"
        admin = assert_consistent(settings, original, listing)
        if operation == "set" and now != before:
            states.append(now)

    undone = 0
    while True:  # back to the very first bytes, one change at a time, none refused
        try:
            admin.undo(ME)
        except EditError as exc:
            assert "nothing to undo" in str(exc), f"a change could not be undone: {exc}"
            break
        undone += 1
        assert path.read_bytes() in states
    assert path.read_bytes() == original
    assert undone == len(states) - 1 - (len(POINTS) - 2 if operation == "undo" else 0)


def test_edit_locks_stay_out_of_the_knowledge_folder(project: Path) -> None:
    settings = load_settings(project, env={})
    folder = Path(settings.knowledge).parent
    listing = sorted(os.listdir(folder))
    admin = Admin(settings, open_storage(settings.database))
    admin.set_fact(ME, "Ballerina", "release", "6 June 2025", source="Variety")
    admin.add_alias(ME, "Ballerina", "the ballerina one")
    admin.undo(ME)
    assert sorted(os.listdir(folder)) == listing
    assert list((Path(settings.cache_dir) / "locks").glob("ballerina.yml.*.lock"))


def test_a_database_from_before_write_ahead_audit_is_upgraded_in_place(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE audit (id INTEGER PRIMARY KEY, at REAL NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL,"
               " target TEXT, file TEXT, before TEXT, after TEXT, source TEXT, undone INTEGER NOT NULL DEFAULT 0)")
    db.execute("INSERT INTO audit(at, who, action, target, file, before, after) VALUES (1, 'me', 'set', 't', 'f', 'a', 'b')")
    db.commit()
    db.close()
    storage = open_storage(path)
    [old] = storage.last_undoable()
    assert (old.before, old.after, old.pending) == ("a", "b", False)
    assert storage.pending_audit() == []


def test_undo_of_a_two_file_change_killed_between_the_files_is_finished_file_by_file(project: Path) -> None:
    """`kb answer` writes the knowledge and an intents file; an undo killed after restoring only the first
    leaves each file with its own consistent history, and the next undo restores the other."""
    settings = load_settings(project, env={})
    files = [Path(settings.knowledge), *sorted(Path(settings.intents).rglob("*.yml"))]
    original = {p: p.read_bytes() for p in files}
    admin = Admin(settings, open_storage(settings.database))
    admin.storage.log_unanswered("c", "u", "what is the runtime of ballerina", "what is the runtime of ballerina",
                                 None, 0.1)
    change = admin.answer(ME, 1, "Ballerina", "release", "June 6, 2025", source="Variety")
    assert len(change.files) == 2
    p = run_killed(project, "file-replaced:1", "undo")
    assert p.returncode == -signal.SIGKILL, p.stderr[-1000:]
    admin = Admin(settings, open_storage(settings.database))
    assert admin.storage.pending_audit() == []
    restored = [f for f in change.files if Path(f).read_bytes() == original[Path(f)]]
    assert len(restored) == 1, "the kill came between the two files"
    admin.undo(ME)
    assert {p: p.read_bytes() for p in files} == original
    with pytest.raises(EditError, match="nothing to undo"):
        admin.undo(ME)
