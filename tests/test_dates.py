"""Dated facts read against today (bot/knowledge/dates.py): upcoming, released, was due, unknown."""
from __future__ import annotations

import datetime as dt

import pytest

from bot.knowledge.dates import period_in, shifted, tense, when_of

TODAY = dt.date(2026, 12, 1)


@pytest.mark.parametrize("text, known, expected, when", [
    ("spring or summer 2024", "2023-03", "was_due", "in spring or summer 2024"),
    ("10 July 1985", "2024-01", "released", "on 10 July 1985"),
    ("June 6, 2025", "2025-07", "released", "on June 6, 2025"),
    ("1981", "2024", "released", "in 1981"),
    ("early 2027", "2026-05", "upcoming", "in early 2027"),
    ("winter 2026", "2026-01", "upcoming", "in winter 2026"),   # winter runs into 2027
    ("May 2027", "2026", "upcoming", "in May 2027"),
    ("later this year", "2026-01", "unknown", "later this year"),
])
def test_a_dated_fact_reads_in_its_tense(text: str, known: str, expected: str, when: str) -> None:
    assert when_of(text, known, TODAY) == (expected, when)


def test_the_same_fact_changes_tense_as_the_days_pass() -> None:
    period = period_in("spring or summer 2024")
    assert tense(period, "2023-03", dt.date(2024, 1, 1)) == "upcoming"
    assert tense(period, "2023-03", dt.date(2024, 8, 31)) == "upcoming"
    assert tense(period, "2023-03", dt.date(2024, 9, 1)) == "was_due"
    assert tense(period, "2024-09", dt.date(2024, 9, 1)) == "released"  # said after it: it came out then


def test_may_is_a_month_only_beside_a_number() -> None:
    assert period_in("6 May 2025").start == dt.date(2025, 5, 6)  # type: ignore[union-attr]
    assert period_in("it may slip to 2025").start == dt.date(2025, 1, 1)  # type: ignore[union-attr]


def test_wrong_dates_keep_the_form_of_the_right_one() -> None:
    assert shifted("spring or summer 2024", -1) == "spring or summer 2023"
