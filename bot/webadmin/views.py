"""What each page shows, built from the knowledge, the audit log, the inbox and the quiz bank.

Pure functions from the bot's own values to small frozen records the templates read; no web framework here,
so they are tested (and reused) without a server.
"""
from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass

from rapidfuzz import fuzz

from ..admin import fact_revision
from ..answers import Answers
from ..knowledge import KnowledgeBase
from ..nlu import NLU
from ..quiz.bank import FALSE, TRUE, Question
from ..storage import AuditEntry, UnansweredQuestion

MAX_DIFF_LINES = 200
SIMILAR = 85  # rapidfuzz token_set_ratio: two questions the model cannot place ask the same thing at this


def fold(text: str) -> str:
    return " ".join(str(text).casefold().split())


def when(at: float) -> str:
    return dt.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M")


# the knowledge -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FactRow:
    index: int
    relation: str
    label: str
    value: str
    role: str | None
    subject: str
    subject_name: str
    attribution: str
    known: str
    spoiler: bool
    sentence: str
    own: bool  # the entity is the fact's subject (editable from its page)


@dataclass(frozen=True)
class EntityCard:
    id: str
    kind: str
    name: str
    aliases: tuple[str, ...]
    facts: tuple[FactRow, ...]


def fact_rows(kb: KnowledgeBase, entity_id: str) -> tuple[FactRow, ...]:
    index = {id(f): i for i, f in enumerate(kb.facts)}
    rows = []
    for f in kb.all_facts_of(entity_id):
        rel = kb.relations[f.relation]
        rows.append(FactRow(index[id(f)], f.relation, rel.label, kb.value(f), kb.name(f.role) if f.role else None,
                            f.subject, kb.name(f.subject), kb.attribution(f), f.known, f.spoiler, kb.sentence(f),
                            f.subject == entity_id))
    return tuple(rows)


def search(kb: KnowledgeBase, query: str) -> list[EntityCard]:
    """Entities whose names match ``query``, with all their facts; else those with a matching fact, with those."""
    wanted = fold(query)
    cards = []
    for entity in kb.entities.values():
        rows = fact_rows(kb, entity.id)
        names = (entity.id, entity.name, *entity.aliases)
        if wanted and not any(wanted in fold(n) for n in names):
            rows = tuple(r for r in rows if any(wanted in fold(t) for t in (r.value, r.label, r.attribution,
                                                                             r.role or "", r.sentence)))
            if not rows:
                continue
        cards.append(EntityCard(entity.id, entity.kind, entity.name, tuple(entity.aliases), rows))
    return cards


@dataclass(frozen=True)
class RelationForm:
    """What the edit page needs to change one entity's facts of one relation."""

    entity: str
    entity_name: str
    kind: str
    relation: str
    label: str
    literal: bool
    takes_role: bool
    current: tuple[FactRow, ...]
    revision: str  # the facts' fingerprint when the form was opened: a save on changed facts is refused


def relation_form(kb: KnowledgeBase, entity_id: str, relation_id: str) -> RelationForm:
    entity, rel = kb.entities[entity_id], kb.relations[relation_id]
    current = tuple(r for r in fact_rows(kb, entity_id) if r.own and r.relation == relation_id)
    return RelationForm(entity.id, entity.name, entity.kind, rel.id, rel.label, rel.literal, rel.role is not None,
                        current, fact_revision(kb, entity.id, rel.id))


def relations_for(kb: KnowledgeBase, kind: str) -> list[tuple[str, str]]:
    return [(r.id, r.label) for r in kb.relations.values() if kind in r.subject]


# history ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HistoryRow:
    id: int
    when: str
    who: str
    action: str
    target: str
    file: str | None
    diff: tuple[tuple[str, str], ...]  # (css class, line)
    undone: bool
    undoable: bool  # the one change `undo` reverts now


