"""One validator for every file (`python -m bot check`, start-up, `kb reload`, the watcher) and the
`new` scaffold (contract 9 of ARCHITECTURE.md)."""
from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.dialogue import Brain
from bot.errors import DataFileError
from bot.knowledge import KnowledgeBase
from bot.live import Reloader
from bot.storage import Storage, open_storage
from bot.validation import check_folder

from .conftest import ROOT

LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<field>[^:]+): (?P<problem>.+)$")


def bot(project: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "--config", str(project), *args], capture_output=True,
                          text=True, input=stdin, cwd=ROOT, timeout=120)


def errors(project: Path) -> list[str]:
    return [str(p) for p in check_folder(project) if p.severity == "error"]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_number(path: Path, needle: str, nth: int = 1) -> int:
    hits = [i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line]
    return hits[nth - 1]


def test_the_shipped_files_pass_and_check_exits_zero(project: Path) -> None:
    out = bot(project, "check")
    assert out.returncode == 0, out.stdout + out.stderr
    assert not [line for line in out.stdout.splitlines() if "warning" not in line]


def test_an_unclosed_bracket_is_reported_at_its_own_line(project: Path) -> None:
    kb = project.parent / "knowledge" / "ballerina.yml"
    kb.write_text(kb.read_text(encoding="utf-8") + "\n  - {subject: [unclosed\n", encoding="utf-8")
    out = bot(project, "check")
    assert out.returncode == 1
    match = LINE.match(out.stdout.splitlines()[1])
    assert match and match["file"] == str(kb) and int(match["line"]) == line_number(kb, "[unclosed")


def test_a_duplicate_key_is_an_error_at_the_second_one(project: Path) -> None:
    kb = project.parent / "knowledge" / "ballerina.yml"
    edit(kb, "    name: Ballerina\n", "    name: Ballerina\n    name: Something Else\n")
    (problem,) = errors(project)
    assert f":{line_number(kb, 'name: Something Else')}: name: " in problem and "duplicate key" in problem
    with pytest.raises(DataFileError):
        KnowledgeBase.load(kb)  # the loader the bot uses refuses it too: the film is not renamed


def test_a_duplicate_entity_id_is_reported_at_the_duplicate(project: Path) -> None:
    kb = project.parent / "knowledge" / "ballerina.yml"
    edit(kb, "  - id: winston\n", "  - id: charon\n")
    found = errors(project)
    duplicate = next(p for p in found if "duplicate entity id 'charon'" in p)
    assert f":{line_number(kb, '- id: charon', 2)}: entities[" in duplicate


@pytest.mark.parametrize("date", ["2023-13", "2023-02-30", "2023-1"])
def test_a_date_that_is_not_real_is_refused_by_the_loader(project: Path, date: str) -> None:
    kb = project.parent / "knowledge" / "ballerina.yml"
    edit(kb, 'relation: directed_by, object: len_wiseman, source: article, known: "2023-03"',
         f'relation: directed_by, object: len_wiseman, source: article, known: "{date}"')
    (problem,) = errors(project)
    assert "known" in problem and date in problem
    assert f":{line_number(kb, date)}:" in problem


def test_every_problem_of_a_file_gets_its_own_line(project: Path) -> None:
    kb = project.parent / "knowledge" / "ballerina.yml"
    edit(kb, "relation: directed_by, object: len_wiseman", "relation: directed, object: len_wiseman")
    edit(kb, "relation: starring, object: ana_de_armas, role: rooney", "relation: starring, object: ana, role: rooney")
    out = bot(project, "check")
    lines = [line for line in out.stdout.splitlines() if "warning" not in line]
    assert out.returncode == 1 and len(lines) == 2 and all(LINE.match(line) for line in lines)
    assert "unknown relation 'directed'" in lines[0] and "unknown object entity 'ana'" in lines[1]


