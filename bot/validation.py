"""One validator for every file of a film folder: config, knowledge, intents, answers, quiz.

    problems = check_folder(Path("config.yml"))      # `python -m bot check`
    for p in problems: print(p)                       # knowledge/film.yml:42: facts[3].known: '2023-13' is not a real date

Each file is read by the same loader the bot uses (strict YAML: duplicate keys refused, no YAML 1.1
quirks; pydantic schemas), so what `check` passes, the bot loads. Then the files are checked against
each other (:func:`cross_problems`): a route naming a relation the knowledge lacks, a response a handler
needs, a quiz generator over an unknown relation. Start-up, `kb reload` and the live watcher run the
same cross-check (:func:`require_consistent`) and refuse to answer from files that fail it.

A route naming a relation the knowledge does not define (copied intents read ``works_for``, this film's
file never mentions it) is answered "I don't know" (KnowledgeBase.covering), never a traceback, and
reported as a warning naming the route, the relation and the file. Warnings (also: a hand-written quiz
question left out because its fact changed, a generator over an unknown relation) are reported once at
load and by `check`, and do not stop the bot; errors do.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .errors import DataFileError
from .yamlio import field_name, line_of

if TYPE_CHECKING:
    import yaml

    from .answers import Answers
    from .config import Settings
    from .knowledge import KnowledgeBase
    from .nlu.data import TrainingData
    from .quiz.schema import QuizFile

log = logging.getLogger(__name__)
Severity = Literal["error", "warning"]
# The responses each handler renders whatever the intent (besides utter_<intent>).
HANDLER_RESPONSES: dict[str, tuple[str, ...]] = {
    "facts": ("utter_no_fact", "utter_no_fact_elsewhere", "utter_unknown_subject", "utter_clarify",
              "utter_who_do_you_mean"),
    "yesno": ("utter_ask_appears_yes", "utter_ask_appears_no", "utter_ask_appears_which",
              "utter_ask_appears_mismatch", "utter_no_fact", "utter_unknown_subject"),
    "about": ("utter_about", "utter_about_facts", "utter_unknown_subject", "utter_clarify", "utter_who_do_you_mean"),
    "help": ("utter_help",),
    "out_of_scope": ("utter_unknown",),
    "smalltalk": (),
}
ALWAYS = ("utter_unknown", "utter_empty", "utter_search", "utter_source_of_what", "utter_unknown_predicate",
          # the question map's and the false premises' (bot/handlers/mapped.py, premise.py)
          "utter_map_fact", "utter_map_unknown", "utter_map_unknown_near", "utter_false_premise",
          "utter_false_premise_value", "utter_false_premise_value_yesno", "utter_false_premise_credits")
REQUIRED_ROUTES = ("out_of_scope",)
GENERATOR_FIELDS = frozenset({"subject", "object", "role", "according_to"})
SUGGESTION_FIELDS = frozenset({"subject", "entity", "title"})


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    field: str | None
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        flag = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line or 1}: {self.field or 'file'}: {flag}{self.message}"

    @classmethod
    def from_error(cls, exc: DataFileError) -> list["Problem"]:
        return [cls(p.path, p.line, p.field, p.reason) for p in exc.problems]


def _at(path: Path | str | None, node: "yaml.Node | None", loc: tuple[int | str, ...], message: str,
        severity: Severity = "error") -> Problem:
    return Problem(str(path), line_of(node, loc), field_name(loc), message, severity)


def _fields(template: str) -> set[str] | None:
    try:
        return {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError:
        return None


# cross-file checks -----------------------------------------------------------------------------------
def answers_problems(kb: "KnowledgeBase", answers: "Answers",
                     trained: Iterable[str] | None = None) -> list[Problem]:
    """Routes against the knowledge's relations and kinds; the responses each handler needs."""
    from .knowledge.schema import ENTITY_KINDS

    path, node, out = answers.path, answers.node, []
    for name, route in answers.routes.items():
        where = ("routes", name)
        for index, relation in enumerate(route.relations):
            if relation not in kb.relations:
                out.append(_at(path, node, (*where, "relations", index),
                               f"route {name!r} asks for relation {relation!r}, which {kb.path} does not define, "
                               "so it is answered \"I don't know\"; define it there (with or without facts) or "
                               "remove the route", "warning"))
        if route.handler in ("facts", "yesno") and not route.relations:
            out.append(_at(path, node, where, f"route {name!r}: a {route.handler} route needs relations"))
        for index, kind in enumerate(route.about):
            if kind not in ENTITY_KINDS:
                out.append(_at(path, node, (*where, "about", index),
                               f"{kind!r} is not an entity kind ({', '.join(ENTITY_KINDS)})"))
        for relation in route.verbs:
            if relation not in route.relations:
                out.append(_at(path, node, (*where, "verbs"), f"verb for {relation!r}, which the route does not read"))
        needed = list(HANDLER_RESPONSES.get(route.handler, ()))
        if route.handler in ("facts", "smalltalk"):
            needed.insert(0, f"utter_{name}")
        for response in needed:
            if not answers.has(response):
                out.append(_at(path, node, ("responses",),
                               f"route {name!r} ({route.handler}) needs a response {response!r}"))
    for name in REQUIRED_ROUTES:
        if name not in answers.routes:
            out.append(_at(path, node, ("routes",), f"a route {name!r} is needed (the fallback)"))
    for response in ALWAYS:
        if not answers.has(response):
            out.append(_at(path, node, ("responses",), f"a response {response!r} is needed"))
    for index, item in enumerate(answers.data.suggestions):
        if isinstance(item, str):
            continue
        loc = ("suggestions", index)
        if item.intent not in answers.routes:
            out.append(_at(path, node, (*loc, "intent"), f"suggestion for {item.intent!r}, which has no route"))
        fields = _fields(item.text)
        if fields is None or fields - SUGGESTION_FIELDS:
            out.append(_at(path, node, (*loc, "text"), f"placeholders can be {', '.join(sorted(SUGGESTION_FIELDS))}"))
    if trained is not None:
        trained = set(trained)
        for name in answers.routes:
            if name not in trained and answers.routes[name].handler not in ("out_of_scope",):
                out.append(_at(path, node, ("routes", name),
                               f"intent {name!r} has no training examples in intents/nlu, so it is never asked",
                               "warning"))
    return out


