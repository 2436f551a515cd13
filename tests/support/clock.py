"""A clock a test moves by hand: engines, budgets and outboxes take it where they would take time.time."""
from __future__ import annotations


class Clock:
    """``clock()`` is ``clock.now``; a test advances it (``clock.now += 15``) instead of sleeping."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
