"""Who gets into the admin app: genuine, fresh Telegram initData of an admin, or a one-time login link.
Everything else is refused with 401/403 and changes nothing. Over HTTP against the bot's own `serve`."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest

from bot.webadmin import sign_init_data
from tests.conftest import ROOT, copy_project
from tests.webadmin.conftest import ADMIN, OTHER_ADMIN, STRANGER, TOKEN, Bot, free_port, init_data, shown

SET_RELEASE = urlencode({"entity": "ballerina", "relation": "release", "value": "1 April 2099",
                         "source": "Mallory", "op": "set"}).encode()


def tampered() -> str:
    """A real admin's initData with the user swapped for a stranger's, the hash left as it was."""
    fields = dict(parse_qsl(init_data(STRANGER)))
    fields["user"] = fields["user"].replace(str(STRANGER), str(ADMIN))
    return urlencode(fields, quote_via=quote)


def signed_by(token: str) -> str:
    return init_data(ADMIN, token=token)


def without_hash() -> str:
    return urlencode({k: v for k, v in parse_qsl(init_data(ADMIN)) if k != "hash"}, quote_via=quote)


REFUSED = {
    "no credential": (None, 401),
    "tampered": (lambda: "tma " + tampered(), 401),
    "signed with another bot's token": (lambda: "tma " + signed_by("1:OTHER"), 401),
    "no hash": (lambda: "tma " + without_hash(), 401),
    "expired": (lambda: "tma " + init_data(ADMIN, auth_date=int(time.time()) - 3601 - 60), 401),
    "from the future": (lambda: "tma " + init_data(ADMIN, auth_date=int(time.time()) + 3600), 401),
    "not an admin": (lambda: "tma " + init_data(STRANGER), 403),
    "made-up session": (lambda: "Session " + "x" * 43, 401),
    "basic auth": (lambda: "Basic YWRtaW46YWRtaW4=", 401),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_anything_but_an_admins_fresh_initdata_is_refused_and_changes_nothing(bot: Bot, case: str) -> None:
    make, status = REFUSED[case]
    headers = {"Authorization": make()} if make else {}
    files = {p: p.read_bytes() for p in (bot.project / "knowledge").glob("*.yml")}
    for method, path, body in (("GET", "/admin/", None), ("GET", "/admin/history", None),
                               ("POST", "/admin/edit", SET_RELEASE), ("POST", "/admin/undo", b"expect=1"),
                               ("POST", "/admin/inbox/dismiss", b"key=x"), ("POST", "/admin/quiz/switch", b"id=x")):
        code, html = bot.http(method, path, body, {**headers, "Content-Type": "application/x-www-form-urlencoded"})
        assert code == status, (method, path, code)
        assert "Lionsgate" not in html and "1 April 2099" not in html  # no knowledge shown
    assert {p: p.read_bytes() for p in files} == files
    assert "1 April 2099" not in bot.chat("when is ballerina out?")


def test_an_admins_fresh_initdata_gets_in(bot: Bot) -> None:
    code, html = bot.http("GET", "/admin/", headers={"Authorization": "tma " + init_data(OTHER_ADMIN)})
    assert code == 200 and "Ballerina" in html and f"telegram:{OTHER_ADMIN}" in html


def test_a_body_that_is_not_text_or_too_big_gets_a_clear_answer_and_changes_nothing(bot: Bot) -> None:
    before = bot.knowledge.read_bytes()
    auth = {"Authorization": "tma " + init_data(ADMIN), "Content-Type": "application/x-www-form-urlencoded"}
    binary = b"entity=ballerina&relation=release&op=set&source=Variety&value=%ff%fe%00%c3%28"
    code, html = bot.http("POST", "/admin/edit", binary, auth)
    assert code == 422 and "This is not text" in html and 'id="e-value"' in html
    code, html = bot.http("POST", "/admin/edit", b"value=" + b"a" * (9 * 1024 * 1024), auth)
    assert code == 413 and "more than 8 MB" in html
    code, html = bot.http("POST", "/admin/edit", SET_RELEASE, {**auth, "Content-Encoding": "deflate"})
    assert code == 415
    assert bot.knowledge.read_bytes() == before


def test_an_inbox_answer_no_question_asks_for_is_refused_at_its_field(bot: Bot) -> None:
    bot.chat("how many minutes long is the ballerina runtime", user=91)
    auth = {"Authorization": "tma " + init_data(ADMIN), "Content-Type": "application/x-www-form-urlencoded"}
    code, inbox = bot.http("GET", "/admin/inbox", headers=auth)
    key = re.search(r'name="key" value="([^"]*runtime[^"]*)"', inbox).group(1)  # type: ignore[union-attr]
    form = urlencode({"key": key, "entity": "Ballerina", "relation": "description", "value": "two hours long",
                      "source": "Variety"}).encode()
    before = bot.knowledge.read_bytes()
    code, html = bot.http("POST", "/admin/inbox/answer", form, auth)
    assert code == 422 and "pick the fact these questions ask for" in html
    assert bot.knowledge.read_bytes() == before


def test_only_admins_get_the_app_button(bot: Bot) -> None:
    menus = bot.calls("setChatMenuButton")
    assert sorted(int(c.params["chat_id"]) for c in menus) == sorted([ADMIN, OTHER_ADMIN])
    assert all(json.loads(c.params["menu_button"])["web_app"]["url"] == bot.url if isinstance(
        c.params["menu_button"], str) else c.params["menu_button"]["web_app"]["url"] == bot.url for c in menus)
    mark = len(bot.emu.calls)
    bot.emu.push_message("/kb", user_id=ADMIN, first_name="Boss")
    (reply,) = bot.emu.wait_for(lambda c: c.method == "sendMessage" and bot.emu.calls.index(c) >= mark
                                and c.params.get("chat_id") == ADMIN, timeout=30)
    markup = reply.params["reply_markup"]
    markup = json.loads(markup) if isinstance(markup, str) else markup
    assert markup["inline_keyboard"][0][0]["web_app"]["url"] == bot.url
    mark = len(bot.emu.calls)
    bot.emu.push_message("/kb", user_id=STRANGER, first_name="Mallory")
    (refusal,) = bot.emu.wait_for(lambda c: c.method == "sendMessage" and bot.emu.calls.index(c) >= mark
                                  and c.params.get("chat_id") == STRANGER, timeout=30)
    assert "only the bot's admins" in (refusal.text or "") and not refusal.params.get("reply_markup")


@pytest.fixture(scope="module")
def local_app(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Any:
    """`python -m bot admin-web`: the app on 127.0.0.1 for use without Telegram, and its login link."""
    root = tmp_path_factory.mktemp("admin-web")
    config = copy_project(root / "project", model_cache)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(PYTHONPATH=str(ROOT), BOT_DATABASE=str(root / "bot.sqlite3"))
    proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(config), "admin-web", "--port",
                             str(free_port())], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        link = None
        assert proc.stderr is not None
        for line in proc.stderr:  # printed once the port accepts connections
            if "#login=" in line:
                link = line.strip()
                break
        assert link and link.startswith("http://127.0.0.1:"), "no login link printed"
        # keep reading its log, so a full pipe can never block the server
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        yield link
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_the_one_time_login_link_works_once(browser: Any, local_app: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(local_app)
        shown(page, "knowledge")
        assert "#login=" not in page.url  # the link leaves the address bar at once
        assert re.search(r"Signed in as local:", page.inner_text("footer"))
        page.get_by_role("navigation").get_by_role("link", name="History").click()
        shown(page, "history")  # the session carries on across pages
        again = context.new_page()
        again.goto(local_app)
        again.wait_for_selector("[data-shell-message].error")
        assert "used or has expired" in again.inner_text("[data-shell-message]")
    finally:
        context.close()


def test_signing_is_what_telegram_documents() -> None:
    """The data-check-string and the key, spelled out once more: a check independent of bot/webadmin/auth.py."""
    import hashlib
    import hmac

    fields = {"auth_date": "1700000000", "query_id": "AAH", "user": '{"id":1,"first_name":"A"}'}
    check = "auth_date=1700000000\nquery_id=AAH\nuser={\"id\":1,\"first_name\":\"A\"}"
    key = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    assert sign_init_data(fields, TOKEN) == hmac.new(key, check.encode(), hashlib.sha256).hexdigest()
