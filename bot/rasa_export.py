"""Write a complete Rasa 3.x project from this bot's files, so a Rasa assistant can use our intents and
answer through our action server (``python -m bot actions``).

    python -m bot rasa-export DIR [--actions-url http://127.0.0.1:5055/webhook]

DIR gets config.yml, domain.yml, credentials.yml, endpoints.yml, data/nlu.yml and data/rules.yml. The
NLU data is intents/ as written (entity markup kept), plus synonyms and lookup tables built from the
knowledge's names and aliases. Every intent goes, by a rule, to the custom action of its handler family;
Rasa's ``nlu_fallback`` goes to the search action. This module knows Rasa's file shapes, not rasa_sdk.

Checked with a real Rasa 3.6 (docs/rasa.md): ``rasa data validate`` and ``rasa train`` take the export
without a warning about it. Two things that needed care: an entity annotation must start and end on a
token boundary of Rasa's WhitespaceTokenizer (``[jw4](film)'s`` does not: "jw4's" is one token there), so
such annotations are widened to the whole token with an explicit value; and the domain declares no
responses, since every rule ends in one of our actions and Rasa warns about each response no rule uses.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from .answers import Answers
from .config import Settings
from .core_api import CONTEXT_SLOTS
from .knowledge import KnowledgeBase
from .nlu.data import TrainingData, load_training_data

RASA_VERSION = "3.1"  # the training-data / domain format version Rasa 3.x reads
DEFAULT_ACTIONS_URL = "http://127.0.0.1:5055/webhook"

# One custom action per family of handlers (a route's handler), plus the search fallback.
ACTION_FOR_HANDLER: dict[str, str] = {
    "facts": "action_trivia_facts",
    "yesno": "action_trivia_yesno",
    "about": "action_trivia_about",
    "smalltalk": "action_trivia_smalltalk",
    "help": "action_trivia_smalltalk",
    "out_of_scope": "action_trivia_search",
}
SEARCH_ACTION = "action_trivia_search"
ACTIONS: tuple[str, ...] = tuple(dict.fromkeys([*ACTION_FOR_HANDLER.values(), SEARCH_ACTION]))
_MARKUP_TYPE = re.compile(r"\[[^\]]+\]\(([^)]+)\)|\[[^\]]+\](\{[^}]*\})")
_JSON_ENTITY = re.compile(r'"entity"\s*:\s*"([^"]+)"')
_MARKUP = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<short>[^)]+)\)|(?P<json>\{[^}]*\}))")
# What Rasa 3.x's WhitespaceTokenizer turns into spaces before splitting (rasa/nlu/tokenizers/
# whitespace_tokenizer.py): punctuation before a space or the end, after a space or the start, and between
# two non-digits ("winston's" -> "winston", "s"; but "jw4's" stays one token).
_RASA_DROPPED = re.compile(
    r"[^\w#@&]+(?=\s|$)|(\s|^)[^\w#@&]+(?=[^0-9\s])|(?<=[^0-9\s])[^\w._~:/?#\[\]()@!$&*+,;=-]+(?=[^0-9\s])")


def action_for_intent(answers: Answers, intent: str) -> str:
    route = answers.routes.get(intent)
    return ACTION_FOR_HANDLER.get(route.handler, SEARCH_ACTION) if route else SEARCH_ACTION


def build_project(settings: Settings, actions_url: str = DEFAULT_ACTIONS_URL) -> dict[str, Any]:
    """The project as {relative path: YAML-ready data}."""
    kb = KnowledgeBase.load(Path(settings.knowledge))
    data = load_training_data(Path(settings.intents))
    answers = Answers.load(settings.answers_path)
    synonyms, lookups = knowledge_synonyms(kb, data), knowledge_lookups(kb, data)
    entities = sorted(set(markup_entities(data)) | set(lookups))
    intents = data.intents
    return {
        "config.yml": config_yml(settings),
        "domain.yml": domain_yml(intents, entities),
        "credentials.yml": {"rest": None},
        "endpoints.yml": {"action_endpoint": {"url": actions_url}},
        "data/nlu.yml": nlu_yml(data, synonyms, lookups),
        "data/rules.yml": rules_yml(answers, intents),
    }


def export_project(settings: Settings, out: Path, actions_url: str = DEFAULT_ACTIONS_URL) -> list[Path]:
    written = []
    for rel, content in build_project(settings, actions_url).items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_HEADER + dump_yaml(content), encoding="utf-8")
        written.append(path)
    return written


def config_yml(settings: Settings) -> dict[str, Any]:
    return {
        "recipe": "default.v1",
        "language": "en",
        "assistant_id": "trivia-bot",
        "pipeline": [
            {"name": "WhitespaceTokenizer"},
            {"name": "RegexFeaturizer", "use_lookup_tables": True, "case_sensitive": False},
            {"name": "LexicalSyntacticFeaturizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
            {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
            {"name": "EntitySynonymMapper"},
            {"name": "FallbackClassifier", "threshold": round(float(settings.nlu.threshold), 3),
             "ambiguity_threshold": 0.1},
        ],
        "policies": [
            {"name": "MemoizationPolicy"},
            {"name": "RulePolicy", "core_fallback_threshold": 0.3,
             "core_fallback_action_name": SEARCH_ACTION, "enable_fallback_prediction": True},
        ],
    }


def domain_yml(intents: list[str], entities: list[str]) -> dict[str, Any]:
    """Intents, entities, the context slots and our actions. No responses: the actions say everything
    (with facts, sources and suggestions), so no rule would use one and Rasa warns about each unused one."""
    slots = {name: {"type": "text", "influence_conversation": False, "mappings": [{"type": "custom"}]}
             for name in CONTEXT_SLOTS}
    return {
        "version": RASA_VERSION,
        "intents": list(intents),
        "entities": list(entities),
        "slots": slots,
        "actions": list(ACTIONS),
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
    }


def markup_entities(data: TrainingData) -> list[str]:
    found: set[str] = set()
    for examples in data.raw.values():
        for example in examples:
            for m in _MARKUP_TYPE.finditer(example):
                if m.group(1):
                    found.add(m.group(1).split(":")[0].split(".")[0].strip())
                elif m.group(2):
                    found.update(_JSON_ENTITY.findall(m.group(2)))
    return sorted(e for e in found if e)


def knowledge_synonyms(kb: KnowledgeBase, data: TrainingData) -> dict[str, list[str]]:
    """Entity id <- its name and aliases (so Rasa's entity values are our ids), plus intents/ synonyms.
    A name shared by two entities maps to neither: the actions ask which one was meant."""
    owners: dict[str, set[str]] = defaultdict(set)
    for entity in kb.entities.values():
        for alias in (entity.name, *entity.aliases):
            owners[alias.strip().lower()].add(entity.id)
    out: dict[str, dict[str, str]] = {}  # value -> {lowercased example: example}
    for entity in kb.entities.values():
        for alias in (entity.name, *entity.aliases):
            key = alias.strip().lower()
            if key and len(owners[key]) == 1 and key != entity.id:
                out.setdefault(entity.id, {}).setdefault(key, alias.strip())
    for name, examples in data.synonyms.items():
        for example in examples:
            key = example.strip().lower()
            if key and key != name.lower():
                out.setdefault(name, {}).setdefault(key, example.strip())
    return {k: list(v.values()) for k, v in out.items() if v}


def knowledge_lookups(kb: KnowledgeBase, data: TrainingData) -> dict[str, list[str]]:
    """One lookup table per entity kind (film, person, character, ...), named like the entity types."""
    out: dict[str, list[str]] = defaultdict(list)
    for entity in kb.entities.values():
        for alias in (entity.name, *entity.aliases):
            if alias.strip() and alias.strip() not in out[entity.kind]:
                out[entity.kind].append(alias.strip())
    for name, examples in data.lookups.items():
        out[name].extend(e for e in examples if e not in out[name])
    return {k: v for k, v in sorted(out.items()) if v}


def rasa_token_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each token Rasa's WhitespaceTokenizer makes of ``text``."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for word in _RASA_DROPPED.sub(" ", text).split():
        start = text.index(word, offset)
        offset = start + len(word)
        spans.append((start, offset))
    return spans


def align_markup(example: str, synonyms: dict[str, str] | None = None) -> str:
    """Widen each entity annotation that starts or ends inside a Rasa token to the whole token, keeping the
    entity's value: ``how was [jw4](film)'s opening`` -> ``how was [jw4's]{"entity": "film", "value": ...}
    opening``. ``synonyms`` (lowercased text -> value) gives the value the exported synonyms would give the
    annotated text; otherwise the annotated text is the value. Annotations already on token boundaries, and
    any whose widening would run into another annotation, are left as written."""
    found = list(_MARKUP.finditer(example))
    if not found:
        return example
    text_parts, marks, last, length = [], [], 0, 0  # marks: (start, end) in the text without markup
    for m in found:
        between = example[last:m.start()]
        text_parts += [between, m.group("text")]
        length += len(between)
        marks.append((length, length + len(m.group("text"))))
        length += len(m.group("text"))
        last = m.end()
    text = "".join(text_parts) + example[last:]
    spans = rasa_token_spans(text)
    starts, ends = {a for a, _ in spans}, {b for _, b in spans}

    out, cursor = [], 0
    for i, (m, (a, b)) in enumerate(zip(found, marks)):
        markup, na, nb = m.group(0), a, b
        if a not in starts or b not in ends:
            na = min([s for s, e in spans if s <= a < e] or [a])
            nb = max([e for s, e in spans if s < b <= e] or [b])
            prev_end = marks[i - 1][1] if i else 0
            next_start = marks[i + 1][0] if i + 1 < len(marks) else len(text)
            attrs = _markup_attrs(m)
            if na < prev_end or nb > next_start or attrs is None:
                na, nb = a, b
            else:
                attrs.setdefault("value", (synonyms or {}).get(m.group("text").strip().lower(), m.group("text")))
                markup = f"[{text[na:nb]}]{json.dumps(attrs, ensure_ascii=False)}"
        out += [text[cursor:na], markup]
        cursor = nb
    out.append(text[cursor:])
    return "".join(out)


def _markup_attrs(m: re.Match[str]) -> dict[str, Any] | None:
    if m.group("short"):  # (type), or Rasa 2's (type:value)
        entity, _, value = m.group("short").partition(":")
        return {"entity": entity.strip(), **({"value": value.strip()} if value.strip() else {})}
    try:
        attrs = json.loads(m.group("json"))
    except ValueError:
        return None
    return attrs if isinstance(attrs, dict) and isinstance(attrs.get("entity"), str) else None


def nlu_yml(data: TrainingData, synonyms: dict[str, list[str]], lookups: dict[str, list[str]]) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    value_of = {e.lower(): value for value, examples in synonyms.items() for e in examples}
    for intent in data.intents:
        examples = list(dict.fromkeys(align_markup(" ".join(e.split()), value_of)
                                      for e in data.raw[intent] if e.strip()))
        items.append({"intent": intent, "examples": _block(examples)})
    for name, examples in sorted(synonyms.items()):
        items.append({"synonym": name, "examples": _block(examples)})
    for name, examples in sorted(lookups.items()):
        items.append({"lookup": name, "examples": _block(examples)})
    return {"version": RASA_VERSION, "nlu": items}


def rules_yml(answers: Answers, intents: list[str]) -> dict[str, Any]:
    rules = [{"rule": f"answer {intent}", "steps": [{"intent": intent}, {"action": action_for_intent(answers, intent)}]}
             for intent in intents]
    rules.append({"rule": "search when the NLU is unsure",
                  "steps": [{"intent": "nlu_fallback"}, {"action": SEARCH_ACTION}]})
    return {"version": RASA_VERSION, "rules": rules}


def _block(examples: list[str]) -> str:
    return "".join(f"- {' '.join(e.split())}\n" for e in examples)


_HEADER = "# Generated by `python -m bot rasa-export` from this bot's config, intents/ and knowledge.\n"


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(content: Any) -> str:
    return yaml.dump(content, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096)
