"""The admin Mini App in a real browser: Debian's chromium driven by Playwright, against `python -m bot serve`
(the bot's own process serves the app) polling the Bot API emulator, on a copy of the project files.

One bot process for the session and one browser per module (starting either costs seconds); each test opens its own
browser context, as a fresh Telegram webview would be. Without /usr/bin/chromium the browser tests skip on
a developer's machine and fail under CI=true (CI installs it: .ci/run).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from bot.webadmin import sign_init_data
from tests.conftest import ROOT, copy_project
from tests.support.botapi_emulator import BotAPIEmulator, Call

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "777:admin-app-TEST_token"
ADMIN, OTHER_ADMIN, STRANGER = 9001, 9002, 9003
PHONE = {"width": 390, "height": 844}  # an iPhone 12-14's CSS viewport
LIGHT = {"bg_color": "#ffffff", "text_color": "#000000", "hint_color": "#999999", "link_color": "#2481cc",
         "button_color": "#2481cc", "button_text_color": "#ffffff", "secondary_bg_color": "#efeff3"}
DARK = {"bg_color": "#212d3b", "text_color": "#ffffff", "hint_color": "#7d8b99", "link_color": "#5eabe1",
        "button_color": "#5289c1", "button_text_color": "#ffffff", "secondary_bg_color": "#151e27",
        "destructive_text_color": "#ee686f"}


def init_data(user_id: int, *, auth_date: int | None = None, token: str = TOKEN, username: str = "admin") -> str:
    """initData as a Telegram client hands it to the Mini App, signed the way Telegram signs it."""
    fields = {"query_id": "AAE-test", "auth_date": str(int(time.time()) if auth_date is None else auth_date),
              "user": json.dumps({"id": user_id, "first_name": f"U{user_id}", "username": f"{username}{user_id}",
                                  "language_code": "en"}, separators=(",", ":"))}
    fields["hash"] = sign_init_data(fields, token)
    return urlencode(fields, quote_via=quote)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Bot:
    """A running `python -m bot serve` with its admin app, its files and the emulator it polls."""

    url: str
    emu: BotAPIEmulator
    project: Path
    proc: subprocess.Popen[str]

    @property
    def knowledge(self) -> Path:
        return self.project / "knowledge" / "ballerina.yml"

    def chat(self, text: str, user: int = 4242, timeout: float = 30.0) -> str:
        """A private message to the bot; the text of its answer."""
        mark = len(self.emu.calls)
        self.emu.push_message(text, user_id=user, first_name="Fan")
        found = self.emu.wait_for(lambda c: c.method == "sendMessage" and self.emu.calls.index(c) >= mark
                                  and c.params.get("chat_id") == user, timeout=timeout)
        return found[0].text or ""

    def http(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.url.rstrip("/") + path.removeprefix("/admin"), data=body,
                                         method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def calls(self, method: str) -> list[Call]:
        return [c for c in self.emu.calls if c.method == method]


def _wait_until_up(url: str, proc: subprocess.Popen[str], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            urllib.request.urlopen(url, timeout=2)
        except urllib.error.HTTPError as exc:
            if exc.code == 401:  # the shell page: the app is up and asks for a login
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError("the admin app did not come up")


@pytest.fixture(scope="session")
def bot(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[Bot]:
    root = tmp_path_factory.mktemp("webadmin")
    config = copy_project(root / "project", model_cache)
    port = free_port()
    url = f"http://127.0.0.1:{port}/admin/"
    with BotAPIEmulator(token=TOKEN) as emu:
        emu.register_method("setChatMenuButton", lambda params: True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
        env.update(PYTHONPATH=str(ROOT), BOT_CONFIG=str(config), BOT_DATABASE=str(root / "bot.sqlite3"),
                   BOT_TOKEN=TOKEN, BOT_API_URL=emu.base_url, BOT_ADMINS=f"{ADMIN},{OTHER_ADMIN}",
                   BOT_ADMIN_URL=url, BOT_ADMIN_PORT=str(port))
        log = (root / "serve.log").open("w")
        proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, text=True)
        try:
            _wait_until_up(url, proc)
            emu.wait_for("getUpdates", timeout=60)  # polling: chat messages are read from now on
            yield Bot(url, emu, config.parent, proc)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
    assert "Traceback" not in (root / "serve.log").read_text(encoding="utf-8"), (root / "serve.log").read_text()


# the browser -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One chromium per module. Not per session: Playwright's sync API keeps an event loop running on the
    main thread while it is open, and the asyncio tests of any module after it could not start theirs."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (CI installs it in .ci/run)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_app(browser: Any, bot: Bot) -> Iterator[Callable[..., Any]]:
    """open_app(user_id, theme=LIGHT, path="") -> a Playwright page of the Mini App as that Telegram user
    opens it: Telegram appends the launch parameters (initData, theme) to the URL's fragment."""
    contexts: list[Any] = []

    def _open(user_id: int | None = ADMIN, theme: dict[str, str] = LIGHT, path: str = "",
              data: str | None = None) -> Any:
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, has_touch=True)
        # telegram-web-app.js comes from Telegram's servers; offline the page falls back to the fragment
        context.route("https://telegram.org/**", lambda route: route.abort())
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors
        launch = {"tgWebAppVersion": "8.0", "tgWebAppPlatform": "android",
                  "tgWebAppThemeParams": json.dumps(theme, separators=(",", ":"))}
        if data is not None or user_id is not None:
            launch["tgWebAppData"] = data if data is not None else init_data(user_id)  # type: ignore[arg-type]
        page.goto(bot.url + path.lstrip("/") + "#" + urlencode(launch, quote_via=quote))
        return page

    yield _open
    for context in contexts:
        context.close()


def shown(page: Any, name: str) -> None:
    """Wait until the page called ``name`` (body[data-page]) is on screen and settled."""
    page.wait_for_selector(f"body[data-page={name}]:not([aria-busy])")


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: $ADMIN_SCREENSHOTS if set (to look at them), else the test's folder."""
    folder = Path(os.environ.get("ADMIN_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
