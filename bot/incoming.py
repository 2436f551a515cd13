"""Text as it enters the core: always a str that encodes as UTF-8.

    incoming_text("who plays \\ud800 Winston?")   # -> "who plays \\ufffd Winston?"

A message can carry what no UTF-8 file, database or log can hold: a lone surrogate from JSON's
``"\\ud800"`` escape, or from an undecodable byte in a command-line argument (Python's surrogateescape).
Such text is answered fine but breaks whatever writes it later (storing it as unanswered, logging it).
``Brain.reply`` and ``core_api.answer_with_intent`` pass every message through here once, so nothing
behind them needs to care; a valid surrogate pair (two halves of one emoji) is joined, not replaced.
"""
from __future__ import annotations


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
