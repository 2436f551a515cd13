"""Where the bot keeps what it learns while it runs; nothing else in the bot writes SQL.

``open_storage(target)`` picks the backend from the target: a ``postgresql://`` URL shares state between
workers (bot/storage/postgres.py); a path, or ``:memory:``, keeps it in one SQLite file for one process
(bot/storage/sqlite.py, the embedded default). Both speak the one interface in bot/storage/base.py.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import StorageError
from .base import LockBusy, SchemaBehind, Storage, Tx
from .records import AuditDraft, AuditEntry, Unanswered, UnansweredQuestion
from .sqlite import SqliteStorage

__all__ = ["AuditDraft", "AuditEntry", "LockBusy", "SchemaBehind", "SqliteStorage", "Storage", "StorageError", "Tx",
           "Unanswered", "UnansweredQuestion", "is_database_url", "open_storage"]

_URL_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(target: str | Path) -> bool:
    return str(target).startswith(_URL_SCHEMES)


def open_storage(target: str | Path, *, check_schema: bool = True) -> Storage:
    """The storage for a database URL or an SQLite path. ``check_schema=False`` is for ``db upgrade``."""
    if is_database_url(target):
        from .postgres import PostgresStorage

        return PostgresStorage(str(target), check_schema=check_schema)
    return SqliteStorage(target)
