"""`python -m bot rasa-export DIR`: a Rasa 3.x project whose files have the shapes Rasa's schemas demand
(rasa/shared/utils/schemas/domain.yml, responses.yml, the YAML training-data reader), and that agrees with
itself (every intent, entity and action used is declared) and with the action server."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.config import load_settings
from bot.knowledge import KnowledgeBase
from bot.nlu.data import load_training_data, strip_markup
from bot.rasa_export import ACTIONS, SEARCH_ACTION, align_markup, export_project, rasa_token_spans

ROOT = Path(__file__).resolve().parent.parent
FILES = ["config.yml", "domain.yml", "credentials.yml", "endpoints.yml", "data/nlu.yml", "data/rules.yml"]
RASA_DEFAULT_INTENTS = {"nlu_fallback", "restart", "back", "out_of_scope", "session_start"}
RASA_DEFAULT_ACTIONS = {"action_listen", "action_restart", "action_default_fallback", "action_session_start",
                        "action_two_stage_fallback", "action_back", "action_deactivate_loop"}
SLOT_TYPES = {"text", "bool", "categorical", "float", "list", "any"}
SLOT_MAPPINGS = {"from_entity", "from_text", "from_intent", "from_trigger_intent", "custom"}
NLU_KEYS = {"intent", "synonym", "regex", "lookup"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rasa-project")
    written = export_project(load_settings(ROOT / "config.yml"), out, "http://127.0.0.1:5055/webhook")
    assert sorted(p.relative_to(out).as_posix() for p in written) == sorted(FILES)
    return out


def load(project: Path, name: str):
    data = yaml.safe_load((project / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict), name
    return data


def examples_of(block) -> list[str]:
    """Rasa reads `examples` as one string of '- ' lines."""
    assert isinstance(block, str) and block.strip(), block
    lines = [line for line in block.splitlines() if line.strip()]
    assert all(line.startswith("- ") and line[2:].strip() for line in lines), lines[:3]
    return [line[2:] for line in lines]


def test_domain_shape(project):
    domain = load(project, "domain.yml")
    assert set(domain) <= {"version", "intents", "entities", "slots", "responses", "actions", "forms",
                           "session_config", "config", "e2e_actions"}
    assert isinstance(domain["version"], str) and domain["version"].startswith("3.")
    assert domain["intents"] and all(isinstance(i, str) for i in domain["intents"])
    assert len(set(domain["intents"])) == len(domain["intents"])
    assert domain["entities"] and all(isinstance(e, str) for e in domain["entities"])
    for name, slot in domain["slots"].items():
        assert isinstance(name, str) and slot["type"] in SLOT_TYPES
        assert isinstance(slot.get("influence_conversation", False), bool)
        assert slot["mappings"] and all(m["type"] in SLOT_MAPPINGS for m in slot["mappings"])
    assert {"last_person", "last_film", "last_character"} <= set(domain["slots"])
    # every rule ends in one of our actions: a response no rule uses is a warning in `rasa train`
    assert not domain.get("responses")
    assert domain["actions"] and all(isinstance(a, str) for a in domain["actions"])
    assert set(domain["actions"]) == set(ACTIONS)
    session = domain["session_config"]
    assert isinstance(session["session_expiration_time"], (int, float)) and session["session_expiration_time"] >= 0
    assert isinstance(session["carry_over_slots_to_new_session"], bool)


def test_nlu_shape_and_content(project):
    nlu = load(project, "data/nlu.yml")
    assert set(nlu) == {"version", "nlu"} and isinstance(nlu["version"], str)
    kinds: dict[str, dict[str, list[str]]] = {k: {} for k in NLU_KEYS}
    for item in nlu["nlu"]:
        keys = set(item) & NLU_KEYS
        assert len(keys) == 1 and set(item) <= NLU_KEYS | {"examples", "metadata"}, item
        key = keys.pop()
        assert isinstance(item[key], str) and item[key]
        assert item[key] not in kinds[key], f"duplicate {key} {item[key]}"
        kinds[key][item[key]] = examples_of(item["examples"])
    source = load_training_data(ROOT / "intents")
    assert set(kinds["intent"]) == set(source.intents)
    for intent, examples in kinds["intent"].items():
        assert len(examples) >= 2
        assert {strip_markup(e) for e in examples} == {strip_markup(" ".join(e.split())) for e in source.raw[intent]
                                                       if e.strip()}
    kb = KnowledgeBase.load(load_settings(ROOT / "config.yml").knowledge)
    # synonyms: entity ids from the knowledge's names and aliases, and no text mapped to two values
    assert set(kinds["synonym"]) & set(kb.entities)
    seen: dict[str, str] = {}
    for value, examples in kinds["synonym"].items():
        for example in examples:
            first = seen.setdefault(example.lower(), value)
            assert first == value, f"{example!r} -> {value} and {first}"
    assert "Ana de Armas" in kinds["synonym"]["ana_de_armas"]
    # lookup tables per entity kind
    assert {"film", "person", "character"} <= set(kinds["lookup"])
    assert "Ian McShane" in kinds["lookup"]["person"]


def test_exported_nlu_reads_back(project):
    """The bot's own Rasa-format loader reads the export: same intents, same examples."""
    source, exported = load_training_data(ROOT / "intents"), load_training_data(project / "data")
    assert exported.intents == source.intents
    assert sorted(exported.examples) == sorted({(" ".join(t.split()), i) for t, i in source.examples})
    assert exported.synonyms and exported.lookups


def _annotations(example: str) -> tuple[str, list[tuple[int, int]]]:
    """The text without markup and the (start, end) of each annotation in it."""
    text, spans, last = "", [], 0
    for m in re.finditer(r"\[([^\]]+)\](?:\([^)]+\)|\{[^}]*\})", example):
        text += example[last:m.start()]
        spans.append((len(text), len(text) + len(m.group(1))))
        text += m.group(1)
        last = m.end()
    return text + example[last:], spans


