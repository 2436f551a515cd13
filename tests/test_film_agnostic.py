"""Nothing about a film is in the code or the shipped intents: another film is another folder of data.

Every name the shipped knowledge knows (films, series, people, characters, and their longer aliases)
is searched for in bot/'s string literals (docstrings may use the first film as an example; what the
bot says or does may not) and in intents/ outside the NLU examples, synonyms and lookup tables."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from bot.knowledge import KnowledgeBase

ROOT = Path(__file__).resolve().parent.parent


def film_names() -> re.Pattern[str]:
    kb = KnowledgeBase.load(ROOT / "knowledge" / "ballerina.yml")
    names = {kb.title, "Wickiverse"}
    for entity in kb.entities.values():
        if entity.kind in ("film", "series", "person", "character"):
            names.add(entity.name)
            names.update(a for a in entity.aliases if " " in a and len(a) >= 6)  # "john wick", not "len"
    names -= {"the Director", "the director"}  # a character there, a common word everywhere
    return re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b", re.I)


def literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_film_is_named_in_the_code() -> None:
    names = film_names()
    found = [f"{path.relative_to(ROOT)}:{line}: {names.search(text).group(0)!r}"  # type: ignore[union-attr]
             for path in sorted((ROOT / "bot").rglob("*.py")) for line, text in literals(path) if names.search(text)]
    assert found == []


def test_no_film_is_named_in_the_shipped_answers() -> None:
    text = (ROOT / "intents" / "answers.yml").read_text(encoding="utf-8")
    found = [f"answers.yml:{n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1) if film_names().search(line)]
    assert found == []


def test_no_film_is_named_in_the_nlu_files_outside_their_examples() -> None:
    names = film_names()
    found = []
    for path in sorted((ROOT / "intents" / "nlu").glob("*.yml")):
        text = path.read_text(encoding="utf-8")
        comments = [line for line in text.splitlines() if line.lstrip().startswith("#") and names.search(line)]
        data = yaml.safe_load(text)
        rest = [f"{k}: {v}" for item in data.get("nlu", []) for k, v in item.items() if k != "examples"]
        rest += [f"{k}: {v}" for k, v in data.items() if k != "nlu"]
        found += [f"{path.name}: {line}" for line in comments + rest if names.search(line)]
    assert found == []


def test_the_check_itself_finds_a_name(tmp_path: Path) -> None:
    # the scan is only worth something if it can fail
    sample = tmp_path / "sample.py"
    sample.write_text('"""Docstrings may say Ballerina."""\nHELP = "Ask me about Ballerina!"\n', encoding="utf-8")
    assert [text for _, text in literals(sample) if film_names().search(text)] == ["Ask me about Ballerina!"]


def test_the_shipped_suggestions_are_filled_in_and_answered(brain) -> None:  # type: ignore[no-untyped-def]
    suggestions = brain.mind.answers.suggestions
    assert len(suggestions) >= 5 and not any("{" in s for s in suggestions)
    for suggestion in suggestions:
        assert brain.reply(None, "u", suggestion).kind == "answer", suggestion
