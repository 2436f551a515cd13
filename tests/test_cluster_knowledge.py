"""Knowledge edits on a shared PostgreSQL reach every worker, and two hosts' edits never lose one another.

Each "host" is its own copy of the config folder (its own knowledge and intents files, its own locks),
as two machines would have; they share one PostgreSQL schema and nothing else.
"""
from __future__ import annotations

import random
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.admin import Actor, Admin, fact_revision
from bot.cluster.knowledge import DataFiles, KnowledgeFollower, Revisions, follow
from bot.config import Settings, load_settings
from bot.dialogue import Brain
from bot.errors import ChangedError, EditError
from bot.knowledge import KnowledgeBase
from bot.live import Reloader
from bot.storage import Storage, open_storage
from tests.conftest import copy_project
from tests.support.postgres import PgSchema

ME = Actor.telegram(1001, "boss")
WAIT = 10.0  # s: the bound of every wait
# a follower's safety-net look comes after every wait has given up: what reaches a host within WAIT came
# by a notice (LISTEN/NOTIFY), not by polling
SAFETY_NET = 600.0


@dataclass
class Host:
    settings: Settings
    storage: Storage
    brain: Brain
    admin: Admin
    follower: KnowledgeFollower | None

    def ask(self, text: str, chat: str = "c") -> str:
        return self.brain.reply(chat, "tester", text).text

    @property
    def knowledge(self) -> bytes:
        return Path(self.settings.knowledge).read_bytes()