def history_rows(entries: list[AuditEntry], undoable: set[int]) -> list[HistoryRow]:
    rows = []
    for e in entries:
        lines: list[tuple[str, str]] = []
        if e.file and e.before is not None and e.after is not None:
            name = e.file.rsplit("/", 1)[-1]
            for line in difflib.unified_diff(e.before.splitlines(), e.after.splitlines(), name, name, n=1,
                                             lineterm=""):
                css = "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx"
                if line.startswith(("+++", "---", "@@")):
                    css = "hunk"
                lines.append((css, line))
                if len(lines) > MAX_DIFF_LINES:
                    lines.append(("hunk", "… (diff cut short)"))
                    break
        rows.append(HistoryRow(e.id, when(e.at), e.who, e.action, e.target or "", e.file.rsplit("/", 1)[-1]
                               if e.file else None, tuple(lines), e.undone, e.id in undoable))
    return rows


# the unanswered inbox --------------------------------------------------------------------------------
@dataclass(frozen=True)
class InboxGroup:
    """Questions that ask the same thing: one intent about the same entities, or (when the model cannot
    place them) near-identical wording."""

    key: str  # the most asked wording's normalised key: the one taught as a training example
    keys: tuple[str, ...]
    wordings: tuple[tuple[str, int], ...]  # (text, times asked)
    count: int
    last: str
    intent: str | None
    entity: str  # suggested subject (name)
    relation: str | None  # suggested relation


def group_inbox(questions: list[UnansweredQuestion], kb: KnowledgeBase, nlu: NLU, answers: Answers,
                threshold: float) -> list[InboxGroup]:
    groups: list[dict[str, object]] = []
    by_meaning: dict[tuple[str, tuple[str, ...]], dict[str, object]] = {}
    for q in questions:
        parse = nlu.parse(q.text)
        entities = tuple(dict.fromkeys(i for m in parse.mentions if not m.ambiguous for i in m.entity_ids))
        route = answers.routes.get(parse.intent)
        placed = parse.confidence >= threshold and route is not None and route.handler == "facts"
        group = by_meaning.get((parse.intent, entities)) if placed else None
        if group is None and not placed:
            group = next((g for g in groups if g["intent"] is None
                          and fuzz.token_set_ratio(q.normalized, str(g["key"])) >= SIMILAR), None)
        if group is None:
            relation = route.relations[0] if placed and route is not None and route.relations else None
            subject = kb.name(entities[0]) if entities else kb.default_subject.name
            group = {"key": q.normalized, "keys": [], "wordings": [], "count": 0, "last": q.last_at,
                     "intent": parse.intent if placed else None, "entity": subject, "relation": relation}
            groups.append(group)
            if placed:
                by_meaning[(parse.intent, entities)] = group
        group["keys"].append(q.normalized)  # type: ignore[attr-defined]
        group["wordings"].append((q.text, q.count))  # type: ignore[attr-defined]
        group["count"] = int(group["count"]) + q.count  # type: ignore[call-overload]
        group["last"] = max(float(group["last"]), q.last_at)  # type: ignore[arg-type]
    out = [InboxGroup(str(g["key"]), tuple(g["keys"]), tuple(g["wordings"]), int(g["count"]),  # type: ignore[arg-type, call-overload]
                      when(float(g["last"])), g["intent"], str(g["entity"]), g["relation"])  # type: ignore[arg-type]
           for g in groups]
    return sorted(out, key=lambda g: -g.count)


# quiz questions --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuizRow:
    id: str
    kind: str
    difficulty: str
    text: str
    options: tuple[tuple[str, bool], ...]  # (option, is the answer), as a poll shows them
    answer: str
    source: str
    generated: bool
    disabled: bool


def quiz_rows(questions: list[Question], disabled: set[str]) -> list[QuizRow]:
    order = {"easy": 0, "medium": 1, "hard": 2}
    rows = []
    for q in sorted(questions, key=lambda q: (order.get(q.difficulty, 3), q.id)):
        if q.kind == "truefalse":
            options = ((TRUE, q.answer == TRUE), (FALSE, q.answer == FALSE))
        elif q.kind == "choice":
            options = tuple(sorted([(q.answer, True), *((w, False) for w in q.wrong)], key=lambda o: fold(o[0])))
        else:
            options = ()
        rows.append(QuizRow(q.id, q.kind, q.difficulty, q.text, options, q.answer,
                            f"{q.source}, as of {q.known}" if q.source else "", q.id.startswith("gen:"),
                            q.id in disabled))
    return rows
