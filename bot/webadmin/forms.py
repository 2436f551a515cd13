"""Form bodies as the browser sends them (application/x-www-form-urlencoded), checked field by field.

The body is decoded here, not by the web framework, so a value that is not UTF-8 text (a pasted binary)
is refused with a message next to its field instead of being silently replaced or failing the request.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import unquote_to_bytes

from ..errors import EditError

T = TypeVar("T")
NOT_TEXT = "This is not text: it holds bytes that are not UTF-8 (binary data?). Type or paste plain text."


@dataclass
class Form:
    values: dict[str, list[str]] = field(default_factory=dict)
    binary: set[str] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: bytes) -> "Form":
        form = cls()
        for part in body.split(b"&"):
            if not part:
                continue
            raw_key, _, raw_value = part.partition(b"=")
            key = unquote_to_bytes(raw_key.replace(b"+", b" ")).decode("utf-8", "replace")[:100]
            raw_value = unquote_to_bytes(raw_value.replace(b"+", b" "))
            try:
                value = raw_value.decode("utf-8")
            except UnicodeDecodeError:
                form.binary.add(key)
                value = ""
            form.values.setdefault(key, []).append(value)
        return form

    def get(self, name: str, default: str = "") -> str:
        values = self.values.get(name)
        return values[0] if values else default

    def getall(self, name: str) -> list[str]:
        return list(self.values.get(name, []))

    def check(self, name: str, parse: Callable[[str], T], *, required: bool = True) -> T | None:
        """``parse(value)`` with its EditError shown next to field ``name``; None if the field fails."""
        if name in self.binary:
            self.errors[name] = NOT_TEXT
            return None
        value = self.get(name)
        if not value.strip() and not required:
            return None
        try:
            return parse(value)
        except EditError as exc:
            message = str(exc)
            self.errors[name] = message[:1].upper() + message[1:]
            return None

    @property
    def ok(self) -> bool:
        return not self.errors

    def shown(self, name: str, limit: int = 5000) -> str:
        """The value to put back in the field: what was typed, so nothing is lost (cut if enormous)."""
        return self.get(name)[:limit]
