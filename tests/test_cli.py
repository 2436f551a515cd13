"""The command line as outside checks use it (contracts 1, 2 and 4 of ARCHITECTURE.md)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def bot(project: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "--config", str(project), *args], capture_output=True,
                          text=True, input=stdin, cwd=ROOT, timeout=120)


def test_ask_json_prints_one_reply_object(project: Path) -> None:
    out = bot(project, "ask", "--json", "who directs Ballerina?")
    reply = json.loads(out.stdout)
    assert reply["kind"] == "answer" and reply["intent"] == "ask_director"
    assert "Len Wiseman" in reply["text"] and 0 <= reply["confidence"] <= 1


def test_batch_keeps_conversations_apart_and_in_order(project: Path, tmp_path: Path) -> None:
    lines = [{"chat": "a", "text": "who plays Winston?"}, {"chat": None, "text": "hello"},
             {"chat": "a", "text": "and Charon?"}, {"chat": "b", "text": "and Charon?"}]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines) + "not json\n", encoding="utf-8")
    out = bot(project, "ask", "--json", "--batch", str(batch))
    replies = [json.loads(line) for line in out.stdout.splitlines()]
    assert out.returncode == 0 and len(replies) == 5
    assert "Ian McShane" in replies[0]["text"] and replies[1]["kind"] == "smalltalk"
    assert "Lance Reddick" in replies[2]["text"]
    assert replies[3]["intent"] != "ask_actor_of_character" or "Lance Reddick" not in replies[3]["text"]
    assert "error" in replies[4]


def test_config_env_selects_a_copy(project: Path) -> None:
    env = {"BOT_CONFIG": str(project), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "bot", "ask", "who plays Charon?"], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=120)
    assert "Lance Reddick" in out.stdout
    subprocess.run([sys.executable, "-m", "bot", "chat"], input="hi\n", capture_output=True, text=True, env=env,
                   cwd=ROOT, timeout=120)
    assert (project.parent / "data" / "bot.sqlite3").exists(), "the database path is relative to the copied config"


def test_broken_knowledge_gives_a_clear_error_and_no_traceback(project: Path) -> None:
    kb = project.parent / "knowledge" / "ballerina.yml"
    kb.write_text(kb.read_text(encoding="utf-8").replace("title: Ballerina", "title: [Ballerina"), encoding="utf-8")
    out = bot(project, "ask", "hello")
    assert out.returncode != 0
    assert "ballerina.yml" in out.stderr and "line" in out.stderr and "Traceback" not in out.stderr


def test_console_chat_end_to_end(project: Path) -> None:
    out = bot(project, "chat", stdin="who directs ballerina?\nwhat else has he directed?\n/quit\n")
    assert "Len Wiseman" in out.stdout and "Underworld" in out.stdout


def test_evaluate_prints_metrics_as_json(project: Path) -> None:
    out = bot(project, "evaluate", "--json", "--folds", "3", "--eval-set",
              str(ROOT / "tests" / "eval" / "conversations.yml"))
    report = json.loads(out.stdout)
    assert report["cross_validation"]["per_intent"]["ask_director"]["recall"] > 0.5
    assert report["eval_set"]["turns"] >= 200


def test_batch_bad_lines_get_an_error_each_and_the_rest_are_answered(project: Path, tmp_path: Path) -> None:
    good = json.dumps({"chat": "a", "text": "who plays Winston?"}).encode()
    lines = [good, b'{"chat": "a", "text": "caf\xe9 \xff"}', b"{not json", b"[1, 2, 3]", b'"just a string"',
             b'{"chat": "a", "text": 42}', b'{"chat": {"x": 1}, "text": "hi"}', b"[" * 100_000,
             json.dumps({"chat": "a", "text": "and Charon?"}).encode()]
    batch = tmp_path / "batch.jsonl"
    batch.write_bytes(b"\n".join(lines) + b"\n")
    out = subprocess.run([sys.executable, "-m", "bot", "--config", str(project), "ask", "--json", "--batch",
                          str(batch)], capture_output=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0 and b"Traceback" not in out.stderr, out.stderr[-2000:]
    replies = [json.loads(line) for line in out.stdout.decode("utf-8").splitlines()]
    assert len(replies) == len(lines)
    assert "Ian McShane" in replies[0]["text"]
    for number, reply in enumerate(replies[1:-1], 2):
        assert reply["error"].startswith(f"line {number}: "), reply
    assert "UTF-8" in replies[1]["error"] and "JSON" in replies[2]["error"]
    assert "Lance Reddick" in replies[-1]["text"], "the conversation went on after the bad lines"
