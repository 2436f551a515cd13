"""Who is an admin, and the knowledge-editing operations both fronts (Telegram, command line) call.

    admin = Admin(settings, storage, reloader=Reloader(brain, settings))   # or brain=..., or neither (CLI)
    actor = Actor.telegram(update.effective_user.id)                       # or Actor.local() for the CLI
    change = admin.set_fact(actor, "Ballerina", "release", "6 June 2025", source="Variety")
    change.message                                                         # "Ballerina: release = ..."

Every operation checks the actor first (``NotAdminError``, the attempt logged and audited, nothing
changes). A change is made under a file lock on a ruamel.yaml round-trip copy, validated by the same
strict loader the bot uses, recorded in the audit table with the whole file before and after (so ``undo``
is byte for byte), written atomically, and swapped into the running Brain at once when there is one.

Crash safety: the audit row is written first, pending, in a transaction; then the file is replaced; then
the row is finished. A process killed anywhere in between leaves a pending row, and the next Admin over
that database (``recover``: at construction, and under the lock before every change or undo) finishes it
if the file on disk is its "after", or drops it if the file is still its "before". So every change on disk
has its row, and no row claims a change that is not there; an undo is written the same way.
Refusals are ``EditError`` with a message meant for the admin. Operations block (file lock, fsync,
maybe retraining): an asyncio front calls them through ``asyncio.to_thread``.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import getpass
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml as pyyaml

from .config import Settings
from .cluster.knowledge import EDIT_LOCK, DataFiles, SharedFiles, edit_lock_dir
from .crashpoints import crash_point
from .errors import BotError, ChangedError, DataFileError, EditError, NotAdminError
from .knowledge import KnowledgeBase
from .knowledge.edit import (RoundTrip, atomic_write, clean_text, flow_map, literal, locked, quoted,
                             remove_item, remove_stale_temporaries)
from .knowledge.phrasing import as_value
from .knowledge.schema import ENTITY_KINDS, KNOWN_DATE, Entity, Fact, KnowledgeFile, Relation
from .storage import AuditDraft, AuditEntry, LockBusy, Storage, UnansweredQuestion
from .yamlio import StrictLoader, validate

if TYPE_CHECKING:
    from .admin_quiz import NewQuestion
    from .dialogue import Brain
    from .live import Reloader
    from .quiz.bank import Question

log = logging.getLogger(__name__)
LOCK_WAIT = 60.0  # seconds to wait for another writer of the same file


# who ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Actor:
    """Who asks for an operation: a Telegram user (by id) or the operator of the machine (always trusted)."""

    who: str
    user_id: int | None = None
    local: bool = False

    @classmethod
    def telegram(cls, user_id: int, username: str | None = None) -> "Actor":
        return cls(f"telegram:{user_id}" + (f" (@{username})" if username else ""), int(user_id))

    @classmethod
    def local_operator(cls) -> "Actor":
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "operator"
        return cls(f"local:{name}", local=True)


def is_admin(settings: Settings, actor: Actor) -> bool:
    """The local operator, or a Telegram user listed in config.yml ``admins`` or BOT_ADMINS."""
    return actor.local or (actor.user_id is not None and actor.user_id in settings.admins)


# what crosses to the fronts -----------------------------------------------------------------------
@dataclass(frozen=True)
class FactView:
    index: int  # position in the knowledge file's facts list
    subject: str
    relation: str
    value: str  # the object as text (an entity's name, or the literal)
    object: str
    role: str | None
    source: str
    attribution: str
    known: str
    sentence: str
    quote: str | None = None
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "subject": self.subject, "relation": self.relation, "value": self.value,
                "object": self.object, "role": self.role, "source": self.source,
                "attribution": self.attribution, "known": self.known, "sentence": self.sentence,
                "quote": self.quote, "note": self.note}


@dataclass(frozen=True)
class EntityView:
    id: str
    kind: str
    name: str
    aliases: tuple[str, ...]
    facts: tuple[FactView, ...]


@dataclass(frozen=True)
class Change:
    """One audited change (or an undo): what to tell the admin."""

    action: str
    target: str
    message: str
    audit_ids: tuple[int, ...] = ()
    files: tuple[str, ...] = ()
    facts: tuple[FactView, ...] = field(default=())
    answer: str = ""  # for a fact change: how the bot answers the question about it now (or would, previewed)
    saved: bool = True  # False for a preview


# the operations -----------------------------------------------------------------------------------
class Admin:
    def __init__(self, settings: Settings, storage: Storage, brain: "Brain | None" = None,
                 reloader: "Reloader | None" = None, clock: Callable[[], float] = time.time,
                 pull: bool = True) -> None:
        """``pull=False``: leave this host's files as they are (``import_files`` publishes them as edited)."""
        if reloader is None and brain is not None:
            from .live import Reloader

            reloader = Reloader(brain, settings)
        self.settings, self.storage, self.reloader, self.clock = settings, storage, reloader, clock
        # Several hosts on one database: each change is also a revision that the others follow, and this
        # host's files are brought up to the latest revision before it edits them (bot/cluster/knowledge.py).
        self.files = DataFiles(settings)
        self.shared = SharedFiles(storage, self.files, self.lock_dir) if storage.shared else None
        self.recover(wait=0.5)  # a busy lock means a live writer, who finishes its own change
        if self.shared is not None and pull:
            # another host editing now? its revision comes with the next pull
            with contextlib.suppress(EditError), self._cluster_lock(0.5):
                self.shared.pull()

    @property
    def knowledge_path(self) -> Path:
        return Path(self.settings.knowledge)

    def is_admin(self, actor: Actor) -> bool:
        return is_admin(self.settings, actor)

    def require(self, actor: Actor, operation: str) -> None:
        if self.is_admin(actor):
            return
        log.warning("refused %s for non-admin %s", operation, actor.who)
        self.storage.record_audit(actor.who, "refused", operation[:500])
        raise NotAdminError("Sorry, only the bot's admins can change or inspect its knowledge.")

    # reading ----------------------------------------------------------------------------------------
    def show(self, actor: Actor, entity: str, relation: str | None = None) -> EntityView:
        """An entity with its facts (as subject, object or role); with ``relation``, only those."""
        self.require(actor, f"show {entity}")
        kb = KnowledgeBase.load(self.knowledge_path)
        ent = resolve_entity(kb, entity)
        facts = kb.all_facts_of(ent.id)
        if relation is not None:
            rel = resolve_relation(kb, relation)
            facts = [f for f in facts if f.relation == rel.id]
        index = {id(f): i for i, f in enumerate(kb.facts)}
        return EntityView(ent.id, ent.kind, ent.name, tuple(ent.aliases),
                          tuple(fact_view(kb, f, index[id(f)]) for f in facts))

    def fact_fingerprint(self, actor: Actor, entity: str, relation: str) -> str:
        """The (entity, relation) facts' fingerprint now, for a later change's ``expect=`` (``fact_revision``):
        a guided edit opened here and saved later is refused if someone changed those facts in between."""
        self.require(actor, f"show {entity}")
        kb = KnowledgeBase.load(self.knowledge_path)
        return fact_revision(kb, resolve_entity(kb, entity).id, resolve_relation(kb, relation).id)

    def relations_for(self, kind: str) -> list[tuple[str, str]]:
        """(id, label) of the relations an entity of this kind can be the subject of, for a guided edit."""
        kb = KnowledgeBase.load(self.knowledge_path)
        return [(r.id, r.label) for r in kb.relations.values() if kind in r.subject]

    def source_names(self) -> list[tuple[str, str]]:
        """(id, who) of the known sources, most recent first, to pick one instead of typing it."""
        kb = KnowledgeBase.load(self.knowledge_path)
        ordered = sorted(kb.sources.values(), key=lambda s: s.known, reverse=True)
        return [(s.id, s.publication or s.attribution) for s in ordered]

    def unanswered(self, actor: Actor, limit: int = 20) -> list[UnansweredQuestion]:
        """Questions the bot could not answer, most frequent first (number N is position N, from 1)."""
        self.require(actor, "unanswered")
        return self.storage.unanswered_questions(limit)

    def history(self, actor: Actor, limit: int = 20) -> list[AuditEntry]:
        self.require(actor, "history")
        self.recover(wait=1.0)
        return self.storage.audit_log(limit)

    # fact changes -----------------------------------------------------------------------------------
    def set_fact(self, actor: Actor, entity: str, relation: str, value: str, source: str,
                 known: str | None = None, role: str | None = None, expect: str | None = None) -> Change:
        """Replace every fact (entity, relation) with one new fact. ``expect``: see ``fact_revision``."""
        self.require(actor, f"set {entity} {relation}")
        return self._fact_change(actor, "set", entity, relation, value, source, known, role, expect=expect)

    def add_fact(self, actor: Actor, entity: str, relation: str, value: str, source: str,
                 known: str | None = None, role: str | None = None, expect: str | None = None) -> Change:
        """Add one fact, keeping the others of that relation."""
        self.require(actor, f"add {entity} {relation}")
        return self._fact_change(actor, "add", entity, relation, value, source, known, role, expect=expect)

    def preview_fact(self, actor: Actor, entity: str, relation: str, value: str, source: str,
                     known: str | None = None, role: str | None = None, replace: bool = True) -> Change:
        """What ``set_fact`` (or, with ``replace=False``, ``add_fact``) would do, checked the same way and
        saved nowhere: the fact's sentence and the answer the bot would give, for the admin to confirm."""
        self.require(actor, f"preview {entity} {relation}")
        return self._fact_change(actor, "set" if replace else "add", entity, relation, value, source, known, role,
                                 refresh=False, replace=replace, dry_run=True)

    def remove_fact(self, actor: Actor, entity: str, relation: str, value: str | None = None,
                    expect: str | None = None) -> Change:
        """Remove the (entity, relation) fact whose value is ``value`` (or the only one, if there is one)."""
        self.require(actor, f"remove {entity} {relation}")
        path = self.knowledge_path
        with self._editing(path):
            doc, kb = self._read_knowledge()
            subject = resolve_entity(kb, entity)
            rel = resolve_relation(kb, relation)
            check_revision(kb, subject.id, rel.id, expect)
            facts = [(i, f) for i, f in enumerate(kb.facts) if f.subject == subject.id and f.relation == rel.id]
            if not facts:
                raise EditError(f"{subject.name} has no {rel.id} fact to remove")
            if value is not None:
                wanted = _fold(value)
                facts = [(i, f) for i, f in facts if wanted in (_fold(f.object), _fold(kb.value(f)))
                         or (not rel.literal and wanted in {_fold(a) for a in kb.entities[f.object].aliases})]
                if not facts:
                    raise EditError(f"{subject.name} has no {rel.id} fact with the value {value!r}")
            if len(facts) > 1:
                values = "; ".join(repr(kb.value(f)) for _, f in facts)
                raise EditError(f"{subject.name} has {len(facts)} {rel.id} facts ({values}): say which value to remove")
            index, fact = facts[0]
            remove_item(doc.data["facts"], index)
            self._commit(actor, "remove", f"{subject.id} {rel.id}", doc, fact.source)
        self._refresh()
        return self._done("remove", f"{subject.id} {rel.id}", f"Removed: {kb.sentence(fact)}.")

    def add_alias(self, actor: Actor, entity: str, alias: str) -> Change:
        self.require(actor, f"alias {entity}")
        text = clean_text(alias, "alias", limit=100, one_line=True)
        path = self.knowledge_path
        with self._editing(path):
            doc, kb = self._read_knowledge()
            ent = resolve_entity(kb, entity)
            if _fold(text) in {_fold(a) for a in (ent.name, ent.id, *ent.aliases)}:
                raise EditError(f"{ent.name} already answers to {text!r}")
            others = [e.id for e in kb.entities.values() if e.id != ent.id
                      and _fold(text) in {_fold(a) for a in (e.name, *e.aliases)}]
            node = _find_by_id(doc.data["entities"], ent.id)
            if "aliases" not in node or node["aliases"] is None:
                from .knowledge.edit import flow_seq

                node["aliases"] = flow_seq([])
            node["aliases"].append(quoted(text))
            self._commit(actor, "alias", ent.id, doc, None, check=lambda new: text in new.entities[ent.id].aliases)
        self._refresh()
        note = f" (also an alias of {', '.join(others)}: questions using it will ask which one)" if others else ""
        return self._done("alias", ent.id, f"{ent.name} now also answers to {text!r}{note}.")

    def add_entity(self, actor: Actor, entity_id: str, kind: str, name: str) -> Change:
        self.require(actor, f"add-entity {entity_id}")
        if kind not in ENTITY_KINDS:
            raise EditError(f"unknown kind {kind!r}; use one of: {', '.join(ENTITY_KINDS)}")
        entity_id = entity_id.strip()
        if not re.fullmatch(r"[a-z0-9][a-z0-9_]{0,59}", entity_id):
            raise EditError(f"{entity_id[:60]!r} is not a valid id: use lowercase letters, digits and underscores")
        text = clean_text(name, "name", limit=200, one_line=True)
        path = self.knowledge_path
        with self._editing(path):
            doc, kb = self._read_knowledge()
            if entity_id in kb.entities:
                raise EditError(f"there is already an entity {entity_id!r} ({kb.entities[entity_id].name})")
            doc.data["entities"].append(_block_map({"id": entity_id, "kind": kind, "name": quoted(text),
                                                     "aliases": _flow_list([quoted(text.lower())])}))
            self._commit(actor, "add-entity", entity_id, doc, None, check=lambda new: entity_id in new.entities)
        self._refresh()
        return self._done("add-entity", entity_id, f"Added the {kind} {text} ({entity_id}).")

    def add_example(self, actor: Actor, intent: str, text: str) -> Change:
        """Append a training example to the intents file that has ``intent`` (the model retrains)."""
        self.require(actor, f"example {intent}")
        change = self._add_example(actor, "example", intent, text, at=self.clock())
        self._refresh()
        return change

    def answer(self, actor: Actor, number: int, entity: str, relation: str, value: str, source: str,
               known: str | None = None, intent: str | None = None, replace: bool = True,
               key: str | None = None, also: tuple[str, ...] = ()) -> Change:
        """Answer unanswered question ``number`` (from ``unanswered``): set (or add) the fact, and teach
        the question as an example of the intent that asks for it. Undone in one step. ``key`` (its
        normalised key) names it instead of a number that shifts as questions come in; ``also``: keys of
        other questions the same fact answers (a group asking the same thing), marked answered too."""
        self.require(actor, f"answer {number if key is None else key}"[:500])
        questions = self.storage.unanswered_questions(max(number, 1) + 50)
        if key is not None:
            keyed = [q for q in self.storage.unanswered_questions(100_000) if q.normalized == key]
            if not keyed:
                raise EditError("that question has already been answered or dismissed")
            questions, number = keyed, 1
        if not 1 <= number <= len(questions):
            raise EditError(f"there is no unanswered question number {number} (there are {len(questions)})")
        question = questions[number - 1]
        kb = KnowledgeBase.load(self.knowledge_path)
        rel = resolve_relation(kb, relation)
        intent = intent or self._intent_for(rel.id)
        at = self.clock()
        fact_change = self._fact_change(actor, "answer", entity, rel.id, value, source, known, None,
                                        at=at, refresh=False, replace=replace)
        try:
            example = self._add_example(actor, "answer", intent, question.text, at=at)
        except EditError as exc:
            if "already" not in str(exc):
                raise
            example = Change("answer", intent, "")
        for normalized in (question.normalized, *also):
            self.storage.mark_answered(normalized)
        self._refresh()
        message = f"{fact_change.message} \"{question.text}\" is now an example of {intent}."
        return Change("answer", fact_change.target, message, fact_change.audit_ids + example.audit_ids,
                      fact_change.files + example.files, fact_change.facts)

    def dismiss(self, actor: Actor, keys: list[str]) -> Change:
        """Take unanswered questions (by normalised key) off the inbox without answering them."""
        self.require(actor, "dismiss")
        keys = [k for k in dict.fromkeys(keys) if k]
        if not keys:
            raise EditError("no question to dismiss")
        for key in keys:
            self.storage.mark_answered(key)
        audit_id = self.storage.record_audit(actor.who, "dismiss", "; ".join(keys)[:500])
        plural = "s" if len(keys) > 1 else ""
        return Change("dismiss", keys[0], f"Dismissed {len(keys)} question{plural}.", (audit_id,))

    def quiz_questions(self, actor: Actor) -> tuple[list[Question], set[str]]:
        """Every question the quiz can ask (generated and hand-written, as asked) and the disabled ids."""
        from .admin_quiz import all_questions, parse_quiz

        from .quiz.schema import QuizFile

        self.require(actor, "quiz questions")
        kb = KnowledgeBase.load(self.knowledge_path)
        quiz = parse_quiz(self.quiz_path, self.quiz_path.read_bytes()) if self.quiz_path.exists() else QuizFile()
        return all_questions(kb, quiz), set(quiz.disabled)

    def disable_question(self, actor: Actor, question_id: str, disabled: bool = True) -> Change:
        """Never ask this quiz question again (or, with ``disabled=False``, ask it again)."""
        from .admin_quiz import check_quiz, set_disabled

        action = "quiz-disable" if disabled else "quiz-enable"
        self.require(actor, f"{action} {question_id}"[:500])
        with self._editing(self.quiz_path):
            doc = RoundTrip.read(self.quiz_path)
            kb = KnowledgeBase.load(self.knowledge_path)
            text = set_disabled(doc, kb, question_id, disabled)
            self._commit_file(actor, action, question_id, doc, lambda after: check_quiz(doc.path, after, kb))
        self._refresh()
        verb = "Switched off" if disabled else "Switched on again"
        return Change(action, question_id, f"{verb}: {text}", files=(str(self.quiz_path),))

    def add_question(self, actor: Actor, question: "NewQuestion") -> Change:
        """Add a hand-written quiz question resting on a fact of the knowledge."""
        from .admin_quiz import add_question, check_quiz

        self.require(actor, "quiz-add")
        with self._editing(self.quiz_path):
            doc = RoundTrip.read(self.quiz_path)
            kb = KnowledgeBase.load(self.knowledge_path)
            question_id = add_question(doc, kb, question)
            self._commit_file(actor, "quiz-add", question_id, doc,
                              lambda after: check_quiz(doc.path, after, kb, must_have=question_id))
        self._refresh()
        return Change("quiz-add", question_id, f"Added the quiz question {question.question.strip()!r}.",
                      files=(str(self.quiz_path),))

    # import ---------------------------------------------------------------------------------------
    def import_files(self, actor: Actor, config: Path | str | None = None) -> Change:
        """Publish this host's data files as they are on disk (edited by hand) as one change: checked like
        ``python -m bot check`` (``config``: the config file to check the folder of), audited, followed by
        every worker, undone by ``undo`` (which restores each file's previous revision). Only files that
        differ from their latest revision are published; a file that never had one has no earlier shared
        version, so its row's "before" is the file as it is (undo leaves it as imported).

        With SQLite the files are the knowledge already: they are checked, nothing is published. An Admin
        for an import is built with ``pull=False``, since pulling first would overwrite the hand edits."""
        from .validation import check_folder

        self.require(actor, "import")
        paths = self.files.paths()
        with self._cluster_lock(LOCK_WAIT), locked(*paths, lock_dir=self.lock_dir):
            for path in paths:
                self._settle(path)
            errors = [p for p in check_folder(config) if p.severity == "error"]
            if errors:
                raise EditError("the files are not valid, so nothing was published:\n"
                                + "\n".join(str(p) for p in errors))
            if self.shared is None:
                return Change("import", "files", "The files are valid. With SQLite they are the knowledge "
                              "itself: a running bot picks up their changes within a second, nothing to publish.")
            published = self.shared.revisions.published()
            at = self.clock()
            drafts = []
            for path in paths:
                name = self.files.name_of(path)
                now = path.read_bytes().decode("utf-8")
                before = published.get(name) if name else None
                if name is None or before == now:
                    continue
                drafts.append(AuditDraft(actor.who, "import", name, str(path), now if before is None else before,
                                         now, None, at=at))
            if not drafts:
                raise EditError("nothing to import: the files are what every worker already has")
            ids = self._write_audited(drafts)
        self._refresh()
        names = ", ".join(d.target or "" for d in drafts)
        return Change("import", names, f"Published {len(drafts)} file{'s' * (len(drafts) != 1)} to every worker: "
                      f"{names} (change #{ids[0]}; `kb undo` reverts it).", tuple(ids), tuple(d.file for d in drafts))

    # undo and reload --------------------------------------------------------------------------------
    def undo(self, actor: Actor) -> Change:
        """Restore the files of the latest change not yet undone, exactly as they were before it."""
        self.require(actor, "undo")
        self.recover()  # a change a crash left pending is the latest one, or never happened
        entries = self.storage.last_undoable()
        if not entries:
            raise EditError("there is nothing to undo")
        local = {e.id: self._local_file(e) for e in entries if e.file}
        paths = list(local.values())
        with self._editing(*paths):
            current = self.storage.last_undoable()
            if [e.id for e in current] != [e.id for e in entries]:
                raise EditError("another change was just made; look at the history and undo again")
            for entry in entries:
                path = local[entry.id]
                now = path.read_bytes().decode("utf-8") if path.exists() else None
                if now != entry.after:
                    raise EditError(f"{path.name} was changed outside the bot since change #{entry.id}; "
                                    "undo it by hand")
            at = self.clock()
            drafts = [AuditDraft(actor.who, "undo", f"#{e.id} {e.action} {e.target}", str(local[e.id]),
                                 e.after or "", e.before or "", e.source, at=at, undoes=e.id) for e in entries]
            ids = self._write_audited(drafts)
        self._refresh()
        first = entries[-1]
        return Change("undo", f"#{first.id}", f"Undid change #{first.id} ({first.action} {first.target}).",
                      tuple(ids), tuple(str(p) for p in paths))

    def reload(self, actor: Actor) -> str:
        self.require(actor, "reload")
        if self.reloader is None:
            return "Nothing to reload here: a running bot picks up changes to the files within a second."
        try:
            self.reloader.reload(force=True, raise_errors=True)
        except BotError as exc:
            raise EditError(f"the files do not load, so the bot keeps the previous knowledge: {exc}") from exc
        return "Reloaded the knowledge and intents."

    def recover(self, wait: float = LOCK_WAIT) -> int:
        """Finish or drop the audit rows a killed edit left pending (see the module's docstring); the
        number settled. A file whose lock is busy for ``wait`` seconds is left to its live writer."""
        settled = 0
        try:
            with self._cluster_lock(wait):
                for file in dict.fromkeys(str(e.file) for e in self.storage.pending_audit() if e.file):
                    if self.shared is not None and self.files.name_of(file) is None:
                        continue  # another host's file: that host settles it when its bot starts again
                    try:
                        with locked(Path(file), lock_dir=self.lock_dir, timeout=wait):
                            settled += self._settle(Path(file))
                    except EditError:
                        log.info("%s is being edited; its writer finishes its own change", file)
        except EditError:
            log.info("the knowledge is being edited on another worker; its writer finishes its own change")
        return settled

    def _cluster_lock(self, wait: float) -> contextlib.AbstractContextManager[None]:
        """The lock every editor of a shared database holds for a whole edit (nothing more with SQLite)."""
        return _edit_lock(self.storage, wait)

    def _local_file(self, entry: AuditEntry) -> Path:
        """Where this host keeps the file of an audited change (made here, or on another host)."""
        if self.shared is not None:
            name = self.shared.revisions.name_for_audit(entry.id)
            path = self.files.path_of(name) if name else None
            if path is not None:
                return path
        return Path(str(entry.file))

    def _revision_names(self, ids: list[int], files: list[str]) -> dict[int, str]:
        """The shared names of these rows' files, to record them as a revision (none with SQLite)."""
        if self.shared is None:
            return {}
        return {i: name for i, f in zip(ids, files) if (name := self.files.name_of(f)) is not None}

    @property
    def lock_dir(self) -> Path:
        """Edit locks live with the cache, not in the user's knowledge folder."""
        return edit_lock_dir(self.settings)

    # internals --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _editing(self, *paths: Path) -> Iterator[None]:
        """The files' locks, with any change a crash left half done on them settled first."""
        with self._cluster_lock(LOCK_WAIT):
            if self.shared is not None:
                self.shared.pull()  # edit the latest revision, never a stale copy (no lost update)
            with locked(*paths, lock_dir=self.lock_dir):
                for path in paths:
                    self._settle(path)
                yield

    def _settle(self, path: Path) -> int:
        """With ``path``'s lock held: settle its pending rows by what is on disk, clear stale temporaries."""
        pending = [e for e in self.storage.pending_audit() if e.file and Path(e.file).resolve() == path.resolve()]
        if not pending:
            return 0
        remove_stale_temporaries(path)
        now = path.read_bytes() if path.exists() else None
        for entry in pending:
            if now is not None and now == (entry.after or "").encode("utf-8"):
                self.storage.finish_audit([entry.id], self._revision_names([entry.id], [str(path)]))
                log.warning("finished change #%d (%s %s): its file was written before a crash", entry.id,
                            entry.action, entry.target)
            else:
                self.storage.drop_audit([entry.id])
                how = "never written" if now == (entry.before or "").encode("utf-8") else "changed since"
                log.warning("dropped change #%d (%s %s): its file was %s before a crash", entry.id,
                            entry.action, entry.target, how)
        return len(pending)

    def _write_audited(self, drafts: list[AuditDraft]) -> list[int]:
        """Audit rows first (pending, one transaction), then the files, then the rows finished. With the
        files' locks held; the crash points are where tests/test_admin_crash.py kills the process."""
        ids = self.storage.begin_audit(drafts)
        crash_point("audit-written")
        try:
            for draft in drafts:
                atomic_write(Path(draft.file), draft.after.encode("utf-8"))
                crash_point("file-replaced")
        except BaseException:  # a full disk, say: what reached the disk is finished, the rest dropped
            for draft in drafts:
                self._settle(Path(draft.file))
            raise
        self.storage.finish_audit(ids, self._revision_names(ids, [d.file for d in drafts]))
        crash_point("audit-finished")
        return ids

    def _read_knowledge(self) -> tuple[RoundTrip, KnowledgeBase]:
        doc = RoundTrip.read(self.knowledge_path)
        return doc, parse_knowledge(self.knowledge_path, doc.raw)

    def _fact_change(self, actor: Actor, action: str, entity: str, relation: str, value: str, source: str,
                     known: str | None, role: str | None, at: float | None = None, refresh: bool = True,
                     replace: bool | None = None, dry_run: bool = False, expect: str | None = None) -> Change:
        replace = (action == "set") if replace is None else replace
        known = check_known(known) if known else self._today()
        source_text = clean_text(source, "source", limit=200, one_line=True)
        path = self.knowledge_path
        with self._editing(path):
            doc, kb = self._read_knowledge()
            subject = resolve_entity(kb, entity)
            rel = resolve_relation(kb, relation)
            check_revision(kb, subject.id, rel.id, expect)
            if subject.kind not in rel.subject:
                raise EditError(f"{subject.name} is a {subject.kind}; {rel.id!r} is about a {' or '.join(rel.subject)}")
            created = None
            if rel.literal:  # "in June 2025" where the phrase says "in {object}" is stored as "June 2025"
                obj = as_value(rel.phrase, clean_text(value, "value"))
            else:
                obj, created = self._object_entity(doc, kb, rel, value)
            role_id = None
            if role:
                if rel.role is None:
                    raise EditError(f"{rel.id!r} takes no role")
                role_id = resolve_entity(kb, role, kinds=list(rel.role)).id
            source_id = self._ensure_source(doc, kb, source_text, known)
            item: dict[str, Any] = {"subject": subject.id, "relation": rel.id,
                                    "object": quoted(obj) if rel.literal else obj}
            if role_id:
                item["role"] = role_id
            item.update(source=source_id, known=quoted(known))
            facts = doc.data["facts"]
            same = [i for i, f in enumerate(kb.facts) if f.subject == subject.id and f.relation == rel.id]
            if replace and same:
                node = facts[same[0]]
                for key in [k for k in node if k not in item]:
                    del node[key]
                for key, val in item.items():
                    node[key] = val
                for index in reversed(same[1:]):
                    remove_item(facts, index)
            else:
                mine = [i for i, f in enumerate(kb.facts) if f.subject == subject.id]
                position = (same or mine or [len(facts) - 1])[-1] + 1
                facts.insert(position, flow_map(item))

            def check(new: KnowledgeBase) -> bool:
                return any(f.object == obj and f.source == source_id for f in new.facts_about(subject.id, rel.id))

            target = f"{subject.id} {rel.id}"
            if dry_run:
                new_kb, audit_ids = self._validated(doc, check)[1], ()
            else:
                audit_id, new_kb = self._commit(actor, action, target, doc, source_id, check=check, at=at)
                audit_ids = (audit_id,)
        if refresh and not dry_run:
            self._refresh(new_kb)
        index = {id(f): i for i, f in enumerate(new_kb.facts)}
        views = tuple(fact_view(new_kb, f, index[id(f)]) for f in new_kb.facts_about(subject.id, rel.id))
        shown = views[0].sentence if len(views) == 1 else "; ".join(v.sentence for v in views)
        verb = ("Would set" if replace else "Would add") if dry_run else ("Set" if replace else "Added")
        message = f"{verb}: {shown} ({new_kb.sources[source_id].attribution}, as of {known})."
        if created:
            message += f" New {new_kb.entities[created].kind} {new_kb.entities[created].name!r} ({created}) " + \
                       ("would be created." if dry_run else "created.")
        answer = self._answer_preview(new_kb, subject.id, rel.id)
        if answer:
            message += f"\n{'The bot would answer' if dry_run else 'The bot now answers'}: {answer}"
        if dry_run:
            message += "\nNothing was saved."
        return Change(action, target, message, audit_ids, () if dry_run else (str(path),), views, answer,
                      saved=not dry_run)

    def _object_entity(self, doc: RoundTrip, kb: KnowledgeBase, rel: Relation, value: str) -> tuple[str, str | None]:
        """The entity ``value`` names (id, name or alias); an unknown name becomes a new entity of the first
        kind the relation takes, unless it looks like a typo of an existing one."""
        kinds = list(rel.object)
        if find_entities(kb, value):
            return resolve_entity(kb, value, kinds=kinds).id, None
        name = clean_text(value, "value", limit=200, one_line=True)
        candidates = {_fold(a): e.id for e in kb.entities.values() if e.kind in kinds for a in (e.name, *e.aliases)}
        close = difflib.get_close_matches(_fold(name), list(candidates), n=3, cutoff=0.85)
        if close:
            ids = ", ".join(sorted({candidates[c] for c in close}))
            raise EditError(f"there is no {' or '.join(kinds)} {name[:80]!r}; did you mean {ids}? "
                            "(to create a new one, run kb add-entity first)")
        base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40].strip("_") or kinds[0]
        entity_id, n = base, 2
        while entity_id in kb.entities:
            entity_id, n = f"{base}_{n}", n + 1
        doc.data["entities"].append(_block_map({"id": entity_id, "kind": kinds[0], "name": quoted(name),
                                                 "aliases": _flow_list([quoted(_fold(name))])}))
        return entity_id, entity_id

    def _ensure_source(self, doc: RoundTrip, kb: KnowledgeBase, text: str, known: str) -> str:
        """The id of the source ``text`` names: an existing id, or a new source "according to TEXT"."""
        if text in kb.sources:
            return text
        attribution = f"according to {text}"
        for source in kb.sources.values():
            if source.attribution == attribution:
                return source.id
        base = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40].strip("_") or "source"
        if not base[0].isalnum():
            base = "source_" + base
        source_id, n = base, 2
        while source_id in kb.sources:
            source_id, n = f"{base}_{n}", n + 1
        doc.data["sources"].append(_block_map({"id": source_id, "attribution": quoted(attribution),
                                               "known": quoted(known)}))
        return source_id

    def _commit(self, actor: Actor, action: str, target: str, doc: RoundTrip, source: str | None,
                check: Callable[[KnowledgeBase], bool] | None = None,
                at: float | None = None) -> tuple[int, KnowledgeBase]:
        """Validate the edited document with the bot's own loader, audit it and write it atomically.
        Called with the file lock held."""
        after, new_kb = self._validated(doc, check)
        [audit_id] = self._write_audited([AuditDraft(actor.who, action, target, str(doc.path), doc.raw.decode("utf-8"),
                                                     after.decode("utf-8"), source, at=at)])
        log.info("%s: %s %s (audit #%d)", actor.who, action, target, audit_id)
        return audit_id, new_kb

    @staticmethod
    def _validated(doc: RoundTrip, check: Callable[[KnowledgeBase], bool] | None) -> tuple[bytes, KnowledgeBase]:
        """The edited document's bytes and knowledge, as the bot's own loader reads them; refused if invalid."""
        after = doc.dump()
        if after == doc.raw:
            raise EditError("that changes nothing")
        try:
            new_kb = parse_knowledge(doc.path, after)
        except DataFileError as exc:
            raise EditError(f"the change was refused because the knowledge would be invalid: {exc.reason}") from exc
        if check is not None and not check(new_kb):
            raise EditError("the change did not read back as written; nothing was saved")
        return after, new_kb

    def _answer_preview(self, kb: KnowledgeBase, subject: str, relation: str) -> str:
        """The answer to the question about (subject, relation), through the intent's own template, as the
        facts handler fills it (first variant, so the admin sees the same text each time)."""
        from .answers import Answers, join_list

        try:
            answers = Answers.load(self.settings.answers_path)
        except BotError:
            return ""
        facts = kb.facts_about(subject, relation)
        for intent, route in answers.routes.items():
            if route.handler != "facts" or route.given != "subject" or route.want != "object" \
                    or relation not in route.relations or route.verbs or not facts:
                continue
            response = f"utter_{intent}_{relation}" if answers.has(f"utter_{intent}_{relation}") else f"utter_{intent}"
            if not answers.has(response):
                continue
            first = facts[0]
            answer = join_list(list(dict.fromkeys(route.item.format(name=kb.value(f), as_role=kb.as_role(f), verb="")
                                                  for f in facts)))
            when = answer
            if kb.relations[relation].dated:  # worded in its tense against today, as the facts handler does
                from .knowledge.dates import when_of

                tense, when = when_of(first.object, first.known, dt.date.fromtimestamp(self.clock()))
                if answers.has(f"{response}_{tense}"):
                    response = f"{response}_{tense}"
            entity = kb.entities[subject]
            return answers.render(response, _FirstChoice(), title=kb.title, subject=entity.name, answer=answer, when=when,
                                  film=entity.name, according_to=kb.attribution(first), known=first.known,
                                  note=first.note or "", label=kb.relations[relation].label, answer_clause=answer,
                                  note_or_description=first.note or answer, pronoun=entity.pronoun or "they")
        return ""

    @property
    def quiz_path(self) -> Path:
        return Path(self.settings.quiz_file)

    def _commit_file(self, actor: Actor, action: str, target: str, doc: RoundTrip,
                     check: Callable[[bytes], object]) -> int:
        """Validate and write, audited and crash-safe, an edited data file other than the knowledge (lock held)."""
        after = doc.dump()
        if after == doc.raw:
            raise EditError("that changes nothing")
        check(after)
        [audit_id] = self._write_audited([AuditDraft(actor.who, action, target[:500], str(doc.path),
                                                     doc.raw.decode("utf-8"), after.decode("utf-8"), None,
                                                     at=self.clock())])
        log.info("%s: %s %s (audit #%d)", actor.who, action, target, audit_id)
        return audit_id

    def _add_example(self, actor: Actor, action: str, intent: str, text: str, at: float) -> Change:
        from .nlu.data import load_training_data, nlu_files, parse_examples, strip_markup

        example = clean_text(text, "example", limit=300, one_line=True)
        intents_dir = Path(self.settings.intents)
        for path in nlu_files(intents_dir):
            with self._editing(path):
                doc = RoundTrip.read(path)
                items = [i for i in (doc.data.get("nlu") or []) if isinstance(i, dict) and i.get("intent") == intent]
                if not items:
                    continue
                item = items[0]
                existing = str(item.get("examples") or "")
                if _fold(strip_markup(example)) in {_fold(strip_markup(e)) for e in parse_examples(existing)}:
                    raise EditError(f"{example!r} is already an example of {intent}")
                block = existing if existing.endswith("\n") or not existing else existing + "\n"
                item["examples"] = literal(f"{block}- {example}\n")
                after = doc.dump()
                try:
                    _check_nlu(path, after, intents_dir, intent, example, load_training_data)
                except DataFileError as exc:
                    raise EditError(f"the example was refused: {exc.reason}") from exc
                [audit_id] = self._write_audited([AuditDraft(actor.who, action, f"{intent}: {example}"[:500], str(path),
                                                             doc.raw.decode("utf-8"), after.decode("utf-8"), None,
                                                             at=at)])
            return Change(action, intent, f"Added {example!r} as an example of {intent}; the model retrains.",
                          (audit_id,), (str(path),))
        known = sorted({i for _, i in load_training_data(intents_dir).examples})
        close = difflib.get_close_matches(intent, known, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else f" Known intents: {', '.join(known)}."
        raise EditError(f"there is no intent {intent!r}.{hint}")

    def _intent_for(self, relation: str) -> str:
        from .answers import Answers

        routes = Answers.load(self.settings.answers_path).routes
        for name, route in routes.items():
            if route.handler == "facts" and route.given == "subject" and relation in route.relations:
                return name
        raise EditError(f"no intent asks for {relation!r}; name one with --intent")

    def _today(self) -> str:
        return dt.datetime.fromtimestamp(self.clock()).date().isoformat()

    def _refresh(self, kb: KnowledgeBase | None = None) -> None:
        if self.reloader is None:
            return
        try:
            self.reloader.reload(force=True, kb=kb)
        except Exception:  # the file is saved; the watcher will retry, and the old mind keeps answering
            log.exception("reloading after an admin change failed")

    @staticmethod
    def _done(action: str, target: str, message: str) -> Change:
        return Change(action, target, message)


# helpers ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _edit_lock(storage: Storage, wait: float) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(storage.held_lock(EDIT_LOCK, wait))
        except LockBusy as exc:
            raise EditError("the knowledge is being edited on another worker; try again in a moment") from exc
        yield


class _FirstChoice:
    """A random source that always picks the first variant (a preview must not change at each look)."""

    def choice(self, seq: Any) -> Any:
        return seq[0]


def parse_knowledge(path: Path, raw: bytes) -> KnowledgeBase:
    """Validate the bytes of a knowledge file exactly as ``KnowledgeBase.load`` would read them."""
    try:
        text = raw.decode("utf-8")
        node, data = _compose_and_load(text)
    except UnicodeDecodeError as exc:
        raise DataFileError(str(path), f"not UTF-8 text ({exc.reason})") from exc
    except pyyaml.YAMLError as exc:
        raise DataFileError(str(path), f"invalid YAML: {exc}") from exc
    if data is None:
        raise DataFileError(str(path), "file is empty")
    kb = KnowledgeBase(validate(KnowledgeFile, data, path, node), path.parent, path)
    kb.passages  # noqa: B018 - documents must exist, as at load time
    return kb


def _compose_and_load(text: str) -> tuple[Any, Any]:
    """Parse once, keeping the node tree (for error lines) and the data built from it."""
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def _check_nlu(path: Path, after: bytes, intents_dir: Path, intent: str, example: str, loader: Any) -> None:
    """The new intents file must parse with the project's loader and contain the example as typed."""
    from .nlu.data import NluFile, parse_examples

    text = after.decode("utf-8")
    try:
        node, data = _compose_and_load(text)
    except pyyaml.YAMLError as exc:
        raise DataFileError(str(path), f"invalid YAML: {exc}") from exc
    parsed = validate(NluFile, data, path, node)
    for item in parsed.nlu:
        if item.intent == intent and example in parse_examples(item.examples):
            return
    raise DataFileError(str(path), "the example did not read back as written")


def fact_revision(kb: KnowledgeBase, subject: str, relation: str) -> str:
    """A fingerprint of the (subject, relation) facts. A form carries the one it was opened with; an
    edit given ``expect=`` is refused if the facts changed since, instead of overwriting the other edit."""
    facts = [f.model_dump(mode="json") for f in kb.facts_about(subject, relation)]
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def check_revision(kb: KnowledgeBase, subject: str, relation: str, expect: str | None) -> None:
    if expect is not None and fact_revision(kb, subject, relation) != expect:
        raise ChangedError(f"{kb.name(subject)} · {relation} was changed since you opened it (by someone else, "
                           "or in another window); nothing was saved. Look at the values now, then save again.")


def fact_view(kb: KnowledgeBase, fact: Fact, index: int) -> FactView:
    return FactView(index, fact.subject, fact.relation, kb.value(fact), fact.object, fact.role, fact.source,
                    kb.attribution(fact), fact.known, kb.sentence(fact), fact.quote, fact.note)


def _fold(text: str) -> str:
    return " ".join(str(text).casefold().split())


def find_entities(kb: KnowledgeBase, ref: str) -> list[Entity]:
    """Entities whose id (exactly), or id, name or alias (ignoring case and spacing) is ``ref``."""
    if ref.strip() in kb.entities:
        return [kb.entities[ref.strip()]]
    text = _fold(ref)
    return [e for e in kb.entities.values() if text and text in {_fold(e.id), _fold(e.name), *map(_fold, e.aliases)}]


def resolve_entity(kb: KnowledgeBase, ref: str, kinds: list[str] | None = None) -> Entity:
    """An entity by id, name or alias (case-insensitive); ``kinds`` narrows an ambiguous alias."""
    text = _fold(ref)
    if not text:
        raise EditError("no entity named")
    found = find_entities(kb, ref)
    if kinds is not None:
        fitting = [e for e in found if e.kind in kinds]
        if found and not fitting:
            raise EditError(f"{found[0].name} is a {found[0].kind}; here a {' or '.join(kinds)} is needed")
        found = fitting
    if len(found) == 1:
        return found[0]
    if found:
        options = ", ".join(f"{e.id} ({e.kind})" for e in found)
        raise EditError(f"{ref.strip()[:80]!r} could mean {options}: use the id")
    names = {_fold(e.name): e.id for e in kb.entities.values()} | {e.id: e.id for e in kb.entities.values()}
    close = difflib.get_close_matches(text, list(names), n=3, cutoff=0.7)
    hint = f" Did you mean {', '.join(sorted({names[c] for c in close}))}?" if close else ""
    return _raise(f"there is no entity {ref.strip()[:80]!r}.{hint} (kb add-entity creates one)")


def resolve_relation(kb: KnowledgeBase, ref: str) -> Relation:
    text = _fold(ref)
    for rel in kb.relations.values():
        if text in (rel.id, _fold(rel.label), rel.id.replace("_", " ")):
            return rel
    return _raise(f"there is no relation {ref.strip()[:80]!r}; known: {', '.join(sorted(kb.relations))}")


def check_known(value: str) -> str:
    text = str(value).strip()
    if not KNOWN_DATE.match(text):
        raise EditError(f"{text[:40]!r} is not a date like 2025, 2025-06 or 2025-06-06")
    try:
        dt.date.fromisoformat(text + "-01" * (2 - text.count("-")))
    except ValueError as exc:
        raise EditError(f"{text!r} is not a real date") from exc
    return text


def _raise(message: str) -> Any:
    raise EditError(message)


def _find_by_id(seq: Any, item_id: str) -> Any:
    for node in seq:
        if isinstance(node, dict) and node.get("id") == item_id:
            return node
    raise EditError(f"{item_id!r} is not in the file")  # the validated view and the document disagree


def _block_map(items: dict[str, Any]) -> Any:
    from ruamel.yaml.comments import CommentedMap

    return CommentedMap(items)


def _flow_list(items: list[Any]) -> Any:
    from .knowledge.edit import flow_seq

    return flow_seq(items)