def quiz_problems(kb: "KnowledgeBase", quiz: "QuizFile", path: Path | None, node: "yaml.Node | None") -> list[Problem]:
    """Generators and hand-written questions against the knowledge; questions the bank will leave out."""
    from .quiz.bank import find_fact, written_for

    out: list[Problem] = []
    for index, gen in enumerate(quiz.generators):
        loc = ("generators", index)
        relation = kb.relations.get(gen.relation)
        if relation is None:
            out.append(_at(path, node, (*loc, "relation"),
                           f"generator {gen.id!r}: unknown relation {gen.relation!r} (not in {kb.path}): it "
                           "makes no questions", "warning"))
            continue
        if gen.ask == "role" and relation.role is None:
            out.append(_at(path, node, (*loc, "ask"), f"generator {gen.id!r}: {gen.relation!r} takes no role"))
        if gen.ask != "object" and relation.literal:
            out.append(_at(path, node, (*loc, "ask"),
                           f"generator {gen.id!r}: {gen.relation!r} has text objects; only ask: object works"))
        for key in ("question", "statement"):
            template = getattr(gen, key)
            fields = _fields(template) if template else set()
            if fields is None or fields - GENERATOR_FIELDS:
                out.append(_at(path, node, (*loc, key),
                               f"generator {gen.id!r}: placeholders can be {', '.join(sorted(GENERATOR_FIELDS))}"))
    if quiz.questions and not written_for(quiz, path, kb):
        out.append(_at(path, node, ("knowledge",),
                       f"the {len(quiz.questions)} hand-written questions were written for {quiz.knowledge}, not "
                       f"{kb.path.name if kb.path else 'this knowledge'}: they are left out (generators still run)",
                       "warning"))
        return out
    for index, question in enumerate(quiz.questions):
        loc = ("questions", index)
        ref = question.fact
        if ref.relation not in kb.relations:
            out.append(_at(path, node, (*loc, "fact", "relation"),
                           f"question {question.id!r} is left out: unknown relation {ref.relation!r}", "warning"))
            continue
        if ref.subject not in kb.entities:
            out.append(_at(path, node, (*loc, "fact", "subject"),
                           f"question {question.id!r} is left out: unknown entity {ref.subject!r}", "warning"))
            continue
        if question.kind == "truefalse" and question.answer.strip().lower() not in ("true", "false", "yes", "no"):
            out.append(_at(path, node, (*loc, "answer"), f"question {question.id!r}: a truefalse answer is true or false"))
        if find_fact(kb, ref) is None:
            what = " ".join(p for p in (ref.subject, ref.relation, ref.object or "", ref.role or "") if p)
            out.append(_at(path, node, (*loc, "fact"),
                           f"question {question.id!r} is left out: its fact ({what}) is not in the knowledge "
                           "(changed or removed)", "warning"))
    return out


