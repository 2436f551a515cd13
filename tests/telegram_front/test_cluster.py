"""Contract 8: several `serve --webhook-url ... --secret-token S` processes on one PostgreSQL database are
one bot. Two real worker processes, one schema, the Bot API emulator posting updates to either of them as a
load balancer would; kill -9 for a worker that dies."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.storage import open_storage
from tests.support.botapi_emulator import BotAPIEmulator, Call
from tests.support.postgres import PgSchema

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "4242:CLUSTER-token_value"
USERNAME = "ballerina_trivia_bot"
SECRET = "cluster-S3CRET_value"
PUBLIC_URL = "https://bot.example.org/tg/hook"  # what Telegram knows; the workers sit behind it
START_TIMEOUT = 60.0  # s for a worker to load the bot and register (two start at once on a busy machine)
ANSWER_TIMEOUT = 60.0
QUESTIONS = ["who directs ballerina?", "who plays Winston?", "when does it come out?", "who plays Eve?",
             "and Charon?", "what is the film about?"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, what: Callable[[], str]) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what()}")
        time.sleep(0.05)


class Worker:
    """One `python -m bot serve` webhook worker; its log goes to a file (nothing can fill a pipe)."""

    def __init__(self, name: str, emu: BotAPIEmulator, url: str, log_dir: Path, tag: str) -> None:
        self.name, self.port = name, free_port()
        self.app_name = f"{tag}-{name}"  # PostgreSQL's application_name: which worker holds a lock
        self.log = log_dir / f"{name}.log"
        self.hook = f"http://127.0.0.1:{self.port}/tg/hook"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
        env.update(PYTHONPATH=str(ROOT), BOT_TOKEN=TOKEN, BOT_API_URL=emu.base_url,
                   BOT_DATABASE=f"{url}&application_name={self.app_name}")
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--webhook-url", PUBLIC_URL, "--listen", "127.0.0.1",
                 "--port", str(self.port), "--secret-token", SECRET],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self) -> None:
        """Ready once its webhook server listens and the webhook is registered (by it or another worker)."""
        def ready() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"worker {self.name} exited ({self.proc.returncode}):\n{self.text()}")
            text = self.text()
            return "webhook server listening" in text and "registered" in text
        wait_until(ready, START_TIMEOUT, lambda: f"worker {self.name} to start:\n{self.text()}")

    def stop(self) -> int:
        """SIGTERM, then kill if it does not end in 20 s: tear-down is bounded."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                pytest.fail(f"worker {self.name} did not stop on SIGTERM:\n{self.text()}")
        return self.proc.returncode


@pytest.fixture
def cluster(pg: PgSchema, tmp_path: Path) -> Iterator[tuple[BotAPIEmulator, PgSchema, list[Worker]]]:
    storage = open_storage(pg.url, check_schema=False)
    storage.upgrade()  # `python -m bot db upgrade`, once, before the workers start
    storage.close()
    tag = f"bot-test-{uuid.uuid4().hex[:8]}"
    with BotAPIEmulator(token=TOKEN, bot_username=USERNAME) as emu:
        workers = [Worker(name, emu, pg.url, tmp_path, tag) for name in ("a", "b")]  # started together
        try:
            for worker in workers:
                worker.wait_ready()
            yield emu, pg, workers
        finally:
            for worker in workers:
                if worker.proc.poll() is None:
                    worker.proc.kill()  # a test that failed half-way; the test itself stops them cleanly
                    worker.proc.wait(timeout=10)


def ask_in_group(emu: BotAPIEmulator, chat_id: int, text: str) -> dict[str, Any]:
    return emu.push_message(f"@{USERNAME} {text}", chat_id=chat_id, chat_type="group", user_id=5000 + chat_id % 97)


def answers(emu: BotAPIEmulator, chat_id: int) -> list[Call]:
    return [c for c in emu.calls_to("sendMessage") if c.params.get("chat_id") in (chat_id, str(chat_id))]


def answered_ids(emu: BotAPIEmulator, chat_id: int) -> list[int]:
    """The messages the bot's answers in the chat quote, in the order it sent them."""
    return [int(c.result["reply_to_message"]["message_id"]) for c in answers(emu, chat_id)]


def waiting(pg: PgSchema) -> int:
    return int(pg.execute("SELECT COUNT(*) FROM inbox WHERE handled IS NULL")[0][0])  # type: ignore[call-overload]


