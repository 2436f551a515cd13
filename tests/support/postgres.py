"""A real PostgreSQL for tests: each test gets its own schema in one database, dropped afterwards.

The server is the machine's (127.0.0.1:5432, trust auth; ``BOT_TEST_DATABASE`` names another). Without
one, the tests skip with the reason, except under ``CI=true``, where a missing server is a failure:
CI's machines run one, and a skipped storage test there would hide a broken backend.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

BASE_URL = os.environ.get("BOT_TEST_DATABASE", "postgresql://postgres@127.0.0.1:5432/test")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required under CI=true: {reason}")
    pytest.skip(f"no PostgreSQL at {BASE_URL} ({reason}); set BOT_TEST_DATABASE to run these tests")


def schema_url(schema: str) -> str:
    """The base URL with every connection's search_path set to ``schema``."""
    sep = "&" if "?" in BASE_URL else "?"
    return f"{BASE_URL}{sep}options={quote(f'-csearch_path={schema}')}"


def copy_claims(execute: Callable[[str], object], schema: str | None = None) -> None:
    """Copy every send the shared limiter claims into a table ``claimed(key, at)``, by a trigger on
    ``send_slots`` (whose places the limiter uses again): the bot's own record of its sends, to hold against
    what reached the emulator. ``schema``: where, when the connection's search_path is not it."""
    at = f'"{schema}".' if schema else ""
    execute(f"CREATE TABLE {at}claimed(key TEXT, at DOUBLE PRECISION)")
    execute(f"CREATE FUNCTION {at}copy_claim() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.claimed IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.claimed IS DISTINCT FROM OLD.claimed) THEN "
            f"INSERT INTO {at}claimed VALUES (NEW.key, NEW.claimed); END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
    execute(f"CREATE TRIGGER copy_claim AFTER INSERT OR UPDATE ON {at}send_slots FOR EACH ROW "
            f"EXECUTE FUNCTION {at}copy_claim()")


class PgSchema:
    """A schema of its own; ``url`` reaches it, ``new()`` makes another (for a second bot)."""

    def __init__(self) -> None:
        import psycopg

        self._psycopg = psycopg
        self.made: list[str] = []
        try:
            self._admin = psycopg.connect(BASE_URL, autocommit=True, connect_timeout=5)
        except Exception as exc:  # psycopg.OperationalError, or the driver missing
            _unavailable(f"{type(exc).__name__}: {exc}")
        self.url = self.new()

    def new(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._admin.execute(f'CREATE SCHEMA "{name}"')
        self.made.append(name)
        return schema_url(name)

    def execute(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        """Run SQL in the first schema (for tests that look under the hood)."""
        with self._psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(sql, args or None)
            return cur.fetchall() if cur.description else []

    def drop(self) -> None:
        for name in self.made:
            self._admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        self._admin.close()


@pytest.fixture
def pg() -> Iterator[PgSchema]:
    schema = PgSchema()
    try:
        yield schema
    finally:
        schema.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a bot keeps its state, once per backend: an SQLite file, or a PostgreSQL schema of its own
    with the migrations applied (what ``db upgrade`` does before workers start)."""
    if request.param == "sqlite":
        yield str(tmp_path / "bot.sqlite3")
        return
    from bot.storage import open_storage

    url = request.getfixturevalue("pg").url
    upgrader = open_storage(url, check_schema=False)
    upgrader.upgrade()
    upgrader.close()
    yield url


@pytest.fixture
def store(database: str):  # type: ignore[no-untyped-def]
    """The storage on ``database``, closed afterwards."""
    from bot.storage import open_storage

    s = open_storage(database)
    yield s
    s.close()