@pytest.mark.parametrize("name, text, expect", [
    ("nlu/facts.yml", "nlu:\n- intent: ask_director\n  examples: [unclosed\n", ":3: file: invalid YAML"),
    ("nlu/smalltalk.yml", "", "file is empty"),
    ("nlu/smalltalk.yml", "version: '3.1'\nnlu:\n- intent: greet\n  synonym: hi\n  examples: |\n    - hi\n",
     "exactly one of intent"),
    ("answers.yml", "routes: {}\nresponses:\n  utter_x:\n  - text: '{nope}'\n", "unknown placeholder"),
])
def test_broken_intents_and_answers_files_are_reported(project: Path, name: str, text: str, expect: str) -> None:
    (project.parent / "intents" / name).write_text(text, encoding="utf-8")
    found = errors(project)
    assert any(name in p and expect in p for p in found), found
    with pytest.raises(DataFileError):  # and the bot does not start from them
        Brain.from_settings(load_settings(project, env={}), open_storage(":memory:"))


def test_kb_reload_checks_every_file_not_just_the_knowledge(project: Path) -> None:
    nlu = project.parent / "intents" / "nlu" / "smalltalk.yml"
    nlu.write_text(nlu.read_text(encoding="utf-8") + "\n- intent: [broken\n", encoding="utf-8")
    out = bot(project, "kb", "reload")
    assert out.returncode == 1 and "valid" not in out.stdout
    assert f"{nlu}:" in out.stderr


def test_the_live_watcher_keeps_the_old_files_when_a_new_one_is_broken(project: Path) -> None:
    settings = load_settings(project, env={})
    brain = Brain.from_settings(settings, open_storage(":memory:"), random.Random(1))
    reloader = Reloader(brain, settings)
    answers = project.parent / "intents" / "answers.yml"
    edit(answers, "  ask_director:\n    handler: facts\n", "  ask_director:\n    handler: facts\n    handler: yesno\n")
    assert reloader.reload(force=True) is False
    assert "Len Wiseman" in brain.reply(None, None, "who directs ballerina?").text


def test_a_route_to_a_relation_the_knowledge_lacks_is_answered_i_dont_know(project: Path, tmp_path: Path) -> None:
    kb = project.parent / "knowledge" / "ballerina.yml"
    text = kb.read_text(encoding="utf-8")
    text = re.sub(r"  - id: works_for\n(    .*\n)+", "", text)
    text = "\n".join(line for line in text.splitlines() if "relation: works_for" not in line) + "\n"
    kb.write_text(text, encoding="utf-8")
    problems = check_folder(project)
    warning = next(p for p in problems if "works_for" in p.message)
    assert warning.severity == "warning" and warning.path.endswith("answers.yml")
    assert warning.field == "routes.ask_employer.relations[0]" and warning.line == line_number(
        project.parent / "intents" / "answers.yml", "relations: [works_for]")
    batch = tmp_path / "b.jsonl"
    batch.write_text("".join(json.dumps({"chat": None, "text": t}) + "\n"
                             for t in ("who does joe drake work for?", "who directs ballerina?")), encoding="utf-8")
    out = bot(project, "ask", "--json", "--batch", str(batch))
    replies = [json.loads(line) for line in out.stdout.splitlines()]
    assert out.returncode == 0 and "Traceback" not in out.stderr and len(replies) == 2
    assert replies[0]["kind"] == "unknown" and "Len Wiseman" in replies[1]["text"]


def test_quiz_problems_name_the_quiz_file_and_line(project: Path) -> None:
    quiz = project.parent / "knowledge" / "quiz.yml"
    edit(quiz, "    relation: main_character\n", "    relation: main_characters\n")
    edit(quiz, "    question: \"Who directed {subject}?\"", "    question: \"Who directed {film}?\"")
    edit(quiz, "fact: {subject: ballerina, relation: main_character, object: rooney}",
         "fact: {subject: ballerina, relation: main_character, object: winston}")
    problems = check_folder(project)
    by_field = {p.field: p for p in problems if p.path == str(quiz)}
    assert by_field["generators[4].relation"].line == line_number(quiz, "relation: main_characters")
    assert by_field["generators[0].question"].severity == "error"
    dropped = next(p for p in problems if "heroine_name" in p.message)
    assert dropped.severity == "warning" and "left out" in dropped.message
    assert dropped.line == line_number(quiz, "object: winston}")


