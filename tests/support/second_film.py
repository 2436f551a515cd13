"""A second film, built the way a new user would: `python -m bot new`, then facts of its own.

Mad Max Beyond Thunderdome (1985): nothing of it is in the shipped knowledge, it came out long ago (so
release answers must be in the past tense), and its hand-written quiz question is its own.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from bot.config import load_settings
from bot.scaffold import new_folder

TITLE = "Mad Max Beyond Thunderdome"
SOURCE = {"id": "wiki", "attribution": "according to the film's encyclopedia entry", "known": "2024-01"}
ENTITIES = [
    {"id": "mad_max_series", "kind": "series", "name": "the Mad Max series", "aliases": ["mad max", "mad max films"]},
    {"id": "george_miller", "kind": "person", "name": "George Miller", "pronoun": "he", "aliases": ["miller"]},
    {"id": "george_ogilvie", "kind": "person", "name": "George Ogilvie", "pronoun": "he", "aliases": ["ogilvie"]},
    {"id": "mel_gibson", "kind": "person", "name": "Mel Gibson", "pronoun": "he", "aliases": ["gibson", "mel"]},
    {"id": "tina_turner", "kind": "person", "name": "Tina Turner", "pronoun": "she", "aliases": ["tina"]},
    {"id": "max", "kind": "character", "name": "Max Rockatansky", "pronoun": "he", "aliases": ["max", "mad max rockatansky"]},
    {"id": "aunty_entity", "kind": "character", "name": "Aunty Entity", "pronoun": "she", "aliases": ["aunty"]},
]
FACTS = [
    ("directed_by", "george_miller", None), ("directed_by", "george_ogilvie", None),
    ("starring", "mel_gibson", "max"), ("starring", "tina_turner", "aunty_entity"),
    ("release", "10 July 1985", None),
    ("plot", "follows Max, exiled into the desert, to Bartertown and a tribe of lost children", None),
    ("part_of", "mad_max_series", None),
]
OTHER_FACTS = [
    {"subject": "tina_turner", "relation": "description", "object": "the singer who plays Aunty Entity"},
    {"subject": "mel_gibson", "relation": "description", "object": "the actor who plays Max in the Mad Max series"},
]
QUESTION = {"id": "aunty_singer", "kind": "choice", "difficulty": "easy",
            "question": "Which singer plays the ruler of Bartertown?", "answer": "tina_turner",
            "fact": {"subject": "thunderdome", "relation": "starring", "object": "tina_turner"}}


def build_second_film(folder: Path, base_config: Path) -> Path:
    """Write the film folder; returns its config.yml."""
    base = load_settings(base_config, env={})
    new_folder(folder, TITLE, base)
    config = folder / "config.yml"
    # the model depends on the intents only: share the session's, trained once
    config.write_text(config.read_text(encoding="utf-8").replace("cache_dir: .cache", f"cache_dir: {base.cache_dir}"),
                      encoding="utf-8")
    path = next(p for p in (folder / "knowledge").glob("*.yml") if p.name != "quiz.yml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    home = data["default_subject"]
    data["sources"].append(SOURCE)
    data["entities"][0]["aliases"] += ["thunderdome", "beyond thunderdome", "mad max 3"]
    data["entities"] += ENTITIES
    data["facts"] = [{"subject": home, "relation": r, "object": o, **({"role": role} if role else {}),
                      "source": "wiki", "known": "2024-01"} for r, o, role in FACTS]
    data["facts"] += [{**f, "source": "wiki", "known": "2024-01"} for f in OTHER_FACTS]
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    quiz = folder / "knowledge" / "quiz.yml"
    quiz_data = yaml.safe_load(quiz.read_text(encoding="utf-8"))
    question = {**QUESTION, "fact": {**QUESTION["fact"], "subject": home}}
    quiz_data["questions"] = [question]
    quiz.write_text(yaml.safe_dump(quiz_data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return folder / "config.yml"