def cross_problems(kb: "KnowledgeBase", answers: "Answers", quiz: "QuizFile | None" = None,
                   quiz_path: Path | None = None, quiz_node: "yaml.Node | None" = None,
                   trained: Iterable[str] | None = None) -> list[Problem]:
    out = answers_problems(kb, answers, trained)
    if quiz is not None:
        out += quiz_problems(kb, quiz, quiz_path, quiz_node)
    return out


_reported: dict[str, frozenset[str]] = {}
_CHECK_CODE = ("validation.py", "answers.py", "quiz/bank.py", "quiz/schema.py", "knowledge/schema.py")


def require_consistent(settings: "Settings", kb: "KnowledgeBase", answers: "Answers",
                       files: Iterable[Path] = ()) -> None:
    """Start-up's, `kb reload`'s and the watcher's check across files: errors raise (the bot does not
    answer from them, or keeps its previous files), warnings are logged once per set.

    ``files``: the files ``kb`` and ``answers`` were read from, unchanged. Then a verdict reached before
    on the same bytes (these files, the quiz file and the checking code) is read back from the cache
    folder: reading the quiz file imports the quiz package, a fifth of `ask`'s cold start."""
    files = list(files)
    verdict = _verdict_path(settings, files) if files else None
    warnings: frozenset[str] | None = None
    if verdict is not None:
        try:
            cached = json.loads(verdict.read_text(encoding="utf-8"))
            warnings = frozenset(str(w) for w in cached["warnings"])
        except (OSError, ValueError, KeyError, TypeError):
            warnings = None
    if warnings is None:
        warnings = _checked(settings, kb, answers)  # raises on errors: never cached
        if verdict is not None:
            _write_verdict(verdict, warnings)
    key = str(settings.knowledge)
    if warnings and _reported.get(key) != warnings:
        for line in sorted(warnings):
            log.warning("%s", line)
    _reported[key] = warnings


def _checked(settings: "Settings", kb: "KnowledgeBase", answers: "Answers") -> frozenset[str]:
    from .quiz.bank import load_quiz

    problems = answers_problems(kb, answers)
    quiz_path = Path(settings.quiz_file)
    try:
        quiz, node = load_quiz(quiz_path)
    except DataFileError as exc:
        problems += Problem.from_error(exc)
    else:
        problems += quiz_problems(kb, quiz, quiz_path, node)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise _as_error(errors)
    return frozenset(str(p) for p in problems)


def _verdict_path(settings: "Settings", files: list[Path]) -> Path | None:
    """Where the verdict on exactly these bytes is kept; None when a file cannot be read."""
    digest = hashlib.sha256()
    code = Path(__file__).parent
    try:
        for path in [*files, Path(settings.quiz_file), *(code / c for c in _CHECK_CODE)]:
            digest.update(str(path).encode() + b"\0")
            digest.update(path.read_bytes() if path.exists() else b"<none>")
            digest.update(b"\0")
    except OSError:
        return None
    return Path(settings.cache_dir) / f"consistent-{Path(settings.knowledge).stem[:40]}-{digest.hexdigest()[:32]}.json"


