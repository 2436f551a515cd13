"""What a start reads back from the cache folder instead of working out again is keyed by the bytes it
stands for: a changed file is checked and read afresh."""
from __future__ import annotations

import logging
import random
import re
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.dialogue import Brain
from bot import validation
from bot.errors import DataFileError
from bot.storage import open_storage


def start(project: Path) -> Brain:
    return Brain.from_settings(load_settings(project, env={}), open_storage(":memory:"), random.Random(1))


def test_a_quiz_file_broken_after_a_good_start_stops_the_next_start(project: Path) -> None:
    assert "Len Wiseman" in start(project).reply(None, None, "who directs ballerina?").text
    settings = load_settings(project, env={})
    assert list(Path(settings.cache_dir).glob("consistent-*.json"))  # the verdict on these bytes is kept
    Path(settings.quiz_file).write_text("questions: [unclosed\n", encoding="utf-8")
    with pytest.raises(DataFileError):
        start(project)


def test_warnings_found_once_are_reported_again_from_the_kept_verdict(project: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    kb = project.parent / "knowledge" / "ballerina.yml"  # a route to a relation the knowledge lacks: a warning
    text = re.sub(r"  - id: works_for\n(    .*\n)+", "", kb.read_text(encoding="utf-8"))
    kb.write_text("\n".join(line for line in text.splitlines() if "relation: works_for" not in line) + "\n",
                  encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bot.validation"):
        start(project)
    first = [r.getMessage() for r in caplog.records if "works_for" in r.getMessage()]
    assert first
    caplog.clear()
    validation._reported.clear()  # a new process has reported nothing yet
    with caplog.at_level(logging.WARNING, logger="bot.validation"):
        start(project)
    assert [r.getMessage() for r in caplog.records if "works_for" in r.getMessage()] == first


def test_the_model_is_found_by_the_training_files_bytes_and_a_broken_file_is_still_refused(project: Path) -> None:
    start(project)
    nlu = project.parent / "intents" / "nlu" / "smalltalk.yml"
    nlu.write_text(nlu.read_text(encoding="utf-8") + "\n- intent: [broken\n", encoding="utf-8")
    with pytest.raises(DataFileError):
        start(project)
