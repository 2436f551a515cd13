"""Reading a dated fact against today: is the release upcoming, past, or unknown?

    period_in("spring or summer 2024")   # Period(2024-03-01, 2024-08-31, "in spring or summer 2024")
    tense(period_in("July 1985"), known="2024-01", today=date(2026, 12, 1))   # "released"

- ``upcoming``: today is before the end of the period ("is due for release in spring or summer 2024");
- ``released``: the source said it after the period was over, so it came out then ("came out in 1985");
- ``was_due``: the period is over but the source spoke before it: it was planned, the bot cannot say
  whether it held ("was due for release in spring or summer 2024, as of 2023-03");
- ``unknown``: no date in the text ("later this year", "TBA"): worded without a tense.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

Tense = Literal["upcoming", "released", "was_due", "unknown"]
TENSES: tuple[Tense, ...] = ("upcoming", "released", "was_due", "unknown")
MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.lower(): number for number, name in enumerate(calendar.month_abbr) if name}
MONTHS["sept"] = 9
# (first month, last month); winter runs into the next year
SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11), "winter": (12, 14),
           "christmas": (12, 12), "holiday": (11, 12), "holidays": (11, 12)}
PARTS = {"early": (1, 4), "mid": (5, 8), "middle": (5, 8), "late": (9, 12), "end": (10, 12)}
_YEAR = r"(1[89]\d\d|2[01]\d\d)"
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date
    when: str  # the text with its preposition: "on 6 June 2025", "in July 1985"


def _month_span(year: int, first: int, last: int) -> tuple[dt.date, dt.date]:
    end_year, end_month = year + (last - 1) // 12, (last - 1) % 12 + 1
    return dt.date(year, first, 1), dt.date(end_year, end_month, calendar.monthrange(end_year, end_month)[1])


def period_in(text: str) -> Period | None:
    """The span of time a free-text date covers, or None when it names no year."""
    folded = text.lower()
    years = [int(y) for y in re.findall(rf"\b{_YEAR}\b", folded)]
    if not years:
        return None
    iso = re.search(rf"\b{_YEAR}-(\d\d)-(\d\d)\b", folded)
    day = None
    if iso:
        try:
            day = dt.date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            day = None
    words = _WORD.findall(folded)
    # "may" is a month only beside a number ("6 May 2025", "May 2025"), not in "may slip to 2025"
    months = [MONTHS[w] for w in words if w in MONTHS and (w != "may" or re.search(r"\bmay\s+\d|\d\s+may\b", folded))]
    if day is None and len(months) == 1 and len(set(years)) == 1:
        number = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", re.sub(rf"\b{_YEAR}\b", "", folded))
        if number:
            try:
                day = dt.date(years[0], months[0], int(number.group(1)))
            except ValueError:
                day = None
    if day is not None:
        return Period(day, day, f"on {text.strip()}")
    starts, ends = [], []
    for year in sorted(set(years)):
        spans = [SEASONS[w] for w in words if w in SEASONS] + [PARTS[w] for w in words if w in PARTS]
        spans += [(m, m) for m in months]
        if not spans or len(set(years)) > 1:
            spans = [(1, 12)]
        for first, last in spans:
            start, end = _month_span(year, first, last)
            starts.append(start)
            ends.append(end)
    return Period(min(starts), max(ends), f"in {text.strip()}")


def known_date(known: str) -> dt.date:
    """The last day a YYYY, YYYY-MM or YYYY-MM-DD ``known`` can mean (the source spoke by then)."""
    parts = [int(p) for p in known.split("-")]
    if len(parts) == 3:
        return dt.date(*parts)
    if len(parts) == 2:
        return dt.date(parts[0], parts[1], calendar.monthrange(parts[0], parts[1])[1])
    return dt.date(parts[0], 12, 31)


def tense(period: Period | None, known: str, today: dt.date) -> Tense:
    if period is None:
        return "unknown"
    if today <= period.end:
        return "upcoming"
    try:
        said = known_date(known)
    except ValueError:
        return "was_due"
    return "released" if said > period.end else "was_due"


def when_of(text: str, known: str, today: dt.date) -> tuple[Tense, str]:
    """The tense and the "in July 1985" / "on 6 June 2025" form of a dated fact's text."""
    period = period_in(text)
    return tense(period, known, today), (period.when if period else text)


def shifted(text: str, by: int) -> str:
    """The same date ``by`` years earlier or later: a plausible wrong option ("spring or summer 2022")."""
    return re.sub(rf"\b{_YEAR}\b", lambda m: str(int(m.group(1)) + by), text)
