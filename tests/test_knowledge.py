from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import DataFileError
from bot.knowledge import KnowledgeBase

from .conftest import ROOT

SHIPPED = ROOT / "knowledge" / "ballerina.yml"


def test_shipped_knowledge_is_valid_and_every_fact_has_a_dated_source() -> None:
    kb = KnowledgeBase.load(SHIPPED)
    assert kb.facts
    for fact in kb.facts:
        assert fact.source in kb.sources
        assert fact.known[:4].isdigit()
    assert kb.passages, "the article is indexed for search"


def test_article_facts_are_all_present() -> None:
    kb = KnowledgeBase.load(SHIPPED)
    sentences = " ".join(kb.sentence(f) for f in kb.facts)
    for needed in ("Len Wiseman", "Ana de Armas", "Rooney", "Ian McShane", "Winston", "Lance Reddick", "Charon",
                   "Angelica Huston", "spring or summer 2024", "Underworld", "Die Hard", "Transporter",
                   "No Time To Die", "Paloma", "COVID", "High Table", "box office"):
        assert needed in sentences, needed


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "kb.yml"
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "ballerina-article.txt").write_text("An article.", encoding="utf-8")
    text = SHIPPED.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_unknown_relation_error_names_file_line_and_field(tmp_path: Path) -> None:
    path = _broken(tmp_path, "relation: directed_by, object: len_wiseman", "relation: directed_byy, object: len_wiseman")
    with pytest.raises(DataFileError) as info:
        KnowledgeBase.load(path)
    err = info.value
    assert err.path == str(path) and err.line is not None
    line = path.read_text(encoding="utf-8").splitlines()[err.line - 1]
    assert "directed_byy" in line
    assert "unknown relation" in str(err)


def test_missing_field_error_names_the_field(tmp_path: Path) -> None:
    path = _broken(tmp_path, "    kind: person\n    name: Len Wiseman", "    kind: person")
    with pytest.raises(DataFileError) as info:
        KnowledgeBase.load(path)
    assert "name" in (info.value.field or "") and info.value.line


def test_invalid_yaml_reports_the_line(tmp_path: Path) -> None:
    path = _broken(tmp_path, "title: Ballerina", "title: [Ballerina")
    with pytest.raises(DataFileError) as info:
        KnowledgeBase.load(path)
    assert "invalid YAML" in str(info.value) and info.value.line


def test_yaml_yes_no_and_dates_stay_text(tmp_path: Path) -> None:
    path = _broken(tmp_path, 'object: "spring or summer 2024"', "object: no")
    kb = KnowledgeBase.load(path)
    assert "no" in [f.object for f in kb.facts if f.relation == "release"]


def test_a_character_cannot_direct_a_film(tmp_path: Path) -> None:
    path = _broken(tmp_path, "relation: directed_by, object: len_wiseman", "relation: directed_by, object: winston")
    with pytest.raises(DataFileError, match="cannot be the object"):
        KnowledgeBase.load(path)
