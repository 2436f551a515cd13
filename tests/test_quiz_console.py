"""`python -m bot quiz` end to end: a real process, a player typing at its prompts, a real clock."""
from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from bot.config import load_settings
from bot.knowledge.base import KnowledgeBase
from bot.quiz.bank import bank_for

ROOT = Path(__file__).resolve().parent.parent


class Player:
    """Drives the console quiz: reads what it prints, types answers."""

    def __init__(self, config: Path, *args: str) -> None:
        env = dict(os.environ, BOT_CONFIG=str(config), PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "quiz", *args], cwd=ROOT, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     encoding="utf-8")
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._pumping = threading.Thread(target=self._pump, daemon=True)
        self._pumping.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, predicate, timeout: float = 30.0) -> list[str]:  # type: ignore[no-untyped-def]
        """Lines up to and including the first one matching ``predicate``."""
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            out.append(line)
            self.seen.append(line)
            if predicate(line):
                return out
        raise AssertionError(f"never saw the expected line; output so far: {self.seen}")

    def type(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def close(self) -> int:
        if self.proc.stdin:
            self.proc.stdin.close()
        code = self.proc.wait(20)
        self._pumping.join(5)  # every line printed before exit is queued
        return code


def test_console_quiz_plays_a_whole_game(project: Path) -> None:
    settings = load_settings(project, env={})
    bank = bank_for(KnowledgeBase.load(settings.knowledge), settings.quiz_file)
    player = Player(project, "--questions", "3", "--seconds", "20", "--seed", "11")
    try:
        player.until(lambda line: "quiz!" in line)
        answered = 0
        for number in (1, 2, 3):
            block = player.until(lambda line: line.startswith("⏳"))
            text = block[block.index(next(b for b in block if b.startswith(f"❓ Question {number}/3"))) + 1]
            question = next(q for q in bank.questions if q.text == text)
            options = [line[3:] for line in block if line[:2] in ("A)", "B)", "C)", "D)")]
            if number == 2:
                player.type("/skip")
                player.until(lambda line: "Skipped" in line)
                continue
            typed = "ABCD"[options.index(question.answer)] if options else question.answer.upper() + "!"
            player.type(typed)
            player.until(lambda line: "You got it" in line)
            answered += 1
        final = player.until(lambda line: line.startswith("🏆"))
        assert any(f"({answered} right)" in line for line in final)
        assert any("Quiz over" in line for line in final)
    finally:
        code = player.close()
    assert code == 0


def test_console_quiz_survives_junk_and_stops_on_eof(project: Path) -> None:
    player = Player(project, "--questions", "2", "--seconds", "20")
    try:
        player.until(lambda line: line.startswith("⏳"))
        player.type("💃" * 2000 + "**[x](y)**")
        player.type("/score")
        player.until(lambda line: "Scores after question 1" in line)
    finally:
        code = player.close()  # Ctrl-D mid-game: the game is stopped and scored, not crashed
    assert code == 0
    assert any("Quiz stopped" in line for line in player.seen + list(player.lines.queue))
