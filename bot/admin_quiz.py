"""Quiz question edits that bot/admin.py makes: switch a question off (or on again), add a hand-written one.

knowledge/quiz.yml is edited like the knowledge: a ruamel.yaml round trip (comments and layout kept), every
typed value a double-quoted scalar, then the new text is checked with the quiz's own schema and by building
the question bank on the current knowledge. A question whose fact is not in the knowledge would never be
asked, so it is refused with that reason before anything is written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml as pyyaml

from .errors import DataFileError, EditError
from .knowledge import KnowledgeBase
from .knowledge.edit import RoundTrip, clean_text, flow_map, flow_seq, quoted
from .quiz.bank import Question, build_bank
from .quiz.schema import DIFFICULTIES, QuizFile
from .yamlio import StrictLoader, validate

KINDS = ("choice", "truefalse", "free")
MAX_WRONG = 6


@dataclass(frozen=True)
class NewQuestion:
    """A hand-written question as an admin types it: names, aliases or ids for entities, or plain text."""

    kind: str
    difficulty: str
    question: str
    answer: str
    subject: str
    relation: str
    object: str = ""
    wrong: tuple[str, ...] = ()
    explanation: str = ""


def parse_quiz(path: Path, raw: bytes) -> QuizFile:
    """The bytes of a quiz file validated as the bot reads it (strict YAML, then the schema)."""
    try:
        loader = StrictLoader(raw.decode("utf-8"))
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else {}
        finally:
            loader.dispose()
    except (UnicodeDecodeError, pyyaml.YAMLError) as exc:
        raise DataFileError(str(path), f"invalid YAML: {exc}") from exc
    return validate(QuizFile, data, path, node)


def all_questions(kb: KnowledgeBase, quiz: QuizFile) -> list[Question]:
    """Every question the bank can ask, disabled ones included (the admin page shows and re-enables them)."""
    return list(build_bank(kb, quiz.model_copy(update={"disabled": []})).questions)


def set_disabled(doc: RoundTrip, kb: KnowledgeBase, question_id: str, disabled: bool) -> str:
    """Add ``question_id`` to (or take it off) the file's ``disabled`` list; the question's text, for messages."""
    quiz = parse_quiz(doc.path, doc.raw)
    known = {q.id: q for q in all_questions(kb, quiz)}
    if question_id not in known and not (not disabled and question_id in quiz.disabled):
        raise EditError(f"there is no quiz question {question_id[:80]!r} (it may have changed with its fact)")
    listed = doc.data.get("disabled")
    if listed is None:
        listed = doc.data["disabled"] = flow_seq([])
    if disabled:
        if question_id in quiz.disabled:
            raise EditError("that question is already switched off")
        listed.append(quoted(question_id))
    else:
        if question_id not in quiz.disabled:
            raise EditError("that question is not switched off")
        for i in reversed([i for i, item in enumerate(listed) if str(item) == question_id]):
            del listed[i]
    question = known.get(question_id)
    return question.text if question else question_id


def add_question(doc: RoundTrip, kb: KnowledgeBase, new: NewQuestion) -> str:
    """Append ``new`` as a hand-written question; its id (``hw:`` + the id in the file)."""
    from .admin import find_entities, resolve_entity, resolve_relation

    if new.kind not in KINDS:
        raise EditError(f"the kind must be one of {', '.join(KINDS)}")
    if new.difficulty not in DIFFICULTIES:
        raise EditError(f"the difficulty must be one of {', '.join(DIFFICULTIES)}")
    text = clean_text(new.question, "question", limit=300, one_line=True)
    subject = resolve_entity(kb, new.subject)
    rel = resolve_relation(kb, new.relation)

    def as_value(value: str, what: str) -> str:
        value = clean_text(value, what, limit=200, one_line=True)
        found = find_entities(kb, value)
        return found[0].id if len(found) == 1 else value

    if new.kind == "truefalse":
        answer = new.answer.strip().lower()
        if answer not in ("true", "false"):
            raise EditError("a true/false question's answer is true or false")
    else:
        answer = as_value(new.answer, "answer")
    wrong = [as_value(w, "wrong option") for w in new.wrong if w.strip()]
    if len(wrong) > MAX_WRONG:
        raise EditError(f"give at most {MAX_WRONG} wrong options")
    if new.kind == "choice" and answer in wrong:
        raise EditError("the answer is also among the wrong options")
    fact: dict[str, object] = {"subject": subject.id, "relation": rel.id}
    if new.object.strip():
        fact["object"] = quoted(as_value(new.object, "fact's value"))
    quiz = parse_quiz(doc.path, doc.raw)
    base = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40].strip("_") or "question"
    taken = {q.id for q in quiz.questions}
    qid, n = base, 2
    while qid in taken:
        qid, n = f"{base}_{n}", n + 1
    item: dict[str, object] = {"id": qid, "difficulty": new.difficulty, "kind": new.kind,
                               "question": quoted(text), "answer": quoted(answer)}
    if wrong:
        item["wrong"] = flow_seq([quoted(w) for w in wrong])
    item["fact"] = flow_map(fact)
    if new.explanation.strip():
        item["explanation"] = quoted(clean_text(new.explanation, "explanation", limit=300, one_line=True))
    from ruamel.yaml.comments import CommentedMap

    if doc.data.get("questions") is None:
        doc.data["questions"] = []
    doc.data["questions"].append(CommentedMap(item))
    return f"hw:{qid}"


def check_quiz(path: Path, after: bytes, kb: KnowledgeBase, must_have: str | None = None) -> QuizFile:
    """The edited quiz file must load and build a bank on the current knowledge (with ``must_have`` in it)."""
    try:
        quiz = parse_quiz(path, after)
        questions = {q.id for q in all_questions(kb, quiz)}
    except DataFileError as exc:
        raise EditError(f"the quiz file would be invalid: {exc.reason}") from exc
    if must_have is not None and must_have not in questions:
        raise EditError("no fact in the knowledge matches the one this question rests on (subject, relation "
                        "and value), so it would never be asked; nothing was saved")
    return quiz