def test_quiz_questions_written_for_another_knowledge_are_left_out_and_said_so(project: Path) -> None:
    quiz = project.parent / "knowledge" / "quiz.yml"
    edit(quiz, "knowledge: ballerina.yml", "knowledge: mad_max.yml")
    problems = check_folder(project)
    (warning,) = [p for p in problems if p.field == "knowledge"]
    assert warning.severity == "warning" and "hand-written" in warning.message
    from bot.quiz.bank import build_bank, load_quiz_file

    settings = load_settings(project, env={})
    bank = build_bank(KnowledgeBase.load(settings.knowledge), load_quiz_file(quiz), quiz)
    assert bank.questions and not [q for q in bank.questions if q.id.startswith("hw:")]


def test_a_missing_knowledge_file_is_one_clear_line(project: Path) -> None:
    (project.parent / "knowledge" / "ballerina.yml").unlink()
    out = bot(project, "check")
    assert out.returncode == 1 and out.stdout.strip().endswith("file: file not found")


# --------------------------------------------------------------------------- new


def test_new_writes_a_folder_that_checks_chats_and_quizzes_at_once(tmp_path: Path, project: Path) -> None:
    folder = tmp_path / "thunderdome"
    out = bot(project, "new", str(folder), "--title", "Mad Max Beyond Thunderdome")
    assert out.returncode == 0, out.stderr
    config = folder / "config.yml"
    assert bot(config, "check").returncode == 0
    chat = bot(config, "chat", stdin="hello\nwho directed it?\n")
    assert chat.returncode == 0 and "Mad Max Beyond Thunderdome" in chat.stdout and "Traceback" not in chat.stderr
    assert "Ballerina" not in chat.stdout
    quiz = bot(config, "quiz", "-n", "1", "-s", "5", stdin="/stop\n")
    assert quiz.returncode == 0 and "Traceback" not in quiz.stderr


def test_new_never_overwrites(tmp_path: Path, project: Path) -> None:
    folder = tmp_path / "film"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    out = bot(project, "new", str(folder), "--title", "Anything")
    assert out.returncode == 1 and "nothing was written" in out.stderr
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_the_parsed_file_cache_never_hides_an_edit(project: Path, tmp_path: Path) -> None:
    kb_path = project.parent / "knowledge" / "ballerina.yml"
    cache = tmp_path / "cache"
    KnowledgeBase.load(kb_path, cache)
    assert len(list(cache.glob("yaml-*.json"))) == 1
    assert KnowledgeBase.load(kb_path, cache).entities["ballerina"].name == "Ballerina"  # read back from the cache
    edit(kb_path, "    name: Ballerina\n", "    name: Ballerina\n    name: Other\n")
    with pytest.raises(DataFileError) as caught:
        KnowledgeBase.load(kb_path, cache)
    assert caught.value.line == line_number(kb_path, "name: Other")
    edit(kb_path, "    name: Ballerina\n    name: Other\n", "    name: Ballerina Two\n")
    assert KnowledgeBase.load(kb_path, cache).entities["ballerina"].name == "Ballerina Two"
    assert len(list(cache.glob("yaml-*.json"))) == 1  # the old version's copy is gone


def test_long_work_says_so_on_stderr_never_stdout(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from bot import progress

    monkeypatch.delenv("BOT_QUIET", raising=False)
    monkeypatch.setattr(progress, "LATER", 0.0)
    announced = threading.Event()
    with progress.status("training the intent model"):
        for _ in range(1000):  # the announcement comes from a timer thread: wait for it, never a fixed sleep
            if "training" in capsys.readouterr().err:
                announced.set()
                break
            threading.Event().wait(0.01)
    out = capsys.readouterr()
    assert announced.is_set() and out.out == "" and "done in" in out.err


def test_start_up_names_every_problem_on_its_own_line(project: Path) -> None:
    kb = project.parent / "knowledge" / "ballerina.yml"
    edit(kb, "relation: directed_by, object: len_wiseman", "relation: directed, object: len_wiseman")
    edit(kb, "relation: starring, object: ana_de_armas, role: rooney", "relation: starring, object: ana, role: rooney")
    out = bot(project, "ask", "--json", "who directs ballerina?")
    assert out.returncode == 1 and out.stdout == "" and "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if LINE.match(line)]
    assert len(lines) == 2 and "'directed'" in lines[0] and "'ana'" in lines[1]