def wait_for(what: str, check: Callable[[], bool], timeout: float = WAIT) -> float:
    """Seconds until ``check()`` held; fails with ``what`` after ``timeout``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            pytest.fail(f"after {timeout:g} s: {what}")
        time.sleep(0.02)
    return time.monotonic() - start


@pytest.fixture
def hosts(pg: PgSchema, tmp_path: Path, model_cache: Path) -> Iterator[Callable[[str], Host]]:
    open_storage(pg.url, check_schema=False).upgrade()
    made: list[Host] = []

    def make(name: str) -> Host:
        settings = load_settings(copy_project(tmp_path / name, model_cache), env={"BOT_DATABASE": pg.url})
        settings.admins = [ME.user_id]  # type: ignore[list-item]
        storage = open_storage(settings.database)
        brain = Brain.from_settings(settings, storage, random.Random(7))
        reloader = Reloader(brain, settings)
        host = Host(settings, storage, brain, Admin(settings, storage, reloader=reloader),
                    follow(storage, settings, reloader, interval=SAFETY_NET))
        made.append(host)
        return host

    yield make
    for host in made:
        if host.follower is not None:
            host.follower.stop()
        host.storage.close()


def test_an_edit_on_one_host_is_answered_by_the_other(hosts: Callable[[str], Host]) -> None:
    a, b = hosts("a"), hosts("b")
    question = "when does ballerina come out?"
    assert "2031" not in b.ask(question)
    a.admin.set_fact(ME, "Ballerina", "release", "12 March 2031", source="Variety")
    assert "2031" in a.ask(question)  # the editor's own worker at once
    wait_for("the other host answers with the edit", lambda: "2031" in b.ask(question))
    assert b.knowledge == a.knowledge  # its files hold the edit too (import/export stays the YAML)


def test_a_worker_started_later_begins_on_the_shared_knowledge(hosts: Callable[[str], Host]) -> None:
    a = hosts("a")
    a.admin.add_alias(ME, "Ballerina", "the dancer film")
    late = hosts("late")  # its files were copied before the edit: the follower's first poll brings them up
    assert late.knowledge == a.knowledge
    assert "the dancer film" in KnowledgeBase.load(Path(late.settings.knowledge)).entities["ballerina"].aliases


def test_undo_on_another_host_restores_both(hosts: Callable[[str], Host]) -> None:
    a, b = hosts("a"), hosts("b")
    original = a.knowledge
    a.admin.set_fact(ME, "Ballerina", "release", "12 March 2031", source="Variety")
    change = b.admin.undo(ME)  # B never made the change; it undoes it in its own files, by name
    assert "Undid change" in change.message
    assert b.knowledge == original
    wait_for("the editing host's files are restored", lambda: a.knowledge == original)
    wait_for("the editing host answers as before", lambda: "2031" not in a.ask("when does ballerina come out?"))


def test_two_hosts_editing_at_once_both_apply(hosts: Callable[[str], Host]) -> None:
    a, b = hosts("a"), hosts("b")
    start = threading.Barrier(2, timeout=WAIT)
    errors: list[BaseException] = []

    def run(edit: Callable[[], object]) -> None:
        try:
            start.wait()
            edit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(lambda: a.admin.add_alias(ME, "Ballerina", "the dancer film"),)),
               threading.Thread(target=run, args=(lambda: b.admin.set_fact(ME, "Ballerina", "release",
                                                                           "12 March 2031", source="Variety"),))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 3)
    assert not any(t.is_alive() for t in threads), "an edit never finished"
    assert errors == []
    for host in (a, b):
        wait_for(f"{Path(host.settings.root).name} holds both edits",
                 lambda host=host: both_in(host))  # type: ignore[misc]
    assert a.knowledge == b.knowledge


def both_in(host: Host) -> bool:
    kb = KnowledgeBase.load(Path(host.settings.knowledge))
    return "the dancer film" in kb.entities["ballerina"].aliases and \
        any("2031" in kb.value(f) for f in kb.facts_about("ballerina", "release"))


def test_the_second_of_two_edits_to_one_fact_is_refused_not_lost(hosts: Callable[[str], Host]) -> None:
    a, b = hosts("a"), hosts("b")
    # both admins opened the same fact (a form, a guided edit), then both save
    seen = fact_revision(KnowledgeBase.load(Path(a.settings.knowledge)), "ballerina", "release")
    start = threading.Barrier(2, timeout=WAIT)
    outcomes: dict[str, object] = {}

    def save(host: Host, value: str) -> None:
        start.wait()
        try:
            outcomes[value] = host.admin.set_fact(ME, "Ballerina", "release", value, source="Variety", expect=seen)
        except EditError as exc:
            outcomes[value] = exc

    threads = [threading.Thread(target=save, args=(a, "12 March 2031")),
               threading.Thread(target=save, args=(b, "9 May 2032"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 3)
    refused = [v for v, o in outcomes.items() if isinstance(o, ChangedError)]
    saved = [v for v, o in outcomes.items() if not isinstance(o, BaseException)]
    assert len(saved) == 1 and len(refused) == 1, outcomes
    assert "changed since you opened it" in str(outcomes[refused[0]])
    year = saved[0][-4:]
    for host in (a, b):  # the one saved is what every host answers, and it is in the database's history
        wait_for("every host answers the saved value",
                 lambda host=host: year in host.ask("when does ballerina come out?"))  # type: ignore[misc]
    assert [e.action for e in a.storage.audit_log(changes_only=True)] == ["set"]


def test_a_revision_is_recorded_with_its_audited_change(hosts: Callable[[str], Host]) -> None:
    a = hosts("a")
    revisions = Revisions(a.storage)
    seeded = revisions.latest()  # the first worker recorded its files as their first revisions
    assert set(revisions.published()) == {n for p in DataFiles(a.settings).paths()
                                          if (n := DataFiles(a.settings).name_of(p))}
    change = a.admin.add_example(ME, "ask_release", "when can i see it in cinemas")
    [entry] = a.storage.audit_log(changes_only=True)
    assert revisions.name_for_audit(entry.id) == "intents/" + Path(change.files[0]).relative_to(
        Path(a.settings.intents)).as_posix()
    [newest] = revisions.newest_since(seeded)
    assert newest.content == entry.after


def test_sqlite_records_no_revision_and_follows_nothing(settings: Settings) -> None:
    settings.admins = [ME.user_id]  # type: ignore[list-item]
    storage = open_storage(settings.database)
    brain = Brain.from_settings(settings, storage, random.Random(7))
    assert follow(storage, settings, Reloader(brain, settings)) is None
    Admin(settings, storage).add_alias(ME, "Ballerina", "the dancer film")
    assert storage.query("SELECT COUNT(*) FROM kb_revisions") == [(0,)]


def test_kb_from_the_command_line_of_another_host_reaches_a_running_worker(hosts: Callable[[str], Host],
                                                                           pg: PgSchema, tmp_path: Path,
                                                                           model_cache: Path) -> None:
    import os
    import subprocess
    import sys

    worker = hosts("worker")
    config = copy_project(tmp_path / "operator", model_cache)  # another machine's checkout
    env = {**os.environ, "BOT_CONFIG": str(config), "BOT_DATABASE": pg.url}
    done = subprocess.run([sys.executable, "-m", "bot", "kb", "set", "Ballerina", "release", "12 March 2031",
                           "--source", "Variety"], check=False, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    wait_for("the worker answers the command line's edit",
             lambda: "2031" in worker.ask("when does ballerina come out?"))


@pytest.mark.parametrize("point", ["audit-written", "file-replaced", "audit-finished"])
def test_an_editor_killed_mid_edit_leaves_every_host_on_one_knowledge(hosts: Callable[[str], Host], pg: PgSchema,
                                                                      tmp_path: Path, model_cache: Path,
                                                                      point: str) -> None:
    """kill -9 of `kb set` at each step (bot/crashpoints.py): its advisory lock dies with it, the next editor
    settles the change by what reached its disk, and the revision the others follow is exactly that."""
    import os
    import subprocess
    import sys

    config = copy_project(tmp_path / "editor", model_cache)
    env = {**os.environ, "BOT_CONFIG": str(config), "BOT_DATABASE": pg.url, "BOT_CRASH_AT": point}
    killed = subprocess.run([sys.executable, "-m", "bot", "kb", "set", "Ballerina", "release", "12 March 2031",
                             "--source", "Variety"], check=False, env=env, capture_output=True, text=True,
                            timeout=120)
    assert killed.returncode != 0, "the edit was not killed"
    settings = load_settings(config, env={"BOT_DATABASE": pg.url})
    settings.admins = [ME.user_id]  # type: ignore[list-item]
    storage = open_storage(settings.database)
    try:
        again = Admin(settings, storage)  # the editor's host starts again: it settles the change
        assert storage.pending_audit() == []
        on_disk = Path(settings.knowledge).read_bytes()
        other = hosts("other")  # another host, and a second edit from it: the lock was freed by the kill
        other.admin.add_alias(ME, "Ballerina", "the dancer film")
        survived = b"2031" in on_disk
        assert survived == (point != "audit-written")  # written before the kill: kept; else never happened
        wait_for("the other host has the change exactly when it survived",
                 lambda: (b"2031" in other.knowledge) == survived and b"the dancer film" in other.knowledge)
        again.shared.pull()  # type: ignore[union-attr]
        assert Path(settings.knowledge).read_bytes() == other.knowledge
    finally:
        storage.close()


def test_the_edit_lock_is_one_for_every_process_and_says_when_it_is_busy(pg: PgSchema) -> None:
    from bot.storage import LockBusy

    open_storage(pg.url, check_schema=False).upgrade()
    one, two = open_storage(pg.url), open_storage(pg.url)
    try:
        with one.held_lock("bot:test", 1.0):
            with pytest.raises(LockBusy, match="held by another worker"):
                with two.held_lock("bot:test", 0.2):
                    pass
            with two.held_lock("bot:other", 0.2):  # another name is another lock
                pass
        with two.held_lock("bot:test", 1.0):  # released at the block's end
            pass
    finally:
        one.close()
        two.close()


def kb_command(host: Host, pg: PgSchema, *args: str) -> "subprocess.CompletedProcess[str]":
    """`python -m bot kb ARGS` on ``host``'s machine (its folder, the shared database)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "BOT_CONFIG": str(host.settings.root / "config.yml"), "BOT_DATABASE": pg.url}
    return subprocess.run([sys.executable, "-m", "bot", "kb", *args], check=False, env=env, capture_output=True,
                          text=True, timeout=120)


