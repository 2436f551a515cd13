"""What enters the core from outside: JSON bodies decoded and checked once, text made valid UTF-8.

    update = decode_object(body, limit=MAX_UPDATE_BYTES)      # a Telegram webhook POST
    chat = field(item, "chat", (str, int), "a string, a number or null")
    incoming_text("who plays \\ud800 Winston?")                # -> "who plays \\ufffd Winston?"

Three fronts take JSON from strangers (Telegram's webhook, Rasa's action webhook, ``ask --batch`` lines).
Each went through the same steps in its own words; here they are one: a size limit before anything is
parsed, UTF-8, JSON, an object at the top, a bounded nesting depth (Python's parser recurses: a body of
200,000 ``[`` raises RecursionError, and a deep object is a cost to everything that walks it). Every
refusal is a :class:`BadInput` whose text is fit to show whoever sent it (never the body, never a
traceback); the fronts add their own status code or line number.

Text: a message can carry what no UTF-8 file, database or log can hold: a lone surrogate from JSON's
``"\\ud800"`` escape, or from an undecodable byte in a command-line argument (Python's surrogateescape).
Such text is answered fine but breaks whatever writes it later (storing it as unanswered, logging it).
``Brain.reply`` and ``core_api.answer_with_intent`` pass every message through :func:`incoming_text`
once, so nothing behind them needs to care; a valid surrogate pair (two halves of one emoji) is joined.
"""
from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # JSON nesting: Telegram's updates and Rasa's trackers nest about 6 deep


class BadInput(ValueError):
    """Why a body or a line was refused, in words for whoever sent it."""


class TooLarge(BadInput):
    """Over the size limit (fronts answer it with their own status: HTTP 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than the limit of {limit:,} bytes")
        self.limit = limit


def decode_object(raw: bytes | str, *, limit: int, max_depth: int = MAX_DEPTH,
                  expected: str = "a JSON object") -> dict[str, Any]:
    """The JSON object in ``raw``; :class:`BadInput` says why it is not one.

    >>> decode_object(b'{"update_id": 1}', limit=100)
    {'update_id': 1}
    >>> decode_object(b'[1, 2]', limit=100)
    Traceback (most recent call last):
    bot.incoming.BadInput: not a JSON object
    >>> decode_object(b'{"a": "caf\\xe9"}', limit=100)
    Traceback (most recent call last):
    bot.incoming.BadInput: not UTF-8 text (byte 11)
    """
    if len(raw) > limit:
        raise TooLarge(limit)
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(f"not UTF-8 text (byte {exc.start + 1})") from None
    else:
        text = raw
    if not text.strip():
        raise BadInput(f"empty: expected {expected}")
    try:
        data = json.loads(text)
    except RecursionError:
        raise BadInput(f"JSON nested more than {max_depth} deep") from None
    except ValueError as exc:
        raise BadInput(f"not JSON ({str(exc)[:80]})") from None
    if not isinstance(data, dict):
        raise BadInput(f"not {expected}")
    if nesting_depth(data, max_depth) > max_depth:
        raise BadInput(f"JSON nested more than {max_depth} deep")
    return data


def nesting_depth(value: Any, limit: int) -> int:
    """How deep lists and objects nest in parsed JSON (counting stops past ``limit``), without recursion.

    >>> nesting_depth({"a": [1, {"b": []}]}, 64)
    4
    """
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


_KINDS = {str: "a string", int: "a number", dict: "an object", list: "a list", bool: "true or false"}


def field(data: dict[str, Any], key: str, kinds: tuple[type, ...], *, required: bool = False,
          nonempty: bool = False) -> Any:
    """``data[key]`` when it is one of ``kinds`` (or missing or null, unless ``required``); else
    :class:`BadInput` naming the field and what it must be. JSON's true and false are not numbers.

    >>> field({"chat": 7}, "chat", (str, int))
    7
    >>> field({"chat": True}, "chat", (str, int))
    Traceback (most recent call last):
    bot.incoming.BadInput: "chat" must be a string, a number or null
    """
    value = data.get(key)
    if value is None and not required:
        return None
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok or (nonempty and not value):
        names = [_KINDS.get(k, k.__name__) for k in kinds] + ([] if required else ["null"])
        if nonempty:
            names[0] = "a non-empty " + names[0].split(" ", 1)[1]
        what = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        raise BadInput(f'"{key}" must be {what}')
    return value


def incoming_text(text: object) -> str:
    if text is None:
        return ""
    value = text if isinstance(text, str) else str(text)
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        # UTF-16 round trip: surrogate pairs become their character, lone surrogates U+FFFD
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
