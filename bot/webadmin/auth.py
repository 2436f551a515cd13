"""Who may open the admin app: Telegram's signed initData, or a one-time login link for local use.

    user = validate_init_data(raw, token, max_age=3600)       # InitDataUser, or AuthError(401)
    link = logins.new_link()                                  # "python -m bot admin-web" prints it
    session = logins.redeem(link_token)                       # once; then "Session <token>" on requests

Telegram's check, as documented (core.telegram.org/bots/webapps, "Validating data received via the Mini
App"): the data-check-string is every received field but ``hash``, as ``key=value`` sorted by key and
joined by line feeds; the secret key is HMAC-SHA256 of the bot token keyed with "WebAppData"; the hash
must be the hex HMAC-SHA256 of the data-check-string under that key. ``auth_date`` must be recent, since
initData is a bearer credential that does not change while the app stays open.

The browser sends the credential in the Authorization header of every request (``tma <initData>`` or
``Session <token>``), never in a cookie, so another site cannot make an admin's browser act (no CSRF),
and any of several bot processes can check a request on its own (initData needs no shared state).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

MAX_INIT_DATA = 8192  # bytes: Telegram's initData is well under 1 KB; anything bigger is not from it
CLOCK_SKEW = 60.0  # s: an auth_date this far in the future is still accepted (clocks differ a little)


class AuthError(Exception):
    """Refused: ``status`` is 401 (who are you?) or 403 (known, but not an admin)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class InitDataUser:
    """The Telegram user a valid initData names."""

    id: int
    username: str | None
    first_name: str
    auth_date: int


def secret_key(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode("utf-8"), hashlib.sha256).digest()


def data_check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def sign_init_data(fields: dict[str, str], bot_token: str) -> str:
    """What Telegram computes: the ``hash`` for these fields (tests and local tools build initData with it)."""
    return hmac.new(secret_key(bot_token), data_check_string(fields).encode("utf-8"), hashlib.sha256).hexdigest()


def validate_init_data(raw: str, bot_token: str, *, max_age: float, now: float | None = None) -> InitDataUser:
    """The user of a genuine, fresh initData string; AuthError(401) for anything else."""
    if not raw:
        raise AuthError(401, "Open this page from the bot in Telegram.")
    if len(raw) > MAX_INIT_DATA:
        raise AuthError(401, "The Telegram login data is not valid.")
    pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=False)
    fields = dict(pairs)
    if len(fields) != len(pairs) or "hash" not in fields:
        raise AuthError(401, "The Telegram login data is not valid.")
    expected = sign_init_data(fields, bot_token)
    if not hmac.compare_digest(expected, fields["hash"].lower()):
        raise AuthError(401, "The Telegram login data is not valid.")
    try:
        auth_date = int(fields.get("auth_date", ""))
        user = json.loads(fields.get("user", ""))
        user_id = int(user["id"])
    except (ValueError, TypeError, KeyError):
        raise AuthError(401, "The Telegram login data names no user.") from None
    now = time.time() if now is None else now
    if auth_date > now + CLOCK_SKEW or now - auth_date > max_age:
        raise AuthError(401, "Your Telegram login has expired: close the app and open it again from the bot.")
    username = user.get("username")
    return InitDataUser(user_id, str(username) if username else None, str(user.get("first_name") or ""),
                        auth_date)


@dataclass(frozen=True)
class Session:
    token: str
    who: str
    expires: float


class LoginLinks:
    """One-time login links and the sessions they open, in memory (one local process: `admin-web`).

    A link works once and for ``link_ttl`` seconds; the session it opens lasts ``session_ttl`` seconds
    from its last use. Tokens are 256-bit random and compared in constant time.
    """

    def __init__(self, *, link_ttl: float = 600.0, session_ttl: float = 8 * 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.link_ttl, self.session_ttl, self.clock = link_ttl, session_ttl, clock
        self._links: dict[str, float] = {}
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def new_link(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._links[token] = self.clock() + self.link_ttl
        return token

    def redeem(self, token: str, who: str) -> Session:
        """Spend a link: a new session, or AuthError(401) if the link is unknown, used or stale."""
        now = self.clock()
        with self._lock:
            match = next((t for t in self._links if hmac.compare_digest(t, token)), None)
            expires = self._links.pop(match, 0.0) if match is not None else 0.0
            if expires < now:
                raise AuthError(401, "This login link has been used or has expired: run `python -m bot "
                                     "admin-web` again for a new one.")
            session = Session(secrets.token_urlsafe(32), who, now + self.session_ttl)
            self._sessions[session.token] = session
            return session

    def session(self, token: str) -> Session:
        now = self.clock()
        with self._lock:
            match = next((s for t, s in self._sessions.items() if hmac.compare_digest(t, token)), None)
            if match is None or match.expires < now:
                if match is not None:
                    del self._sessions[match.token]
                raise AuthError(401, "Your session has ended: run `python -m bot admin-web` again to log in.")
            renewed = Session(match.token, match.who, now + self.session_ttl)
            self._sessions[match.token] = renewed
            return renewed
