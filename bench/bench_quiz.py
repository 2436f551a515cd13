"""Benchmark quizzes: 10,000 games running at once in one process.

    python bench/bench_quiz.py [--games 10000] [--questions 3] [--seconds 20] [--stagger S]
                                [--database URL]

Runs the real engine (an SQLite file, or the PostgreSQL at ``--database``; every change is a transaction
that holds the game), the real runner and its timer poller (what Telegram uses), with sending replaced by
a no-op and simulated players: the figures are the quiz's own costs. Prints memory per running game and
timer lateness (how long after its due time each hint/deadline/next timer fired, p50/p99/max). Asserts
nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_settings  # noqa: E402
from bot.knowledge.base import KnowledgeBase  # noqa: E402
from bot.quiz import Posted, QuizRunner, build_engine  # noqa: E402
from bot.quiz.bank import Question  # noqa: E402
from bot.quiz.state import Game, Round  # noqa: E402
from bot.runtime import tune_gc  # noqa: E402
from bot.storage import open_storage  # noqa: E402


class NullIO:
    """Sending costs nothing here (the Telegram bench measures sending). Each question sent gets a
    simulated player's answer at a random moment: right, wrong, or none at all (a time-out)."""

    def __init__(self, rng: random.Random) -> None:
        self.sent = 0
        self.answered = 0
        self.rng = rng
        self.runner: QuizRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def send_question(self, game: Game, rnd: Round, question: Question) -> Posted:
        self.sent += 1
        pick = self.rng.random()
        if pick < 0.66:
            right = "ABCD"[rnd.correct[0]] if rnd.options else question.answer
            text = right if pick < 0.33 else "definitely not this"
            loop = asyncio.get_running_loop()
            loop.call_later(self.rng.uniform(0.2, 0.9) * game.seconds, self._answer, game.chat, game.started_by, text)
        return Posted(self.sent)

    def _answer(self, chat: str, user: str, text: str) -> None:
        assert self.runner is not None
        self.answered += 1
        task = asyncio.get_running_loop().create_task(self.runner.on_text(chat, user, "Player", text))  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def edit_question(self, game: Game, message_id: int, text: str) -> None:
        return None

    async def close_poll(self, game: Game, message_id: int) -> None:
        return None

    async def send_text(self, chat: str, text: str, reply_to: int | None = None) -> None:
        return None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run(args: argparse.Namespace) -> None:
    settings = load_settings(env={})
    settings = settings.model_copy(update={"quiz": settings.quiz.model_copy(
        update={"questions": args.questions, "seconds": args.seconds, "mode": "text"})})
    kb = KnowledgeBase.load(settings.knowledge)
    if args.database:
        storage = open_storage(args.database, check_schema=False)
        storage.upgrade()
        storage.query("DELETE FROM quiz_timers")
        storage.query("DELETE FROM quiz_polls")
        storage.query("DELETE FROM quiz_games")
    else:
        storage = open_storage(Path(tempfile.mkdtemp(prefix="bench-quiz-")) / "quiz.sqlite3")
    engine = build_engine(settings, storage, lambda: kb, seed=1)
    engine.bank()  # build the shared question bank before measuring per-game memory

    if not args.default_gc:
        tune_gc()  # as `python -m bot serve` does after start-up (bot/runtime.py)
    io = NullIO(random.Random(2))
    runner = QuizRunner(engine, io)
    runner.timers.lateness = []
    io.runner = runner
    await runner.start_timers()

    # memory: tracemalloc over the first games only (it slows every allocation, which would distort timers)
    sample = min(1000, args.games)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    for i in range(sample):
        await runner.start(f"chat{i}", f"user{i}", f"Player {i}")
    gc.collect()
    after = tracemalloc.take_snapshot()
    per_game = sum(s.size_diff for s in after.compare_to(before, "filename")) / sample
    tracemalloc.stop()
    start_seconds = time.perf_counter() - started
    spread = time.monotonic()
    for i in range(sample, args.games):
        if args.stagger:  # games start at random moments over this many seconds, as /quiz commands arrive
            due = spread + args.stagger * (i - sample) / max(1, args.games - sample)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        elif i % 50 == 0:
            await asyncio.sleep(0)  # all at once, only letting due timers run
        began = time.perf_counter()
        await runner.start(f"chat{i}", f"user{i}", f"Player {i}")
        start_seconds += time.perf_counter() - began
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    steady_from = len(runner.timers.lateness)  # timers due after every game is running

    # players answer: a third right, a third wrong, a third silent (their questions time out); each answer
    # comes at a random moment of its question, as a timer of its own, so the bench loop costs nothing
    done = asyncio.Event()
    while await asyncio.to_thread(engine.running_count):
        try:
            await asyncio.wait_for(done.wait(), timeout=0.5)
        except asyncio.TimeoutError:
            pass
    unfinished = engine.running_count()
    await runner.stop_timers()

    late = runner.timers.lateness
    steady = late[steady_from:]
    how = f"started over {args.stagger:g} s" if args.stagger else "all started at once"
    print(f"games: {args.games} running together ({how}), {args.questions} questions of {args.seconds} s, "
          f"storage: {storage.kind}, gc: {'default' if args.default_gc else 'tuned as in serve'}")
    print(f"start all games: {start_seconds:.2f} s ({start_seconds / args.games * 1000:.3f} ms per game, "
          f"question sent and saved)")
    print(f"memory per running game: {per_game / 1024:.1f} KB (tracemalloc over {sample} games: Python objects; "
          f"games and timers are rows in the database); peak RSS grew {(rss_after - rss_before) / 1024:.1f} MB for {args.games} games "
          f"({(rss_after - rss_before) / args.games:.1f} KB each)")
    print(f"timers fired: {len(late)}; lateness p50 {percentile(late, 0.5) * 1000:.1f} ms, "
          f"p99 {percentile(late, 0.99) * 1000:.1f} ms, max {max(late) * 1000 if late else 0:.1f} ms, "
          f"mean {statistics.fmean(late) * 1000 if late else 0:.1f} ms")
    print(f"  once all games were running ({len(steady)} timers): p50 {percentile(steady, 0.5) * 1000:.1f} ms, "
          f"p99 {percentile(steady, 0.99) * 1000:.1f} ms")
    print(f"answers judged: {io.answered}; questions sent: {io.sent}; games unfinished at the end: {unfinished}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--games", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=20, help="per question (the default in config.yml)")
    parser.add_argument("--stagger", type=float, default=0.0,
                        help="start the games over this many seconds instead of all at once")
    parser.add_argument("--default-gc", action="store_true",
                        help="keep Python's default garbage-collector settings (the bot tunes them)")
    parser.add_argument("--database", default="",
                        help="a postgresql:// URL (its quiz tables are emptied first); default: a new SQLite file")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
