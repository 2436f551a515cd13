"""Admin edits across processes: crashes mid-write, concurrent writers, and a running chat seeing a CLI edit."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.config import load_settings
from bot.knowledge import KnowledgeBase

ROOT = Path(__file__).resolve().parent.parent
WRITER = """
import sys
from bot.admin import Actor, Admin
from bot.config import load_settings
from bot.storage import Storage, open_storage
settings = load_settings(sys.argv[1], env={{}})
admin, me = Admin(settings, open_storage(settings.database)), Actor.local_operator()
print("ready", flush=True)
for i in range({count}):
    {operation}
print("done", flush=True)
"""


def env(config: Path) -> dict[str, str]:
    return dict(os.environ, BOT_CONFIG=str(config), PYTHONPATH=str(ROOT))


def writer(config: Path, operation: str, count: int) -> subprocess.Popen[str]:
    code = WRITER.format(count=count, operation=operation)
    return subprocess.Popen([sys.executable, "-c", code, str(config)], cwd=ROOT, env=env(config),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_9_during_a_stream_of_writes_leaves_a_valid_file(project: Path) -> None:
    path = load_settings(project, env={}).knowledge
    for run, delay in enumerate((0.05, 0.2, 0.33, 0.5)):
        operation = f'admin.set_fact(me, "Ballerina", "release", f"run {run} take {{i}}", source=f"src {{i % 3}}")'
        proc = writer(project, operation, 10_000)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        first = path.stat().st_mtime_ns
        deadline = time.time() + 10
        while path.stat().st_mtime_ns == first and time.time() < deadline:  # writing has started
            time.sleep(0.01)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        kb = KnowledgeBase.load(path)  # validates
        [fact] = kb.facts_about("ballerina", "release")
        assert fact.object.startswith(f"run {run} take ")


def test_two_processes_writing_at_once_lose_nothing(project: Path) -> None:
    procs = [writer(project, f'admin.add_alias(me, "Ballerina", f"{name} alias {{i}}")', 10) for name in ("left", "right")]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-500:]
    aliases = KnowledgeBase.load(load_settings(project, env={}).knowledge).entities["ballerina"].aliases
    for name in ("left", "right"):
        assert all(f"{name} alias {i}" in aliases for i in range(10))


def bot(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env(config), capture_output=True,
                          text=True, timeout=60)


def test_cli_show_set_undo_and_friendly_errors(project: Path) -> None:
    import json

    path = load_settings(project, env={}).knowledge
    original = path.read_bytes()
    shown = json.loads(bot(project, "kb", "show", "ballerina", "release", "--json").stdout)
    assert shown[0]["value"] == "spring or summer 2024" and shown[0]["source"] == "lionsgate_drake"
    p = bot(project, "kb", "set", "Ballerina", "release", "6 June 2025", "--source", "Variety", "--known", "2024-11-20")
    assert p.returncode == 0 and "according to variety" in p.stdout.lower(), p.stderr
    p = bot(project, "kb", "set", "Ballerina", "budget", "x", "--source", "y")
    assert p.returncode == 1 and p.stderr.startswith("error: there is no relation") and "Traceback" not in p.stderr
    assert "set ballerina release" in bot(project, "kb", "history").stdout
    assert bot(project, "kb", "undo").returncode == 0
    assert path.read_bytes() == original
    p = bot(project, "kb", "undo")
    assert p.returncode == 1 and "nothing to undo" in p.stderr


def test_running_chat_answers_with_a_change_made_by_another_process(project: Path) -> None:
    chat = subprocess.Popen([sys.executable, "-m", "bot", "chat"], cwd=ROOT, env=env(project), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert chat.stdin is not None and chat.stdout is not None

    def ask(text: str) -> str:
        chat.stdin.write(text + "\n")  # type: ignore[union-attr]
        chat.stdin.flush()  # type: ignore[union-attr]
        while True:
            line = chat.stdout.readline()  # type: ignore[union-attr]
            assert line, "chat ended"
            if line.startswith("bot> "):
                return line

    try:
        assert "spring or summer 2024" in ask("when is Ballerina out?")
        p = bot(project, "kb", "set", "Ballerina", "release", "6 June 2025", "--source", "Variety")
        assert p.returncode == 0, p.stderr
        time.sleep(1.0)
        reply = ask("when is Ballerina out?")
        assert "6 June 2025" in reply and "according to variety" in reply.lower()
    finally:
        chat.stdin.close()
        chat.wait(10)


def test_cli_preview_prints_the_answer_and_changes_nothing(project: Path) -> None:
    path = load_settings(project, env={}).knowledge
    original = path.read_bytes()
    p = bot(project, "kb", "set", "Ballerina", "release", "June 6, 2025", "--source", "Variety", "--preview")
    assert p.returncode == 0, p.stderr
    assert "due for release on June 6, 2025" in p.stdout and "would answer" in p.stdout and "June 6, 2025," in p.stdout
    assert path.read_bytes() == original
    assert "No changes yet." in bot(project, "kb", "history").stdout
