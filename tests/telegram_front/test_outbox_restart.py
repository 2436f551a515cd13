"""A worker killed (kill -9) after a send failed and before its retry: the next `serve` process delivers it.

Real processes, as production runs them (`python -m bot serve` against the Bot API emulator), on an
SQLite file and on PostgreSQL; the outbox row is the only thing the second process has to go on.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cluster.outbox import Outbox
from bot.storage import open_storage
from tests.support.botapi_emulator import BotAPIEmulator

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "4243:outbox-restart"



def serve(emu: BotAPIEmulator, database: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(PYTHONPATH=str(ROOT), BOT_DATABASE=database, BOT_TOKEN=TOKEN, BOT_API_URL=emu.base_url)
    return subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def wait_until(check, what: str, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    return err


def test_the_next_process_delivers_what_a_killed_one_could_not(database: str) -> None:
    storage = open_storage(database)
    outbox = Outbox(storage)
    with BotAPIEmulator(token=TOKEN) as emu:
        # the first worker's request class tries 5 times; its outbox's retry is 2 s later: it is dead by then
        emu.inject_fault("sendMessage", "502", times=7)
        first = serve(emu, database)
        try:
            emu.push_message("who plays Winston?")
            # its five tries failed; it waits to be tried again in its chat's turn when the worker is killed
            wait_until(lambda: len(emu.calls_to("sendMessage", include_failed=True)) == 5,
                       "the first send's five 502s", 60)
            # ...held only until a little after that try is due (not a whole lease): a dead worker's row is
            # soon another's
            wait_until(lambda: storage.query("SELECT 1 FROM outbox WHERE next_try < ?", (time.time() + 30,)),
                       "the answer held until its next try", 20)
            first.kill()  # kill -9: no clean shutdown, nothing flushed
            first.wait(timeout=10)
            killed = time.time()
        finally:
            stop(first)
        assert emu.pending_updates == []  # the update itself was taken: only the outbox remembers the answer
        assert [c.ok for c in emu.calls_to("sendMessage", include_failed=True)] == [False] * 5
        second = serve(emu, database)
        try:
            (answer,) = emu.wait_for("sendMessage", timeout=60)
            wait_until(lambda: outbox.outcomes()["delivered_retried"] == 1, "the delivery recorded", 20)
        finally:
            err = stop(second)
    assert "Ian McShane" in (answer.text or "") and answer.time > killed
    assert len(emu.calls_to("sendMessage")) == 1  # delivered once
    assert outbox.waiting() == {}
    assert second.returncode == 0, err
    storage.close()
