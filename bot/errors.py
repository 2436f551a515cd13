"""The bot's exception hierarchy.

    BotError                  expected failures, shown to the user as a friendly message
    ├── DataFileError         a knowledge, intents or config file is broken (names file, line, field)
    ├── NotAdminError         someone who is not an admin tried an admin operation
    ├── EditError             an admin edit was refused (unknown entity, bad value, nothing to undo)
    │   └── ChangedError      the facts changed since the admin's form was opened (nothing saved)
    └── StorageError          the database cannot be reached, or its schema is behind (bot/storage)

Anything else is a bug: fronts log it with context and show a generic apology.
"""
from __future__ import annotations


class BotError(Exception):
    """An expected failure whose message is safe and useful to show to the person who caused it."""


class DataFileError(BotError):
    """A broken data file. ``problems`` holds every problem found in one go (this one first), for
    `python -m bot check`; the message is the first one's, with a count of the rest."""

    def __init__(self, path: str, message: str, line: int | None = None, field: str | None = None,
                 problems: "list[DataFileError] | None" = None) -> None:
        self.path, self.line, self.field, self.reason = path, line, field, message
        self.problems: list[DataFileError] = problems or [self]
        where = path + (f", line {line}" if line else "") + (f", field {field}" if field else "")
        more = len(self.problems) - 1
        extra = f" (and {more} more problem{'s' * (more > 1)}: run `python -m bot check`)" if more > 0 else ""
        super().__init__(f"{where}: {message}{extra}")

    @property
    def location(self) -> str:
        """``FILE:LINE: field: problem``, the way compilers report, one line per problem."""
        return f"{self.path}:{self.line or 1}: {self.field or 'file'}: {self.reason}"


class NotAdminError(BotError):
    pass


class EditError(BotError):
    pass


class ChangedError(EditError):
    """Optimistic concurrency: someone else changed what this edit was based on."""


class StorageError(BotError):
    """The database cannot be used as configured; the message says what to do (never shows a password)."""
