"""Free-text values read well in a relation's phrase: the preposition before ``{object}`` fits the value.

    fit_phrase("{subject} is due for release in {object}", "June 6, 2025")
    # -> "{subject} is due for release on {object}"
    fit_phrase("{subject} is due for release in {object}", "next summer")
    # -> "{subject} is due for release {object}"
    as_value("{subject} is due for release in {object}", "in June 2025")   # -> "June 2025"

A phrase is written once, for the values its author had in mind ("in spring or summer 2024"); an admin
then types "June 6, 2025", which wants "on", or "in June 2025", which brings its own. The time
prepositions (in, on, at) are chosen by the value: a day of the month or of the week takes "on", a
month, season or year "in", and a value that opens with its own preposition or time word ("by the end
of 2025", "next year", "this summer") none. English grammar, not film knowledge: it is the same for
every film folder. Phrases whose word before ``{object}`` is anything else are left as they are.
"""
from __future__ import annotations

import re

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)?"
# a single day: "June 6, 2025", "6 June 2025", "the 6th of June", "2025-06-06", "Friday", "Friday 6 June"
_DAY = re.compile(
    rf"^(?:(?:{_DAYS}),?\s+)?(?:the\s+)?(?:"
    rf"(?:{_MONTHS})\.?\s+{_ORDINAL}\b(?:,?\s+\d{{4}})?"
    rf"|{_ORDINAL}\s+(?:of\s+)?(?:{_MONTHS})\b\.?(?:,?\s+\d{{4}})?"
    rf"|\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}"
    rf")\s*$|^(?:{_DAYS})\s*$", re.I)
# words a value can open with that already say how it relates in time: no preposition before them
_OWN_LEAD = re.compile(r"^(?:in|on|at|by|from|around|about|during|before|after|until|till|since|between|"
                       r"sometime|some\s+time|this|next|last|later|soon|not\s+before|no\s+earlier|"
                       r"early\s+next|late\s+next)\b", re.I)
_SLOT = re.compile(r"\b(in|on|at) (\{object\})")
_LEADING_PREPOSITION = re.compile(r"^(?:in|on|at)\s+(?=\S)", re.I)


def fit_phrase(phrase: str, value: str) -> str:
    """``phrase`` with the time preposition before ``{object}`` chosen for ``value``."""
    match = _SLOT.search(phrase)
    if match is None:
        return phrase
    text = value.strip()
    if _OWN_LEAD.match(text):
        preposition = ""
    elif _DAY.match(text):
        preposition = "on"
    else:
        preposition = "in" if match.group(1) == "on" and re.search(r"\b\d{4}\b", text) else match.group(1)
    replacement = f"{preposition} {{object}}" if preposition else "{object}"
    return phrase[:match.start()] + replacement + phrase[match.end():]


def as_value(phrase: str, value: str) -> str:
    """The value to store for ``phrase``: a leading in/on/at is dropped when the phrase puts its own
    there, so answers that use the bare value ("is set for {answer}") read well too."""
    if _SLOT.search(phrase) is None:
        return value
    return _LEADING_PREPOSITION.sub("", value.strip(), count=1)
