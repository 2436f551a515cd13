"""initData validation and one-time login links, without a server (bot/webadmin/auth.py)."""
from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest

from bot.webadmin.auth import AuthError, LoginLinks, sign_init_data, validate_init_data

TOKEN = "12345:test-token"
NOW = 1_800_000_000


def make(user: dict[str, object] | None = None, auth_date: int = NOW, **extra: str) -> str:
    fields = {"auth_date": str(auth_date), "query_id": "AAE", **extra}
    if user is not None:
        fields["user"] = json.dumps(user)
    fields["hash"] = sign_init_data(fields, TOKEN)
    return urlencode(fields, quote_via=quote)


def test_a_genuine_fresh_init_data_names_its_user() -> None:
    user = validate_init_data(make({"id": 42, "first_name": "Ana", "username": "ana"}, signature="sig"), TOKEN,
                              max_age=3600, now=NOW + 10)
    assert (user.id, user.username, user.first_name) == (42, "ana", "Ana")


@pytest.mark.parametrize("raw, reason", [
    ("", "Open this page from the bot"),
    (make({"id": 42}).replace("AAE", "AAF"), "not valid"),  # any field changed: the hash no longer fits
    (make({"id": 42}) + "&auth_date=1", "not valid"),  # a field given twice
    (make({"id": 42}, auth_date=NOW - 3601), "expired"),
    (make({"id": 42}, auth_date=NOW + 600), "expired"),
    (make(None), "names no user"),
    ("x" * 9000, "not valid"),
])
def test_anything_else_is_refused_with_401(raw: str, reason: str) -> None:
    with pytest.raises(AuthError) as refused:
        validate_init_data(raw, TOKEN, max_age=3600, now=NOW)
    assert refused.value.status == 401 and reason in refused.value.message


def test_another_bots_token_does_not_validate() -> None:
    with pytest.raises(AuthError):
        validate_init_data(make({"id": 42}), "999:other", max_age=3600, now=NOW)


def test_a_login_link_works_once_and_not_after_its_time() -> None:
    now = [1000.0]
    links = LoginLinks(link_ttl=60, session_ttl=120, clock=lambda: now[0])
    token = links.new_link()
    session = links.redeem(token, "local:me")
    assert links.session(session.token).who == "local:me"
    with pytest.raises(AuthError, match="used or has expired"):
        links.redeem(token, "local:me")
    late = links.new_link()
    now[0] += 61
    with pytest.raises(AuthError):
        links.redeem(late, "local:me")
    now[0] += 119  # the session was last used 180 s ago: it has ended
    with pytest.raises(AuthError, match="session has ended"):
        links.session(session.token)
