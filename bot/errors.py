"""The bot's exception hierarchy.

    BotError                  expected failures, shown to the user as a friendly message
    ├── DataFileError         a knowledge, intents or config file is broken (names file, line, field)
    ├── NotAdminError         someone who is not an admin tried an admin operation
    └── EditError             an admin edit was refused (unknown entity, bad value, nothing to undo)
        └── ChangedError      the facts changed since the admin's form was opened (nothing saved)

Anything else is a bug: fronts log it with context and show a generic apology.
"""
from __future__ import annotations


class BotError(Exception):
    """An expected failure whose message is safe and useful to show to the person who caused it."""


class DataFileError(BotError):
    def __init__(self, path: str, message: str, line: int | None = None, field: str | None = None) -> None:
        self.path, self.line, self.field, self.reason = path, line, field, message
        where = path + (f", line {line}" if line else "") + (f", field {field}" if field else "")
        super().__init__(f"{where}: {message}")


class NotAdminError(BotError):
    pass


class EditError(BotError):
    pass


class ChangedError(EditError):
    """Optimistic concurrency: someone else changed what this edit was based on."""
