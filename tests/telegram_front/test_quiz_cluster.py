"""Two workers, one bot: quiz games shared by two real PTB Applications (and two `serve` processes) on one
database, in webhook mode behind a round-robin balancer played by the test, against the Bot API emulator.

What a group sees must not depend on how many workers there are: each question asked once, each reveal
edited once, one "Quiz over", every right answer scored once by whichever worker got it (and never also
answered as a chat question), and a dead worker's timers fired by the other.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from telegram.ext import Application

from bot.channels.telegram import WebhookConfig, running
from bot.channels.telegram_quiz import TelegramQuiz
from bot.config import Settings, load_settings
from bot.dialogue import Brain, Mind
from bot.knowledge.base import KnowledgeBase
from bot.quiz import QuizEngine, build_engine
from bot.quiz.state import Game
from bot.storage import Storage, open_storage
from tests.support.botapi_emulator import DEFAULT_GROUP_ID, BotAPIEmulator, Call
from tests.support.postgres import PgSchema
from tests.support.telegram import TOKEN, make_app

ROOT = Path(__file__).resolve().parents[2]
GROUP = DEFAULT_GROUP_ID
ANN, BOB, CY = 11, 12, 13
NAMES = {ANN: "Ann", BOB: "Bob", CY: "Cy"}
SECRET = "cluster-S3cret"
STOP_TIMEOUT = 15.0  # s: every tear-down step is bounded


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(url: str, update: dict[str, Any], timeout: float = 30.0) -> int:
    request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST", headers={
        "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - a local test URL
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


class Balancer:
    """What a load balancer does in front of N webhook workers: each update goes to one of them."""

    def __init__(self, emu: BotAPIEmulator, urls: list[str]) -> None:
        self.emu = emu
        self.urls = urls
        self._turn = 0

    async def to(self, worker: int, update: dict[str, Any]) -> None:
        status = await asyncio.to_thread(post, self.urls[worker], update)  # the workers may share this loop
        assert status == 200, f"worker {worker} answered {status}"

    async def say(self, user: int, text: str, worker: int | None = None) -> None:
        update = self.emu.push_message(text, chat_id=GROUP, chat_type="group", user_id=user, first_name=NAMES[user])
        if worker is None:
            worker, self._turn = self._turn % len(self.urls), self._turn + 1
        await self.to(worker, update)

    async def vote(self, poll_id: str, user: int, option: int, worker: int) -> None:
        await self.to(worker, self.emu.push_poll_answer(poll_id, user, [option], first_name=NAMES[user]))


def right_answer(engine: QuizEngine) -> str | int:
    game = engine.running(str(GROUP))
    assert game and game.round
    if game.round.options:
        return "ABCD"[game.round.correct[0]] if game.mode == "text" else game.round.correct[0]
    question = engine.question(game)
    assert question
    return question.answer


def questions_asked(emu: BotAPIEmulator) -> Counter[int]:
    numbers = (re.search(r"Question (\d+)/", c.text or "") for c in emu.calls_to("sendMessage"))
    return Counter(int(m.group(1)) for m in numbers if m)


def reveals(emu: BotAPIEmulator) -> Counter[int]:
    """Reveal edits per question message (a reveal ends with the source line)."""
    return Counter(int(c.params["message_id"]) for c in emu.calls_to("editMessageText") if "📚" in (c.text or ""))


def finals(emu: BotAPIEmulator) -> list[Call]:
    return [c for c in emu.calls_to("sendMessage") if "Quiz over" in (c.text or "") or "Quiz stopped" in (c.text or "")]


def final_points(final: Call) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"(\w+): (\d+) pts", final.text or "")}


def scored_in_reveals(emu: BotAPIEmulator) -> Counter[str]:
    got: Counter[str] = Counter()
    for call in emu.calls_to("editMessageText"):
        match = re.search(r"(\w+) got it! \+(\d+) points", call.text or "")
        if match:
            got[match.group(1)] += int(match.group(2))
    return got


async def until(predicate: Any, what: str, timeout: float = 60.0) -> None:
    """Wait for readiness: on a loaded machine a step through two workers, the database and the outbox
    can take tens of seconds (a send that timed out is retried by its sender before the chat moves on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# --------------------------------------------------------------------------- two Applications, one database



@pytest.fixture(scope="module")
def quick(settings: Settings) -> Settings:
    return settings.model_copy(update={"quiz": settings.quiz.model_copy(update={"pause": 0.1, "seconds": 20})})


@contextlib.asynccontextmanager
async def two_workers(emu: BotAPIEmulator, mind: Mind, settings: Settings, database: str, inbox: bool = False
                      ) -> AsyncIterator[tuple[list[Application], Balancer]]:
    """Two Applications on one database behind a balancer; ``inbox``: updates go through the database's
    inbox, as ``serve`` workers on PostgreSQL do (else each app handles what it receives)."""
    apps, storages, hooks = [], [], []
    for _ in range(2):
        storage = open_storage(database)
        storages.append(storage)
        apps.append(make_app(emu, Brain(mind, settings, storage), settings))
        port = free_port()
        hooks.append(WebhookConfig(f"http://127.0.0.1:{port}/hook", "127.0.0.1", port, SECRET))
    async with contextlib.AsyncExitStack() as stack:
        for app, hook, storage in zip(apps, hooks, storages):
            await stack.enter_async_context(_bounded(running(app, hook, shared=storage if inbox else None)))
        try:
            yield apps, Balancer(emu, [h.url for h in hooks])
        finally:
            for app in apps:  # let what a worker is showing finish before the apps stop
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(quiz_of(app).runner.stop_timers(timeout=5), STOP_TIMEOUT)
    for storage in storages:
        storage.close()


@contextlib.asynccontextmanager
async def _bounded(inner: Any) -> AsyncIterator[Any]:
    """``running(app)`` whose stop is bounded: a hung stop fails the test instead of hanging the suite."""
    value = await inner.__aenter__()
    try:
        yield value
    finally:
        await asyncio.wait_for(inner.__aexit__(None, None, None), STOP_TIMEOUT)


def scores(database: str) -> list[tuple[str, str, int, int]]:
    """The chat's all-time scores, read as a fresh process would."""
    storage = open_storage(database)
    try:
        return storage.quiz_scores(str(GROUP))
    finally:
        storage.close()


def quiz_of(app: Application) -> TelegramQuiz:
    return app.bot_data["quiz"]  # type: ignore[no-any-return]


def engine_of(app: Application) -> QuizEngine:
    return quiz_of(app).engine


async def test_two_workers_play_one_text_quiz_each_step_once_and_every_answer_scored(
        emu: BotAPIEmulator, mind: Mind, quick: Settings, database: str) -> None:
    async with two_workers(emu, mind, quick, database) as (apps, lb):
        first, second = apps
        await lb.say(ANN, "/quiz 3 text", worker=0)
        await until(lambda: questions_asked(emu)[1] == 1, "question 1")
        # the game was started by worker 0; the right answer reaches worker 1, which knows the game
        await lb.say(BOB, str(right_answer(engine_of(second))), worker=1)
        await until(lambda: questions_asked(emu)[2] == 1, "question 2 after Bob's answer")
        # a wrong answer and a right one, each at the other worker; then a late right answer
        wrong = "definitely not the answer"
        await lb.say(CY, wrong, worker=0)
        await lb.say(ANN, str(right_answer(engine_of(first))), worker=1)
        await until(lambda: questions_asked(emu)[3] == 1, "question 3")
        # nobody answers question 3: its deadline comes, fired by whichever worker's poller claims it
        assert await quiz_of(first).runner.fire_now(str(GROUP), "deadline")
        await until(lambda: len(finals(emu)) >= 1, "the final ranking")
        await asyncio.sleep(0.5)  # anything sent twice would be sent by now (both pollers look every 0.1-1 s)
    assert questions_asked(emu) == {1: 1, 2: 1, 3: 1}
    assert set(reveals(emu).values()) == {1} and len(reveals(emu)) == 3
    (final,) = finals(emu)
    points = final_points(final)
    assert set(points) == {"Bob", "Ann"} and points == dict(scored_in_reveals(emu))
    assert {name: p for _, name, p, _ in scores(database)} == points  # all-time points exact: each answer once
    # the answers were judged as answers by both workers, not also answered as chat questions
    chat_replies = [c for c in emu.calls_to("sendMessage")
                    if "Question" not in (c.text or "") and "Quiz" not in (c.text or "")]
    assert not chat_replies, [c.text for c in chat_replies]


async def test_a_poll_vote_at_either_worker_scores_once(emu: BotAPIEmulator, mind: Mind, quick: Settings,
                                                        database: str) -> None:
    async with two_workers(emu, mind, quick, database) as (apps, lb):
        first, second = apps
        await lb.say(ANN, "/quiz 1 poll", worker=0)
        await until(lambda: len(emu.calls_to("sendPoll")) == 1, "the poll")
        poll_id = emu.calls_to("sendPoll")[0].result["poll"]["id"]
        option = int(right_answer(engine_of(first)))
        await lb.vote(poll_id, BOB, option, worker=1)   # the worker that did not send the poll
        await lb.vote(poll_id, CY, option, worker=0)
        await lb.vote(poll_id, CY, option, worker=1)    # a second vote by Cy, at the other worker: not scored again

        def both_scored() -> bool:
            game = engine_of(second).running(str(GROUP))
            return bool(game and {str(BOB), str(CY)} <= set(game.players))

        await until(both_scored, "both votes scored")
        assert await quiz_of(second).runner.fire_now(str(GROUP), "deadline")
        await until(lambda: len(finals(emu)) >= 1, "the final ranking")
        await asyncio.sleep(0.5)
    assert len(emu.calls_to("sendPoll")) == 1
    (final,) = finals(emu)
    points = final_points(final)
    assert set(points) == {"Bob", "Cy"} and all(p > 0 for p in points.values())
    board = {name: (p, right) for _, name, p, right in scores(database)}
    assert board == {name: (p, 1) for name, p in points.items()}


async def test_votes_that_reach_either_worker_before_the_poll_is_recorded_are_scored(
        emu: BotAPIEmulator, mind: Mind, quick: Settings, pg: PgSchema) -> None:
    """Quick voters beat the sending worker's record of its poll: Telegram has the poll (and its votes
    come) while the sender's record of it is held up, here by the game's row, locked from the moment
    sendPoll reaches Telegram until both votes were handled, one at each worker. However late the record
    comes, both votes count, once."""
    import psycopg

    upgrader = open_storage(pg.url, check_schema=False)
    upgrader.upgrade()
    upgrader.close()
    holder = psycopg.connect(pg.url)  # a transaction of its own, opened by the first query

    def hold_the_game(_params: Any) -> bool:  # on the emulator's side, as sendPoll arrives
        held = holder.execute("SELECT state FROM quiz_games WHERE chat = %s AND status = 'running' FOR UPDATE",
                              (str(GROUP),)).fetchall()
        game = Game.from_json(held[0][0]) if held else None
        assert game and game.round and game.round.message_id is None  # locked before any record of it
        return True

    emu.inject_fault("sendPoll", "slow", delay=0.0, when=hold_the_game)
    try:
        async with two_workers(emu, mind, quick, pg.url, inbox=True) as (apps, lb):
            first, second = apps
            await lb.say(ANN, "/quiz 1 poll", worker=0)
            await until(lambda: len(emu.calls_to("sendPoll")) == 1, "the poll")
            poll_id = emu.calls_to("sendPoll")[0].result["poll"]["id"]
            option = int(right_answer(engine_of(first)))
            votes = [emu.push_poll_answer(poll_id, user, [option], first_name=NAMES[user]) for user in (BOB, CY)]
            await lb.to(1, votes[0])  # the worker that did not send the poll
            await lb.to(0, votes[1])  # the sender, still waiting to record it
            ids = [v["update_id"] for v in votes]
            await until(lambda: pg.execute("SELECT COUNT(*) FROM inbox WHERE update_id = ANY(%s) AND handled IS NOT "
                                           "NULL", ids)[0][0] == 2, "both votes handled")
            holder.rollback()  # the record goes ahead

            def both_scored() -> bool:
                game = engine_of(second).running(str(GROUP))
                return bool(game and game.round and sorted(game.round.winners) == sorted([str(BOB), str(CY)]))

            await until(both_scored, "both votes scored")
            assert await quiz_of(second).runner.fire_now(str(GROUP), "deadline")
            await until(lambda: len(finals(emu)) >= 1, "the final ranking")
            await asyncio.sleep(0.5)
    finally:
        holder.close()
    (final,) = finals(emu)
    points = final_points(final)
    assert set(points) == {"Bob", "Cy"} and all(p > 0 for p in points.values())
    board = {name: (p, right) for _, name, p, right in scores(pg.url)}
    assert board == {name: (p, 1) for name, p in points.items()}


async def test_two_workers_starting_a_quiz_at_once_start_one(emu: BotAPIEmulator, mind: Mind, quick: Settings,
                                                             database: str) -> None:
    async with two_workers(emu, mind, quick, database) as (apps, lb):
        await asyncio.gather(lb.say(ANN, "/quiz 2 text", 0), lb.say(BOB, "/quiz 2 text", 1))
        await until(lambda: any("already running" in (c.text or "") for c in emu.calls_to("sendMessage")),
                    "the second start refused")
        await until(lambda: questions_asked(emu)[1] == 1, "question 1")
        await asyncio.sleep(0.3)
        assert questions_asked(emu) == {1: 1}
        await quiz_of(apps[0]).runner.stop(str(GROUP))
    assert len(finals(emu)) == 1


# --------------------------------------------------------------------------- two processes; one dies


def _config(tmp_path: Path) -> Path:
    """The shipped config with a short pause between questions, its paths pointing at the repo."""
    data = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    for key in ("knowledge", "quiz_file", "intents", "cache_dir"):
        data[key] = str(ROOT / data[key])
    data["quiz"]["pause"] = 0.3
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


class Worker:
    def __init__(self, config: Path, database: str, api: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
        env.update(PYTHONPATH=str(ROOT), BOT_CONFIG=str(config), BOT_DATABASE=database, BOT_TOKEN=TOKEN,
                   BOT_API_URL=api, BOT_WEBHOOK_SECRET=SECRET)
        self.log = log.open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--webhook-url", self.url,
                                      "--listen", "127.0.0.1", "--port", str(self.port)],
                                     cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def ready(self) -> bool:
        assert self.proc.poll() is None, "a worker exited while starting"
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


async def test_kill_9_of_a_worker_mid_game_the_other_fires_its_timers(emu: BotAPIEmulator, pg: PgSchema,
                                                                      tmp_path: Path) -> None:
    config = _config(tmp_path)
    upgrade = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=ROOT, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT), "BOT_CONFIG": str(config),
                                  "BOT_DATABASE": pg.url}, timeout=60)
    assert upgrade.returncode == 0, upgrade.stderr
    settings = load_settings(config, env={})
    engine = build_engine(settings, open_storage(pg.url), lambda: KnowledgeBase.load(settings.knowledge))
    workers = [Worker(config, pg.url, emu.base_url, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        await until(lambda: all(w.ready() for w in workers), "both workers listening", timeout=60)
        lb = Balancer(emu, [w.url for w in workers])
        emu.set_chat_admins(GROUP, [ANN])
        # questions long enough that nothing times out by itself while the test looks: question 2's deadline
        # comes when the test moves it, after the kill, so it can only be the survivor's (by a loaded
        # machine's clock, a 5 s question once timed out at the worker just before it died, and its reveal
        # died with it: a step is shown at most once, bot/quiz/runner.py)
        await lb.say(ANN, "/quizsettings seconds 120", worker=1)
        await until(lambda: any("Saved" in (c.text or "") for c in emu.calls_to("sendMessage")), "settings saved",
                    timeout=30)
        await lb.say(ANN, "/quiz 3 text", worker=0)
        await until(lambda: questions_asked(emu)[1] == 1, "question 1", timeout=60)
        await lb.say(BOB, str(right_answer(engine)), worker=1)
        await until(lambda: questions_asked(emu)[2] == 1, "question 2", timeout=60)

        def recorded() -> bool:  # its message id saved: a worker killed between sending and saving loses
            game = engine.running(str(GROUP))  # that one reveal (at most once, bot/quiz/runner.py)
            return bool(game and game.round and game.round.number == 2 and game.round.message_id)

        await until(recorded, "question 2's message recorded", timeout=30)
        workers[0].kill()  # kill -9: no clean-up of any kind; its pool's connections just drop
        # question 2's deadline, the next question and the end are all the survivor's: its time runs out now
        assert engine.hurry(str(GROUP), "deadline"), "question 2's deadline fired before the kill"
        await until(lambda: len(reveals(emu)) == 2, "question 2 timing out at the survivor", timeout=60)
        await until(lambda: questions_asked(emu)[3] == 1, "question 3", timeout=60)
        await lb.say(CY, str(right_answer(engine)), worker=1)
        await until(lambda: len(finals(emu)) >= 1, "the final ranking", timeout=60)
        await asyncio.sleep(1.5)  # a poller looks at least every second: a second firing would show by now
    finally:
        for worker in workers:
            worker.stop()
    logs = "\n".join((tmp_path / f"worker{i}.log").read_text() for i in range(2))
    seen = "\n".join(c.summary() for c in emu.calls if c.method != "getUpdates") + "\n" + logs
    assert questions_asked(emu) == {1: 1, 2: 1, 3: 1}, seen
    assert len(reveals(emu)) == 3 and set(reveals(emu).values()) == {1}, seen
    (final,) = finals(emu)
    points = final_points(final)
    assert set(points) == {"Bob", "Cy"} and points == dict(scored_in_reveals(emu))
    board = {name: p for _, name, p, _ in engine.storage.quiz_scores(str(GROUP))}
    engine.storage.close()
    assert board == points
    assert "Traceback" not in (tmp_path / "worker1.log").read_text()


@pytest.mark.parametrize("mode", ["poll", "text"])
async def test_an_answer_that_came_in_time_scores_however_late_a_worker_gets_to_it(
        emu: BotAPIEmulator, mind: Mind, settings: Settings, pg: PgSchema, mode: str) -> None:
    """An answer Telegram delivered before the question's deadline waits in the inbox while no worker gets
    to it: here its key is held by a stalled worker (a lock of its own connection: as a worker that took
    the vote and then hung, or was killed and its connection not yet dropped), until the deadline and its
    grace are past. The question stays open for it; once a worker handles it, it is judged by when it came,
    and the player sees the points in the final ranking (before, the round closed at its deadline and the
    late-handled answer was refused: the vote was lost)."""
    import psycopg

    from bot.cluster.inbox import poll_key
    from bot.quiz.engine import LATE_GRACE

    upgrader = open_storage(pg.url, check_schema=False)
    upgrader.upgrade()
    upgrader.close()
    short = settings.model_copy(update={"quiz": settings.quiz.model_copy(update={"pause": 0.1, "seconds": 5})})
    stalled = psycopg.connect(pg.url, autocommit=True)
    try:
        async with two_workers(emu, mind, short, pg.url, inbox=True) as (apps, lb):
            first, second = apps
            engine = engine_of(first)
            await lb.say(ANN, f"/quiz 1 {mode}", worker=0)

            def shown() -> bool:
                game = engine.running(str(GROUP))
                return bool(game and game.round and game.round.shown_at is not None)

            await until(shown, "the question shown and recorded")
            game = engine.running(str(GROUP))
            assert game and game.round
            answer = right_answer(engine)
            if mode == "poll":
                assert game.round.poll_id
                key = poll_key(game.round.poll_id)
                update = emu.push_poll_answer(game.round.poll_id, BOB, [int(answer)], first_name=NAMES[BOB])
            else:
                key = f"chat:{GROUP}"
                update = emu.push_message(str(answer), chat_id=GROUP, chat_type="group", user_id=BOB,
                                          first_name=NAMES[BOB])
            stalled.execute("SELECT pg_advisory_lock(hashtextextended(current_schema() || '/' || %s, 0))",
                            (f"inbox/{key}",))
            await lb.to(1, update)  # accepted (stored) in time; no worker can take it yet
            deadline = game.round.deadline

            def past_deadline() -> bool:  # the deadline and its grace are gone, the answer still unhandled
                handled = pg.execute("SELECT handled FROM inbox WHERE update_id = %s", update["update_id"])
                return time.time() > deadline + LATE_GRACE + 0.5 and handled == [(None,)]

            await until(past_deadline, "the deadline passing with the answer unhandled")
            assert not finals(emu), "the question closed with an answer that came in time still waiting"
            stalled.execute("SELECT pg_advisory_unlock_all()")  # the stalled worker lets go (or its connection drops)
            await until(lambda: len(finals(emu)) >= 1, "the final ranking")
            await asyncio.sleep(0.5)
    finally:
        stalled.close()
    (final,) = finals(emu)
    points = final_points(final)
    assert set(points) == {"Bob"} and points["Bob"] > 0, final.text
    board = {name: (p, right) for _, name, p, right in scores(pg.url)}
    assert board == {"Bob": (points["Bob"], 1)}
