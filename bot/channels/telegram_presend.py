"""What must happen just before a request's bytes go out, and just after its answer: steps that the request
layer awaits around each try.

PTB hands every request to the rate limiter, which may hold it a long time (a busy group's 20 messages a
minute) before it passes it to the request layer, which may hold it again (a connection, a retry's back-off).
Two things are about the moment the bytes leave, not the moment the limiter first saw the request:

- Telegram's limits count arrivals. A place claimed early, by a worker that was then held up, lands in a
  window other sends have taken since (bench_cluster: 32-35 arrivals in one second while the claims stayed
  at 30, with 0.76-2.9 s between a claim and its send).
- The outbox's "may have arrived". A message still waiting in a worker's limiter never left: when that
  worker is killed, another must send it. Only one whose bytes left may have reached Telegram (and a
  quiz post, at most once, is then not sent again). Marked "sending" while it still waited, 4 of 50
  quizzes lost a question to kill -9.

So the limiter and the outbox each register a step for the duration of one call, and the request layer
(RetryMixin in channels/telegram.py) runs them, in the order of their ``stage``, just before each try, the
first one and every resend: a resend claims a place of its own, and marking a row again is harmless.

A step may come with one for after the try, told the HTTP status of its answer (None when none came: the
connection failed or dropped, the try was cut off). The limiter's: Telegram counts a message when it
arrives, some time before its answer, and a place is counted until then (bot/cluster/limits.py). The
outbox's: a 429 or a 5xx is an answer that the message was not taken, so its row is no longer one that
may have arrived (a worker killed while it backs off leaves a plain retry, not an "unsure" post to drop).
The steps after run in the reverse order.

    with before_send(LIMITS, claim, after=answered):  # SharedRateLimiter: a place in Telegram's limits
        with before_send(ON_ITS_WAY, mark):  # OutboxLimiter registers it first; it runs after the claim
            ...                             # the request layer: await run_before_send(), the bytes,
                                            # the answer, then await run_after_send()

A step runs in the task of the request, under its context; a task started inside the block inherits the
steps, so only the request layer runs them.

A later step's write may ride on an earlier step's round trip (``riding``): the outbox's "sending" is
written in the same statement as the limiter's claim, and only if the claim is granted (on PostgreSQL:
bot/cluster/limits.py, ``SendBudget.atry_claim``). Both happen just before the bytes go out, and were two
round trips per message one after the other. A step whose rider was not carried (no shared limiter, an
SQLite file) writes it itself.
"""
from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Protocol

Step = Callable[[], Awaitable[None]]
After = Callable[[int | None], Awaitable[None]]  # told the try's HTTP status, None without an answer
LIMITS = 0  # a place in Telegram's limits, claimed for this try (it may wait for room)
ON_ITS_WAY = 1  # the outbox writes down that the message is on its way: it may arrive from now on

_STEPS: ContextVar[tuple[tuple[int, Step, After | None], ...]] = ContextVar("before_send", default=())
_RIDES: ContextVar[tuple["Ride", ...]] = ContextVar("rides", default=())


class Ride(Protocol):
    """A write that goes in the claim's round trip, if the claim is granted: ``statement()`` is an UPDATE
    whose WHERE holds ``{granted}`` (replaced by the claim's own condition) and that RETURNs a row when it
    applied; None when there is nothing to write this try. ``carried(applied)`` is told how it went."""

    durable: bool  # False: the claim carrying it need not wait for the disk either (Outbox.lax)

    def statement(self) -> tuple[str, tuple[object, ...]] | None: ...
    def carried(self, applied: int) -> None: ...  # the first id the write returned; 0: it applied to nothing


@contextlib.contextmanager
def riding(ride: Ride) -> Iterator[None]:
    """Offer ``ride`` to the claims of the requests made inside the block."""
    token = _RIDES.set((*_RIDES.get(), ride))
    try:
        yield
    finally:
        _RIDES.reset(token)


def ride() -> Ride | None:
    """The write offered to the claim of the request now (the innermost), if any."""
    rides = _RIDES.get()
    return rides[-1] if rides else None


@contextlib.contextmanager
def before_send(stage: int, step: Step, *, after: After | None = None) -> Iterator[None]:
    """Have the request layer await ``step`` just before each try of the requests made inside the block,
    and ``after`` once the try is over."""
    token = _STEPS.set(tuple(sorted((*_STEPS.get(), (stage, step, after)), key=lambda s: s[0])))
    try:
        yield
    finally:
        _STEPS.reset(token)


async def run_before_send() -> None:
    """The request layer's call, just before the bytes of a try go out."""
    for _stage, step, _after in _STEPS.get():
        await step()


async def run_after_send(status: int | None) -> None:
    """The request layer's call once a try is over, however it ended: ``status`` is its answer's HTTP
    status, None when no answer came."""
    for _stage, _step, after in reversed(_STEPS.get()):
        if after is not None:
            await after(status)
