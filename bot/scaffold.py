"""`python -m bot new FOLDER --title "..."`: a film folder that runs at once and passes `check`.

The folder gets:
- config.yml with the running bot's settings (paths relative to the folder);
- knowledge/<slug>.yml: the film as the default subject, one source (your notes, dated today), and every
  relation the intents' routes and the quiz generators read, copied from the running bot's knowledge
  (descriptors naming that film's entities left out), with no facts yet: each question is answered
  "I don't know" until a fact is added;
- intents/: the running bot's intents, copied unchanged (their examples name the first film, which does
  not matter: names are placeholders for the classifier);
- knowledge/quiz.yml: the generators only (hand-written questions belong to the film they were written for);
- .cache/: the running bot's trained intent model for these intents, so the first chat does not train.

Nothing is overwritten: a folder that exists and is not empty is refused.
"""
from __future__ import annotations

import datetime as dt
import re
import shutil
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from .errors import BotError

KNOWLEDGE_HEADER = """\
# Knowledge base for {title}: entities, the relations between them, and facts, each with its source.
# Add facts with `python -m bot kb add ...` (validated, audited, undoable) or by hand, for example:
#
# entities:
#   - {{id: jane_doe, kind: person, name: Jane Doe, pronoun: she, aliases: [doe]}}
# facts:
#   - {{subject: {slug}, relation: directed_by, object: jane_doe, source: notes, known: "{today}"}}
#   - {{subject: {slug}, relation: release, object: "12 May 2023", source: notes, known: "{today}"}}
#
# Then `python -m bot check` says what is wrong, file:line: field: problem.
"""
QUIZ_HEADER = """\
# Trivia for {title}: generators turn every matching fact into questions, so the quiz grows with the
# knowledge. Hand-written questions go under `questions:`, each naming the fact it rests on.
"""


class ScaffoldError(BotError):
    pass


def slugify(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    return slug if slug and slug[0].isalnum() else f"film_{slug}".strip("_") or "film"


def new_folder(folder: Path, title: str, settings: Any, today: dt.date | None = None) -> list[Path]:
    """Write the film folder; returns the files written."""
    from .answers import Answers
    from .knowledge import KnowledgeBase
    from .quiz.bank import load_quiz_file

    title = " ".join(title.split())
    if not title:
        raise ScaffoldError("give the film's title: --title \"...\"")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ScaffoldError(f"{folder} exists and is not empty: nothing was written (pick a new folder)")
    today_text = (today or dt.date.today()).isoformat()
    slug = slugify(title)
    base = KnowledgeBase.load(Path(settings.knowledge))
    answers = Answers.load(Path(settings.answers_path))
    quiz = load_quiz_file(Path(settings.quiz_file))
    wanted = [r for route in answers.routes.values() for r in route.relations]
    wanted += [g.relation for g in quiz.generators] + ["description"]
    foreign = [re.compile(rf"\b{re.escape(name.lower())}\b") for e in base.entities.values()
               for name in (e.name, *e.aliases, base.title) if len(name) > 2]
    relations = []
    for relation_id in dict.fromkeys(wanted):
        relation = base.relations.get(relation_id)
        if relation is None:
            continue
        data = relation.model_dump(exclude_defaults=True)
        # "the ballerina" stands for the first film's lead: no descriptor naming its entities
        descriptors = [d for d in relation.descriptors if not any(f.search(d.lower()) for f in foreign)]
        data.pop("descriptors", None)
        if descriptors:
            data["descriptors"] = descriptors
        relations.append(data)
    knowledge = {
        "version": 1, "title": title, "default_subject": slug,
        "sources": [{"id": "notes", "attribution": "according to the bot's notes", "known": today_text}],
        "relations": relations,
        "entities": [{"id": slug, "kind": "film", "name": title, "aliases": _aliases(title)}],
        "facts": [],
    }
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)

    knowledge_path = folder / "knowledge" / f"{slug}.yml"
    write(knowledge_path, KNOWLEDGE_HEADER.format(title=title, slug=slug, today=today_text) + _dump(knowledge))
    quiz_data = {"version": 1, "knowledge": knowledge_path.name,
                 "generators": [g.model_dump(exclude_defaults=True) for g in quiz.generators
                                if g.relation in {r["id"] for r in relations} and not g.wrong],
                 "questions": []}
    write(folder / "knowledge" / "quiz.yml", QUIZ_HEADER.format(title=title) + _dump(quiz_data))
    intents = Path(settings.intents)
    shutil.copytree(intents, folder / "intents", ignore=shutil.ignore_patterns(".*", "__pycache__"))
    written += sorted(p for p in (folder / "intents").rglob("*") if p.is_file())
    config = {
        "knowledge": f"knowledge/{slug}.yml", "quiz_file": "knowledge/quiz.yml", "intents": "intents",
        "database": "data/bot.sqlite3", "cache_dir": ".cache", "admins": list(settings.admins),
        "nlu": settings.nlu.model_dump(), "search": settings.search.model_dump(),
        "quiz": settings.quiz.model_dump(),
    }
    write(folder / "config.yml", f"# Settings for the {title} bot; paths are relative to this file.\n" + _dump(config))
    written += _copy_model(settings, base, folder / ".cache")
    return written


def _aliases(title: str) -> list[str]:
    folded = title.lower()
    bare = re.sub(r"^(the|a|an)\s+", "", folded)
    return list(dict.fromkeys(a for a in (folded, bare) if a != title))


def _copy_model(settings: Any, base: Any, cache: Path) -> list[Path]:
    """The running bot's trained model for these intents (its cache key is the examples'), trained first
    if need be: trained with the knowledge whose names the examples use, it is the better model for the
    new film too, and the new folder's first chat starts at once."""
    from .nlu import NLU, model_key
    from .nlu.data import load_training_data

    try:
        path = Path(settings.cache_dir) / f"nlu-{model_key(load_training_data(Path(settings.intents)))}.npz"
        if not path.exists():
            NLU.build(base, Path(settings.intents), Path(settings.cache_dir))
    except BotError:
        return []
    if not path.exists():  # a read-only cache: the new folder trains on its first run
        return []
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, cache / path.name)
    return [cache / path.name]


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110, default_flow_style=None)
