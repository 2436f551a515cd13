"""The typed rows storage hands across module lines (the same for every backend)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unanswered:
    text: str
    count: int
    last_at: float


@dataclass(frozen=True)
class UnansweredQuestion:
    normalized: str
    text: str
    count: int
    last_at: float


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    who: str
    action: str
    target: str | None
    file: str | None
    before: str | None
    after: str | None
    source: str | None
    undone: bool
    pending: bool = False  # written ahead of its file change, not yet known to be on disk
    undoes: int | None = None  # for an undo: the change it reverts

    @classmethod
    def from_row(cls, row: tuple[object, ...]) -> "AuditEntry":
        i, at, who, action, target, file, before, after, source, undone, pending, undoes = row
        return cls(int(i), float(at), str(who), str(action), target, file, before, after, source,  # type: ignore[arg-type]
                   bool(undone), bool(pending), None if undoes is None else int(undoes))  # type: ignore[call-overload]


@dataclass(frozen=True)
class AuditDraft:
    """An audit row about to be written ahead of its file change (``Storage.begin_audit``)."""

    who: str
    action: str
    target: str | None
    file: str
    before: str
    after: str
    source: str | None = None
    at: float | None = None
    undoes: int | None = None


AUDIT_COLUMNS = "id, at, who, action, target, file, before, after, source, undone, pending, undoes"