def edit_by_hand(host: Host, tmp_path: Path) -> None:
    """Change ``host``'s knowledge file the way a person with an editor would: in place, telling no one
    (written here by an Admin over a scratch SQLite file, so the YAML stays as a person would keep it)."""
    scratch = host.settings.model_copy(update={"database": str(tmp_path / "scratch.sqlite3")})
    Admin(scratch, open_storage(scratch.database)).set_fact(ME, "Ballerina", "release", "12 March 2031",
                                                            source="Variety")


def test_kb_import_publishes_hand_edits_to_every_worker_and_undo_takes_them_back(
        hosts: Callable[[str], Host], pg: PgSchema, tmp_path: Path) -> None:
    a, b = hosts("a"), hosts("b")
    question = "when does ballerina come out?"
    original = b.knowledge
    edit_by_hand(a, tmp_path)
    edited = a.knowledge
    done = kb_command(a, pg, "import")
    assert done.returncode == 0, done.stderr
    assert "Published 1 file" in done.stdout and "knowledge" in done.stdout
    assert a.knowledge == edited  # importing kept the hand edit (nothing pulled over it first)
    wait_for("the other worker answers with the imported edit", lambda: "2031" in b.ask(question))
    assert b.knowledge == edited
    again = kb_command(a, pg, "import")
    assert again.returncode == 1 and "nothing to import" in again.stderr  # published already
    undone = kb_command(b, pg, "undo")  # from any host, like any other change
    assert undone.returncode == 0 and "import" in undone.stdout, undone.stderr
    wait_for("both workers are back on the previous knowledge",
             lambda: a.knowledge == original == b.knowledge and "2031" not in a.ask(question))


def test_kb_import_of_broken_files_publishes_nothing_and_keeps_them(hosts: Callable[[str], Host], pg: PgSchema,
                                                                    tmp_path: Path) -> None:
    a, b = hosts("a"), hosts("b")
    edit_by_hand(a, tmp_path)
    knowledge = Path(a.settings.knowledge)
    broken = knowledge.read_bytes() + b"\nentities: [unclosed\n"
    knowledge.write_bytes(broken)
    published = Revisions(b.storage).latest()
    done = kb_command(a, pg, "import")
    assert done.returncode == 1 and "not valid" in done.stderr and knowledge.name in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert knowledge.read_bytes() == broken  # the person's work is still there to fix
    assert Revisions(b.storage).latest() == published
    assert "2031" not in b.ask("when does ballerina come out?")


def test_kb_import_with_sqlite_checks_the_files_and_publishes_nothing(project: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "BOT_CONFIG": str(project)}
    env.pop("BOT_DATABASE", None)
    done = subprocess.run([sys.executable, "-m", "bot", "kb", "import"], check=False, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "The files are valid" in done.stdout, done.stderr
