"""`python -m bot quiz`: the quiz in the terminal, typed answers against a real clock.

The same runner and engine as Telegram; lines are read on a thread and handed to the event loop, so
the question's timer runs while the player is thinking.
"""
from __future__ import annotations

import asyncio
import sys
import threading
from typing import TextIO

from ..config import Settings
from ..dialogue import Brain
from ..quiz import Posted, QuizError, QuizRunner, build_engine, render
from ..quiz import QuizEngine
from ..quiz.bank import Question
from ..quiz.state import Game, Round
from ..storage import Storage, open_storage

CHAT, USER = "console", "console"
HELP = "Type your answer (a letter for options), /skip, /score or /stop."


class ConsoleQuizIO:
    """Prints questions; an 'edit' prints only the lines that changed (the hint, then the reveal)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._shown: dict[int, list[str]] = {}
        self._next_id = 0

    async def send_question(self, game: Game, rnd: Round, question: Question) -> Posted:
        self._next_id += 1
        text = render.question_text(game, rnd, question)
        self._shown[self._next_id] = text.splitlines()
        self._print("\n" + text)
        return Posted(self._next_id)

    async def edit_question(self, game: Game, message_id: int, text: str) -> None:
        before = self._shown.get(message_id, [])
        lines = text.splitlines()
        self._shown[message_id] = lines
        self._print("\n".join(line for line in lines if line not in before))

    async def close_poll(self, game: Game, message_id: int) -> None:
        return None

    async def send_text(self, chat: str, text: str, reply_to: int | None = None) -> None:
        self._print(text)

    def _print(self, text: str) -> None:
        if text:
            self.out.write(text + "\n")
            self.out.flush()


def _read_lines(stream: TextIO, loop: asyncio.AbstractEventLoop, queue: "asyncio.Queue[str | None]") -> None:
    for line in iter(stream.readline, ""):
        loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
    loop.call_soon_threadsafe(queue.put_nowait, None)


async def play(brain: Brain, settings: Settings, *, questions: int | None = None, seconds: int | None = None,
               seed: int | None = None, name: str = "You", stdin: TextIO | None = None,
               stdout: TextIO | None = None) -> int:
    """Play one game; returns the points scored."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    quiz_settings = settings.quiz.model_copy(update={"mode": "text", **({"seconds": seconds} if seconds else {})})
    engine = build_engine(settings.model_copy(update={"quiz": quiz_settings}), open_storage(":memory:"),
                          lambda: brain.mind.kb, seed=seed, pause=min(settings.quiz.pause, 1.5))
    runner = QuizRunner(engine, ConsoleQuizIO(stdout))
    await runner.start_timers()
    try:
        return await _play(runner, engine, brain, name, questions, stdin, stdout)
    finally:
        await runner.stop_timers()


async def _play(runner: QuizRunner, engine: QuizEngine, brain: Brain, name: str, questions: int | None,
                stdin: TextIO, stdout: TextIO) -> int:
    stdout.write(f"🎬 {brain.mind.kb.title} quiz! {HELP}\n")
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    threading.Thread(target=_read_lines, args=(stdin, asyncio.get_running_loop(), queue), daemon=True).start()
    try:
        await runner.start(CHAT, USER, name, questions, "text")
    except QuizError as exc:
        stdout.write(f"{exc}\n")
        return 0
    while engine.running(CHAT):
        try:
            line = await asyncio.wait_for(queue.get(), timeout=0.1)
        except asyncio.TimeoutError:
            continue
        command = (line or "").strip().lower()
        try:
            if line is None or command in ("/stop", "/quit", "/exit"):
                await runner.stop(CHAT)
            elif command == "/skip":
                await runner.skip(CHAT)
            elif command == "/score":
                current = engine.running(CHAT)
                stdout.write(render.score_text(current, engine.standings(current) if current else []) + "\n")
            elif command:
                outcome = await runner.on_text(CHAT, USER, name, line)
                if outcome.verdict is not None and outcome.verdict.value == "wrong":
                    stdout.write("❌ No, sorry.\n" if engine.running(CHAT) else "")
        except QuizError as exc:
            stdout.write(f"{exc}\n")
        stdout.flush()
    # a fresh database per game: the all-time board is this game's
    return next((s.points for s in engine.leaderboard(CHAT) if s.user == USER), 0)


def run_console_quiz(brain: Brain, settings: Settings, **options: object) -> int:
    return asyncio.run(play(brain, settings, **options))  # type: ignore[arg-type]