def _write_verdict(path: Path, warnings: frozenset[str]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"warnings": sorted(warnings)}), encoding="utf-8")
        tmp.replace(path)  # never a half-written verdict
        for old in path.parent.glob(path.name.rsplit("-", 1)[0] + "-*.json"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only cache: the next start checks again


def _as_error(problems: list[Problem]) -> DataFileError:
    errors = [DataFileError(p.path, p.message, p.line, p.field) for p in problems]
    first = errors[0]
    return DataFileError(first.path, first.reason, first.line, first.field, problems=errors)


# the whole folder ------------------------------------------------------------------------------------
def check_folder(config: Path | str | None = None, env: dict[str, str] | None = None,
                 progress: Any = None) -> list[Problem]:
    """Every problem of every file the config names, errors and warnings, in file order."""
    from .answers import Answers
    from .config import load_settings
    from .knowledge import KnowledgeBase
    from .nlu.data import TrainingData, load_training_data, nlu_files
    from .quiz.bank import load_quiz
    from .understanding.language import LanguageNotes
    from .understanding.questions import QuestionMap
    from .yamlio import read_yaml

    step = progress or (lambda what: None)
    step("config")
    try:
        settings = load_settings(config, env=env)
    except DataFileError as exc:
        return Problem.from_error(exc)
    out: list[Problem] = []
    kb = answers = None
    training: TrainingData | None = None
    step(f"knowledge ({settings.knowledge.name})")
    try:
        kb = KnowledgeBase.load(settings.knowledge)
    except DataFileError as exc:
        out += Problem.from_error(exc)
    intents = Path(settings.intents)
    step("intents")
    if not intents.is_dir():
        out.append(Problem(str(intents), None, "intents", "the intents folder is missing"))
    else:
        nlu = set(nlu_files(intents))
        # the understanding stage's own files (bot/understanding/): checked against their schemas
        understanding = {intents / "questions.yml": QuestionMap.load, intents / "languages.yml": LanguageNotes.load}
        for path in sorted(intents.rglob("*.yml")):
            if path == settings.answers_path or path in nlu:
                continue
            try:
                read_yaml(path)
                if path in understanding:
                    understanding[path](path)
                    continue
            except DataFileError as exc:
                out += Problem.from_error(exc)
                continue
            out.append(Problem(str(path), None, None, "not an NLU file (no top-level 'nlu:' key): ignored", "warning"))
        try:
            training = load_training_data(intents)
        except DataFileError as exc:
            out += _each_nlu_file(sorted(nlu)) if nlu else Problem.from_error(exc)
        step("answers")
        try:
            answers = Answers.load(settings.answers_path)
        except DataFileError as exc:
            out += Problem.from_error(exc)
    step("quiz")
    quiz = node = None
    if Path(settings.quiz_file).exists():
        try:
            quiz, node = load_quiz(settings.quiz_file)
        except DataFileError as exc:
            out += Problem.from_error(exc)
    else:
        out.append(Problem(str(settings.quiz_file), None, "quiz_file", "no quiz file: the quiz has no questions",
                           "warning"))
    if kb is not None and answers is not None:
        step("across files")
        trained = {intent for _, intent in training.examples} if training is not None else None
        out += answers_problems(kb, answers, trained)
    if kb is not None and quiz is not None:
        out += quiz_problems(kb, quiz, Path(settings.quiz_file), node)
    return out


def _each_nlu_file(paths: list[Path]) -> list[Problem]:
    """Every broken NLU file, not just the first the training-data loader stopped at."""
    from .nlu.data import NluFile
    from .yamlio import read_yaml, validate

    out: list[Problem] = []
    for path in paths:
        try:
            data, node = read_yaml(path)
            if data is None:
                raise DataFileError(str(path), "file is empty")
            validate(NluFile, data, path, node)
        except DataFileError as exc:
            out += Problem.from_error(exc)
    return out