def test_annotations_on_rasa_token_boundaries(project):
    """Rasa warns "Misaligned entity annotation" (and trains the entity badly) when an annotation starts or
    ends inside a WhitespaceTokenizer token."""
    nlu = load(project, "data/nlu.yml")
    checked = 0
    for item in nlu["nlu"]:
        if "intent" not in item:
            continue
        for example in examples_of(item["examples"]):
            text, spans = _annotations(example)
            tokens = rasa_token_spans(text)
            starts, ends = {a for a, _ in tokens}, {b for _, b in tokens}
            for a, b in spans:
                assert a in starts and b in ends, (example, text[a:b], tokens)
                checked += 1
    assert checked > 100


def test_rasa_token_spans_and_alignment():
    # as rasa.nlu.tokenizers.whitespace_tokenizer splits: "'s" after a letter is cut off, after a digit not
    assert rasa_token_spans("how was jw4's opening, winston's?") == [(0, 3), (4, 7), (8, 13), (14, 21), (23, 30),
                                                                     (31, 32)]
    assert rasa_token_spans("10'000.00 mail@x.com") == [(0, 9), (10, 20)]
    assert align_markup("how was [jw4](film)'s opening weekend", {"jw4": "john_wick_4"}) == \
        'how was [jw4\'s]{"entity": "film", "value": "john_wick_4"} opening weekend'
    assert align_markup("how was [JW4](film)'s run") == 'how was [JW4\'s]{"entity": "film", "value": "JW4"} run'
    # on token boundaries already: untouched
    for ok in ("who plays [winston](character)'s driver?", "[ballerina](film)?", "no markup",
               'is [keanu]{"entity": "person", "role": "actor"} in it'):
        assert align_markup(ok) == ok
    # roles and an explicit value survive widening
    assert align_markup('[jw4]{"entity": "film", "value": "x", "role": "r"}\'s') == \
        '[jw4\'s]{"entity": "film", "value": "x", "role": "r"}'
    assert align_markup("[jw4](film:john_wick_4)'s") == '[jw4\'s]{"entity": "film", "value": "john_wick_4"}'
    # widening into the next annotation: left as written
    assert align_markup("[a1](film)[b](person)") == "[a1](film)[b](person)"


def test_entities_declared(project):
    domain, nlu = load(project, "domain.yml"), load(project, "data/nlu.yml")
    used = set()
    for item in nlu["nlu"]:
        if "intent" in item:
            used |= set(re.findall(r"\]\(([^)]+)\)", item["examples"]))
            used |= set(re.findall(r'"entity"\s*:\s*"([^"]+)"', item["examples"]))
    assert used and used <= set(domain["entities"])
    lookups = {item["lookup"] for item in nlu["nlu"] if "lookup" in item}
    assert lookups <= set(domain["entities"])  # RegexEntityExtractor/Featurizer tie lookups to entity names


def test_rules(project):
    rules, domain = load(project, "data/rules.yml"), load(project, "domain.yml")
    assert isinstance(rules["version"], str) and isinstance(rules["rules"], list)
    by_intent = {}
    for rule in rules["rules"]:
        assert set(rule) <= {"rule", "steps", "condition", "conversation_start", "wait_for_user_input"}
        assert isinstance(rule["rule"], str) and rule["rule"]
        steps = rule["steps"]
        assert isinstance(steps, list) and len(steps) == 2
        assert all(isinstance(s, dict) and len(s) == 1 for s in steps)
        intent, action = steps[0]["intent"], steps[1]["action"]
        assert intent in set(domain["intents"]) | RASA_DEFAULT_INTENTS
        assert action in set(domain["actions"]) | RASA_DEFAULT_ACTIONS
        by_intent[intent] = action
    assert set(by_intent) == set(domain["intents"]) | {"nlu_fallback"}
    assert by_intent["nlu_fallback"] == SEARCH_ACTION
    assert by_intent["ask_director"] == "action_trivia_facts"
    assert by_intent["greet"] == "action_trivia_smalltalk"
    assert len({r["rule"] for r in rules["rules"]}) == len(rules["rules"])


def test_config_and_endpoints(project):
    config = load(project, "config.yml")
    assert config["language"] == "en" and isinstance(config["assistant_id"], str)
    names = [c["name"] for c in config["pipeline"]]
    assert all(isinstance(c, dict) and isinstance(c["name"], str) for c in config["pipeline"] + config["policies"])
    assert names.index("WhitespaceTokenizer") == 0 and "DIETClassifier" in names and "EntitySynonymMapper" in names
    fallback = next(c for c in config["pipeline"] if c["name"] == "FallbackClassifier")
    assert 0 < fallback["threshold"] < 1
    assert fallback["threshold"] == pytest.approx(load_settings(ROOT / "config.yml").nlu.threshold)
    assert names.index("FallbackClassifier") > names.index("DIETClassifier")
    assert "RulePolicy" in [p["name"] for p in config["policies"]]
    endpoints = load(project, "endpoints.yml")
    assert endpoints["action_endpoint"]["url"] == "http://127.0.0.1:5055/webhook"
    assert "rest" in load(project, "credentials.yml")


def test_cli(tmp_path):
    out = tmp_path / "assistant"
    p = subprocess.run([sys.executable, "-m", "bot", "rasa-export", str(out), "--actions-url",
                        "http://127.0.0.1:6000/webhook"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-500:]
    assert all((out / f).is_file() for f in FILES)
    assert yaml.safe_load((out / "endpoints.yml").read_text())["action_endpoint"]["url"].endswith(":6000/webhook")