def test_two_workers_answer_every_update_once_in_order_per_chat(cluster: Any) -> None:
    emu, pg, workers = cluster
    assert len(emu.calls_to("setWebhook")) == 1  # two workers started together: one registered
    assert emu.webhook_url == PUBLIC_URL and emu.webhook_secret == SECRET

    for worker in workers:  # every worker checks the secret token, and keeps nothing it refused
        stranger = ask_in_group(emu, -100_009, "who directs ballerina?")
        assert emu.deliver_webhook(stranger, secret="not-the-secret", url=worker.hook) == 403
        assert emu.deliver_webhook(stranger, secret=None, url=worker.hook) == 403
    assert pg.execute("SELECT COUNT(*) FROM inbox")[0][0] == 0

    chats = [-100_001, -100_002, -100_003, -100_004]
    asked: dict[int, list[int]] = {chat: [] for chat in chats}
    delivered = []
    for turn in range(len(QUESTIONS)):
        for index, chat in enumerate(chats):  # chats interleaved, each chat's turns spread over both workers
            update = ask_in_group(emu, chat, QUESTIONS[(turn + index) % len(QUESTIONS)])
            worker = workers[(turn + index) % 2]
            assert emu.deliver_webhook(update, url=worker.hook) == 200  # 200 = stored and committed
            asked[chat].append(update["message"]["message_id"])
            delivered.append(update)
    total = sum(len(ids) for ids in asked.values())

    wait_until(lambda: len(emu.calls_to("sendMessage")) >= total and waiting(pg) == 0, ANSWER_TIMEOUT,
               lambda: f"{total} answers; got {len(emu.calls_to('sendMessage'))}, {waiting(pg)} waiting")
    for chat in chats:
        assert answered_ids(emu, chat) == asked[chat], f"chat {chat}: answers out of order or not once each"
        assert all((c.text or "").strip() for c in answers(emu, chat))
    # every update is marked handled, so nothing more can be sent for them: exactly once
    assert len(emu.calls_to("sendMessage")) == total
    assert pg.execute("SELECT COUNT(*) FROM inbox WHERE handled IS NOT NULL")[0][0] == total

    # Telegram delivering an update again (it never saw the 200) is not answered again
    assert emu.deliver_webhook(delivered[0], url=workers[1].hook) == 200
    assert waiting(pg) == 0 and len(emu.calls_to("sendMessage")) == total

    for worker in workers:
        assert worker.stop() == 0, worker.text()
        assert "Traceback" not in worker.text() and TOKEN not in worker.text() and SECRET not in worker.text()
    assert len(emu.calls_to("setWebhook")) == 1 and emu.calls_to("deleteWebhook") == []


def lock_holders(pg: PgSchema, tag: str) -> set[str]:
    rows = pg.execute("SELECT DISTINCT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                      "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE %s", f"{tag}-%")
    return {str(r[0]) for r in rows}


def test_updates_a_killed_worker_acknowledged_are_answered_by_the_other(cluster: Any) -> None:
    emu, pg, workers = cluster
    tag = workers[0].app_name.rsplit("-", 1)[0]
    chat, other = -100_021, -100_022
    # the first answer in `chat` hangs in the Bot API, so its worker is mid-update when it is killed
    emu.inject_fault("sendMessage", "slow", delay=60,
                     when=lambda params: params.get("chat_id") in (chat, str(chat)))
    first = ask_in_group(emu, chat, "who directs ballerina?")
    assert emu.deliver_webhook(first, url=workers[0].hook) == 200
    holder_name = wait_until(lambda: lock_holders(pg, tag), ANSWER_TIMEOUT,
                             lambda: "a worker to take the chat")
    (holder,) = [w for w in workers if w.app_name in holder_name]
    (survivor,) = [w for w in workers if w is not holder]
    # holding the chat's lock comes before the answer's request: wait until that request is in flight
    # (it took the slow fault), or the survivor's answer would take the fault instead
    wait_until(lambda: emu.faults_left("sendMessage") == 0, ANSWER_TIMEOUT,
               lambda: "the holder's answer to reach the Bot API")
    later = [ask_in_group(emu, chat, "who plays Winston?"), ask_in_group(emu, chat, "and Charon?"),
             ask_in_group(emu, other, "who plays Eve?")]
    for update, worker in zip(later, (holder, survivor, holder)):
        assert emu.deliver_webhook(update, url=worker.hook) == 200  # acknowledged, by both workers

    holder.proc.kill()  # kill -9: no clean-up at all
    holder.proc.wait(timeout=10)
    assert waiting(pg) >= 3  # what the dead worker held or acknowledged is still in the inbox

    asked = [first["message"]["message_id"], later[0]["message"]["message_id"], later[1]["message"]["message_id"]]
    wait_until(lambda: waiting(pg) == 0 and len(answers(emu, chat)) >= 3 and answers(emu, other),
               ANSWER_TIMEOUT, lambda: f"the survivor to answer: {waiting(pg)} waiting, "
                                       f"{len(answers(emu, chat))} answers in the chat\n{survivor.text()}")
    # The update the dead worker was handling is handled again (at least once); its own send never
    # completed, so each question is answered once, in order.
    assert answered_ids(emu, chat) == asked
    assert answered_ids(emu, other) == [later[2]["message"]["message_id"]]
    assert survivor.stop() == 0, survivor.text()
    assert "Traceback" not in survivor.text()
