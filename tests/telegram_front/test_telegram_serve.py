"""Contract 3: `BOT_TOKEN=... BOT_API_URL=http://127.0.0.1:PORT/bot python -m bot serve`, as a subprocess."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.botapi_emulator import BotAPIEmulator

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "4242:SECRET-token_value"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(PYTHONPATH=str(ROOT), BOT_DATABASE=str(tmp_path / "bot.sqlite3"), **extra)
    return env


def serve(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`python -m bot serve ARGS` as its own process, its output kept for the test to read."""
    return subprocess.Popen([sys.executable, "-m", "bot", "serve", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_polls_the_given_server_answers_and_stops_cleanly(tmp_path: Path, stop: signal.Signals) -> None:
    with BotAPIEmulator(token=TOKEN) as emu:
        env = _env(tmp_path, BOT_TOKEN=TOKEN, BOT_API_URL=emu.base_url)
        proc = serve(env)
        try:
            emu.push_message("who directs ballerina?")
            (answer,) = emu.wait_for("sendMessage", timeout=20)
            assert "Len Wiseman" in (answer.text or "")
            proc.send_signal(stop)
            out, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    assert TOKEN not in out + err  # never logged or echoed
    assert "Traceback" not in err
    assert emu.pending_updates == []  # the answered update was confirmed before exit


def test_serve_without_a_token_is_a_friendly_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "BOT_TOKEN" in done.stderr and "Traceback" not in done.stderr


def test_serve_with_a_rejected_token_says_so(tmp_path: Path) -> None:
    with BotAPIEmulator(token=TOKEN) as emu:
        env = _env(tmp_path, BOT_TOKEN="1:WRONG", BOT_API_URL=emu.base_url)
        done = subprocess.run([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "rejected the token" in done.stderr and "1:WRONG" not in done.stderr


def test_serve_with_a_webhook_answers_keeps_the_secret_out_of_the_logs_and_stops(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    secret = "serve-webhook-S3CRET"
    with BotAPIEmulator(token=TOKEN) as emu:
        env = _env(tmp_path, BOT_TOKEN=TOKEN, BOT_API_URL=emu.base_url, BOT_WEBHOOK_SECRET=secret)
        proc = serve(env, "--webhook-url", f"http://127.0.0.1:{port}/hook", "--listen", "127.0.0.1",
                     "--port", str(port))
        try:
            emu.wait_for("setWebhook", timeout=30)
            update = emu.push_message("who directs ballerina?")
            assert emu.deliver_webhook(update) == 200
            (answer,) = emu.wait_for("sendMessage", timeout=20)
            assert "Len Wiseman" in (answer.text or "")
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    assert TOKEN not in out + err and secret not in out + err
    assert "Traceback" not in err


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_as_serve_starts_ends_it_cleanly(tmp_path: Path, stop: signal.Signals) -> None:
    """The signal lands as the bot starts (on its 'starting' line, before or as PTB takes the signals over)."""
    with BotAPIEmulator(token=TOKEN) as emu:
        env = _env(tmp_path, BOT_TOKEN=TOKEN, BOT_API_URL=emu.base_url)
        proc = serve(env)
        try:
            assert proc.stderr is not None
            seen = []
            for line in proc.stderr:  # a readiness line, not a guess at how long start-up takes
                seen.append(line)
                if "starting the Telegram bot" in line:
                    break
            assert seen and "starting the Telegram bot" in seen[-1], "".join(seen)
            proc.send_signal(stop)
            out, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, "".join(seen) + err
    assert "Traceback" not in "".join(seen) + err
