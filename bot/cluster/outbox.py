"""The outbox: every outgoing message is written down before it is sent, so none is lost to the network.

    item = outbox.record(chat, "answer", "sendMessage", params, asked=question_time)
    ... send it ...  ->  outbox.delivered(item)          (the row goes; the outcome is counted)
                     ->  outbox.retry(item, error)       (due again after a back-off; any worker takes it)
                     ->  outbox.give_up(item, outcome)   (blocked by the user, chat gone, refused: kept, never sent)
    outbox.claim_due()   # what a worker's resender sends next: due retries, and sends whose worker died

A row is ``queued`` while a worker holds it and it has not left yet (it waits for its place in Telegram's
limits), ``sending`` once its bytes went out (``sending()``, called by the request layer just before: see
bot/channels/telegram_presend.py) until Telegram answers that it did not take it (a 429 or a 5xx: ``queued``
again, ``anot_taken``), and ``pending`` while it waits for its next try; in the first two,
``next_try`` is the end of the holder's lease. A delivered row is deleted; one that failed for good is kept
as ``failed`` with its outcome and error, for an operator to read. Claims are one UPDATE whose WHERE is
checked again on the row itself, so two workers never both take a row (PostgreSQL re-evaluates it on
the row a concurrent claim changed; SQLite has one writer). A row whose lease ran out was held by a worker
that died or hung: if it was ``sending``, whether Telegram got it is unknown, as for a dropped connection;
if it was still ``queued``, it never left, and is sent as any retry is (a quiz post included).

When a send may have reached Telegram (the connection dropped after the request went out, a read
timeout, a worker that died mid-send), each kind of message has its own rule, because Telegram has
no idempotency key for sendMessage: resending risks a duplicate, not resending risks a loss.

- ``answer``, a reply to someone's message (chat answers, admin replies, quiz feedback): at least once.
  A question left unanswered is worse than the same answer twice, and the copy quotes the same question.
  Retried for 6 hours; an answer going out more than 60 s after its question starts with an apology.
- ``post``, a message the bot posts on its own (quiz questions and polls, "Quiz over", scoreboards;
  every send not tagged otherwise): at most once. In a group everyone sees a second quiz question, with
  its own answer buttons, while the game moves on at its timer either way. Retried for a minute only:
  later, it would belong to a round that is over.
- ``edit``, a change to a message already out (a quiz hint or reveal, closing a poll): resent, which is
  exactly once in effect: an edit that had landed makes the resend fail with "message is not modified",
  which counts as delivered. Retried for 47 hours (Telegram refuses edits of a bot's message after 48).

Outcomes are counted in ``outbox_outcomes`` (``outcomes()``): delivered, delivered_retried (by a resender,
after a failure), delivered_late (with the apology), undeliverable, rejected (Telegram refused it: sending
it again cannot help), expired, unsure_resent and unsure_dropped (a send that may have arrived, resent or
not by its kind's rule).
"""
from __future__ import annotations

import dataclasses
import json
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from ..storage import Storage, Tx

OUTCOMES = ("delivered", "delivered_retried", "delivered_late", "undeliverable", "rejected", "expired",
            "unsure_resent", "unsure_dropped", "superseded")

# the update whose handling is recording messages now (set by the inbox's worker around each update)
_ANSWERING: ContextVar[int | None] = ContextVar("outbox_answering", default=None)


@contextmanager
def answering(update_id: int) -> Iterator[None]:
    """Messages recorded inside the block (and in tasks started there) belong to ``update_id``: if that
    update is handled again, because the worker handling it died, the new attempt's messages replace
    those of this one that were not delivered yet (``Outbox.supersede``)."""
    token = _ANSWERING.set(update_id)
    try:
        yield
    finally:
        _ANSWERING.reset(token)


def answering_update() -> int | None:
    """The update whose handling is recording messages now (``answering``), if any."""
    return _ANSWERING.get()


@dataclass(frozen=True)
class Policy:
    """What to do with a message of one kind when its send failed."""

    resend_if_unsure: bool  # at least once (True) or at most once (False) when it may have arrived
    give_up_after: float  # s after it was recorded
    apologize_after: float | None = None  # s after the question: the answer starts with an apology
    # s for which a failed first send is tried again by its sender, keeping its chat's turn (the chat's
    # next update waits behind it), before it is left to the resend loop: answers keep their order
    keeps_turn: float = 0.0


POLICIES: Mapping[str, Policy] = {
    "answer": Policy(resend_if_unsure=True, give_up_after=6 * 3600, apologize_after=60.0, keeps_turn=30.0),
    "post": Policy(resend_if_unsure=False, give_up_after=60.0),
    "edit": Policy(resend_if_unsure=True, give_up_after=47 * 3600),
}


@dataclass(frozen=True)
class Outgoing:
    """One recorded message: the Bot API method and its parameters, as JSON strings."""

    id: int
    chat: str
    kind: str
    method: str
    params: dict[str, str]
    attempts: int
    created: float
    asked: float | None
    expires: float
    unsure: bool = False  # claimed after its lease ran out: an earlier send may have arrived
    link: str | None = None  # what it belongs to ("quiz:<game>:<round>"): told when a resend delivers it


_COLUMNS = "id, chat, kind, method, payload, attempts, created, asked, expires, unsure, link"
_HELD = "('pending', 'queued', 'sending')"  # rows still to be delivered: due at ``next_try``
# the fence: a row whose holder is no longer this worker (its lease ran out and another took it, or its
# update is handled again and the new attempt superseded it) is not this worker's to send
_SENDING = ("UPDATE outbox SET status = 'sending' WHERE id = ? AND status IN ('queued', 'sending') AND owner = ? "
            "RETURNING id")
_NOT_TAKEN = "UPDATE outbox SET status = 'queued' WHERE id = ? AND status = 'sending' AND owner = ?"


def _outgoing(row: tuple[object, ...]) -> Outgoing:
    i, chat, kind, method, payload, attempts, created, asked, expires, unsure, link = row
    return Outgoing(int(i), str(chat), str(kind), str(method), json.loads(str(payload)), int(attempts),  # type: ignore[call-overload]
                    float(created), None if asked is None else float(asked), float(expires),  # type: ignore[arg-type]
                    bool(unsure), None if link is None else str(link))


def worker_name() -> str:
    """Who holds a row: host, process, and a random part (a pid is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Outbox:
    """The outbox's rows and their rules; knows nothing of Telegram's library (bot/channels/telegram_outbox.py
    sends). ``lease``: how long a worker may hold a row it is sending before another takes it over; it must
    outlast the library's own retries and 429 waits. ``backoff``: the first retry's delay, doubled each time
    up to ``max_backoff``."""

    def __init__(self, storage: Storage, *, owner: str | None = None, lease: float = 120.0, backoff: float = 2.0,
                 max_backoff: float = 300.0, policies: Mapping[str, Policy] = POLICIES,
                 clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.owner = owner or worker_name()
        self.lease = lease
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.policies = policies
        self.clock = clock

    def policy(self, kind: str) -> Policy:
        return self.policies.get(kind, self.policies["post"])

    # the sender's side -----------------------------------------------------------------------------
    def record(self, chat: str, kind: str, method: str, params: Mapping[str, str],
               asked: float | None = None, link: str | None = None) -> Outgoing:
        """Write the message down, held by this worker, before its first send. ``link``: what the message
        belongs to, for whichever worker delivers it after a retry to tell (a quiz question's round)."""
        item, sql, args = self._record(chat, kind, method, params, asked, link)
        return dataclasses.replace(item, id=int(self.storage.query(sql, args)[0][0]))  # type: ignore[call-overload]

    async def arecord(self, chat: str, kind: str, method: str, params: Mapping[str, str],
                      asked: float | None = None, link: str | None = None, *, durable: bool = True) -> Outgoing:
        """``record``, awaited on the event loop (see Storage.aquery). ``durable=False``: see ``lax``."""
        item, sql, args = self._record(chat, kind, method, params, asked, link)
        rows = await self.storage.aquery(sql, args, durable=durable)
        return dataclasses.replace(item, id=int(rows[0][0]))  # type: ignore[call-overload]

    @staticmethod
    def lax(kind: str) -> bool:
        """Whether a message's own writes (recorded, "sending", its claim) may commit without waiting for the
        disk (Storage.query, ``durable``): an answer recorded while an inbox update is handled. The update
        is marked handled only after its answers are recorded and sent, so a commit of theirs lost with the
        database server takes the update's "handled" with it (a commit that waited for the disk carries
        every commit before it): the update is handled again and its answer recorded again, at least once,
        as when a worker dies mid-update. Posts and edits, and answers outside an update (the command line,
        polling), stay durable: nothing would make them again."""
        return kind == "answer" and _ANSWERING.get() is not None

    def record_settling(self, settle: tuple[str, tuple[object, ...]], chat: str, kind: str, method: str,
                        params: Mapping[str, str], asked: float | None = None,
                        link: str | None = None) -> Outgoing | None:
        """``record``, in one transaction with ``settle``: a statement that marks the step sending this message
        as done (a DELETE .. RETURNING of its due row). None, and nothing recorded, when it deletes nothing:
        another worker took that step over (it shows it itself)."""
        item, sql, args = self._record(chat, kind, method, params, asked, link)
        with self.storage.transaction() as tx:
            if not tx.query(*settle):
                return None
            return dataclasses.replace(item, id=int(tx.query(sql, args)[0][0]))  # type: ignore[call-overload]

    def deferred(self, chat: str, kind: str, method: str, params: Mapping[str, str], asked: float | None = None,
                 link: str | None = None) -> tuple[Outgoing, tuple[str, tuple[object, ...]]]:
        """The row of a message not written down yet (its id 0), and the statement that writes it
        ``sending``, held by this worker, to ride on its first granted claim (bot/channels/telegram_presend.py,
        Ride: its WHERE holds ``{granted}``; it RETURNs the id): one round trip where the record before the
        limiter and the claim's "sending" were two. Only for what is made again if it is lost before that
        claim: an answer to an inbox update (``lax``), whose update is handled again when its worker dies
        while the answer waits for its place; any other message is recorded before it waits (``record``)."""
        item, _sql, args = self._record(chat, kind, method, params, asked, link)
        return item, ("INSERT INTO outbox(chat, kind, method, payload, status, attempts, created, asked, expires, "
                      "next_try, owner, unsure, link, update_id) SELECT CAST(? AS TEXT), CAST(? AS TEXT), "
                      "CAST(? AS TEXT), CAST(? AS TEXT), 'sending', 1, CAST(? AS DOUBLE PRECISION), "
                      "CAST(? AS DOUBLE PRECISION), CAST(? AS DOUBLE PRECISION), CAST(? AS DOUBLE PRECISION), "
                      "CAST(? AS TEXT), 0, CAST(? AS TEXT), CAST(? AS BIGINT) WHERE {granted} RETURNING id", args)

    def _record(self, chat: str, kind: str, method: str, params: Mapping[str, str], asked: float | None,
                link: str | None) -> tuple[Outgoing, str, tuple[object, ...]]:
        """The row to be (its id still 0), and the statement that writes it."""
        now = self.clock()
        expires = now + self.policy(kind).give_up_after
        payload = json.dumps(dict(params), ensure_ascii=False, separators=(",", ":"))
        return (Outgoing(0, chat, kind, method, dict(params), 1, now, asked, expires, link=link),
                "INSERT INTO outbox(chat, kind, method, payload, status, attempts, created, asked, expires, next_try, "
                "owner, unsure, link, update_id) VALUES (?, ?, ?, ?, 'queued', 1, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING id",
                (chat, kind, method, payload, now, asked, expires, now + self.lease, self.owner, link,
                 _ANSWERING.get()))

    def delivered(self, item: Outgoing, outcome: str = "delivered") -> None:
        """The row goes and the outcome is counted, together (one round trip: ``Storage.batch``)."""
        self.storage.batch(_delivered(item, outcome))

    async def adelivered(self, item: Outgoing, outcome: str = "delivered") -> None:
        """``delivered``, awaited, written behind (Storage.abehind: with the other sends' bookkeeping, one
        round trip for all that ended meanwhile) and not durable. A mark lost with the database server
        (never with a worker: the commit is seen at once) leaves the row ``sending``, as a worker killed
        mid-send leaves it: taken over after its lease as a send that may have arrived, and resent or not
        by its kind's rule (an answer twice, a post not again); the "sending" before it is durable, so
        nothing before it is lost with it. Never a reply lost, at most one sent twice."""
        await self.storage.abehind(_delivered(item, outcome), durable=False)

    def retry(self, item: Outgoing, error: str, *, not_before: float = 0.0, unsure: bool = False) -> str:
        """A send failed and may be tried again: due after a back-off (at least ``not_before`` s, as a 429
        says), unless the kind's rule says otherwise. The outcome: "pending", "expired" or "unsure_dropped"."""
        policy = self.policy(item.kind)
        if unsure and not policy.resend_if_unsure:
            self.give_up(item, "unsure_dropped", error)
            return "unsure_dropped"
        delay = min(self.max_backoff, self.backoff * 2 ** max(0, item.attempts - 1)) * random.uniform(0.8, 1.2)
        due = self.clock() + max(delay, not_before)
        if due > item.expires:
            self.give_up(item, "expired", error)
            return "expired"
        with self.storage.transaction() as tx:
            if tx.query("UPDATE outbox SET status = 'pending', next_try = ?, owner = NULL, error = ? "
                        "WHERE id = ? AND owner = ? RETURNING id", (due, error[:500], item.id, self.owner)) and unsure:
                _count(tx, "unsure_resent")
        return "pending"

    def give_up(self, item: Outgoing, outcome: str, error: str) -> None:
        """Never sent again: kept as ``failed`` for an operator, and counted. Only while this worker holds the
        row (as ``retry``): one that another worker took over is that worker's to settle."""
        with self.storage.transaction() as tx:
            if tx.query("UPDATE outbox SET status = 'failed', owner = NULL, error = ? WHERE id = ? AND owner = ? "
                        "RETURNING id", (f"{outcome}: {error}"[:500], item.id, self.owner)):
                _count(tx, outcome)

    def supersede(self, update_id: int) -> int:
        """``update_id`` is being handled again (the worker handling it died, or lost its hold on the chat):
        the answers its earlier attempt recorded and had not delivered are given up as ``superseded``,
        because the new attempt answers again. Only answers: a handler run again always answers again,
        while what it posted or edited (a quiz's first question) reflects state the first attempt already
        committed, which the second attempt finds done (a game already running) and does not post again.
        Without this the earlier attempt's answer, waiting for its turn when its worker died, went out a
        lease later as a plain retry: after the new attempt's answer to the same question, and after the
        chat's next ones (bench_cluster --kill: 15 answers twice, two minutes late with an apology). A row whose bytes had left may have arrived all the same: that copy is the at least
        once of the inbox (bot/channels/telegram_inbox.py). How many rows were given up."""
        with self.storage.transaction() as tx:
            rows = tx.query(f"UPDATE outbox SET status = 'failed', owner = NULL, error = ? WHERE update_id = ? "
                            f"AND kind = 'answer' AND status IN {_HELD} RETURNING id",
                            ("superseded: its update is handled again", update_id))
            if rows:
                tx.query(_COUNT_N, ("superseded", len(rows), len(rows)))
        return len(rows)

    def sending(self, item_id: int) -> bool:
        """The row's bytes are about to go out: from now on it may have arrived (see the module's docstring).
        False when this worker does not hold the row any more: then it must not send it (another worker
        does, or a new attempt at its update replaced it)."""
        return bool(self.storage.query(_SENDING, (item_id, self.owner)))

    def sending_statement(self, item_id: int) -> tuple[str, tuple[object, ...]]:
        """``sending`` as a statement to ride on a send's claim (bot/channels/telegram_presend.py, Ride): its
        WHERE holds ``{granted}``, the claim's condition, and it RETURNs the row when it applied. Durable, as
        ``sending``: a post marked "sending" is never sent again (at most once), so the mark must outlive
        the database server's crash; the "delivered" after it need not (``adelivered``)."""
        return (_SENDING.replace(" RETURNING id", " AND {granted} RETURNING id"), (item_id, self.owner))

    async def asending(self, item_id: int, *, durable: bool = True) -> bool:
        """``sending``, awaited on the event loop (see Storage.aquery); ``durable=False``: see ``lax``."""
        return bool(await self.storage.aquery(_SENDING, (item_id, self.owner), durable=durable))

    async def anot_taken(self, item_id: int) -> None:
        """Telegram answered the row's try with a 429 or a 5xx: it did not take the message, so the row is
        ``queued`` again (no longer one that may have arrived) until its next try's bytes go out."""
        await self.storage.aquery(_NOT_TAKEN, (item_id, self.owner))

    def renew(self, item_id: int, until: float | None = None) -> None:
        """This worker still holds the row: its lease starts again now (or lasts ``until``, a time: a short
        hold while its sender waits to try again, so a worker that dies meanwhile leaves it to another
        soon, not a lease later)."""
        self.storage.query("UPDATE outbox SET next_try = ? WHERE id = ? AND status IN ('queued', 'sending') "
                           "AND owner = ?", (self.clock() + self.lease if until is None else until, item_id,
                                             self.owner))

    def reroute(self, item: Outgoing, chat: str) -> Outgoing:
        """The group became a supergroup with a new id (Telegram's "migrate_to_chat_id"): send it there."""
        params = {**item.params, "chat_id": chat}
        self.storage.query("UPDATE outbox SET chat = ?, payload = ? WHERE id = ?",
                           (chat, json.dumps(params, ensure_ascii=False, separators=(",", ":")), item.id))
        return dataclasses.replace(item, chat=chat, params=params)

    # the resender's side ---------------------------------------------------------------------------
    def claim_due(self, limit: int = 20) -> list[Outgoing]:
        """Take up to ``limit`` rows that are due: retries whose time came, and rows whose holder's lease ran
        out (``unsure`` if their bytes had left). Each is held by this worker for a new lease, ``queued``."""
        return _claimed(self.storage.query(*self._claim_due(limit)))

    async def aclaim_due(self, limit: int = 20) -> list[Outgoing]:
        return _claimed(await self.storage.aquery(*self._claim_due(limit)))

    def _claim_due(self, limit: int) -> tuple[str, tuple[object, ...]]:
        now = self.clock()
        return ("UPDATE outbox SET unsure = CASE WHEN status = 'sending' THEN 1 ELSE 0 END, status = 'queued', "
                "owner = ?, next_try = ?, attempts = attempts + 1 "
                f"WHERE id IN (SELECT id FROM outbox WHERE status IN {_HELD} AND next_try <= ? "
                f"ORDER BY next_try LIMIT ?) AND status IN {_HELD} AND next_try <= ? "
                f"RETURNING {_COLUMNS}", (self.owner, now + self.lease, now, limit, now))

    def next_due(self) -> float | None:
        """When the next row falls due (a resender sleeps until then, or its poll interval)."""
        return _due(self.storage.query(_NEXT_DUE))

    async def anext_due(self) -> float | None:
        return _due(await self.storage.aquery(_NEXT_DUE))

    def late(self, item: Outgoing) -> bool:
        """Whether this answer goes out so long after its question that it needs an apology."""
        after = self.policy(item.kind).apologize_after
        return after is not None and item.asked is not None and self.clock() - item.asked > after

    def expired(self, item: Outgoing) -> bool:
        return self.clock() > item.expires

    def count(self, outcome: str) -> None:
        with self.storage.transaction() as tx:
            _count(tx, outcome)

    # for operators and the bench -------------------------------------------------------------------
    def outcomes(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        counts.update({str(o): int(n) for o, n in self.storage.query(  # type: ignore[call-overload]
            "SELECT outcome, n FROM outbox_outcomes")})
        return counts

    def waiting(self) -> dict[str, int]:
        """Rows by status: queued and sending (held now), pending (waiting for a retry), failed (given up)."""
        return {str(s): int(n) for s, n in self.storage.query(  # type: ignore[call-overload]
            "SELECT status, COUNT(*) FROM outbox GROUP BY status")}

    def failed(self, limit: int = 20) -> list[tuple[Outgoing, str]]:
        rows = self.storage.query(f"SELECT {_COLUMNS}, error FROM outbox WHERE status = 'failed' "
                                  "ORDER BY id DESC LIMIT ?", (limit,))
        return [(_outgoing(r[:-1]), str(r[-1])) for r in rows]

    def sweep(self, keep: float = 7 * 86400) -> int:
        """Forget failed rows older than ``keep`` seconds; rows removed."""
        return len(self.storage.query("DELETE FROM outbox WHERE status = 'failed' AND created <= ? RETURNING 1",
                                      (self.clock() - keep,)))


# one look per status, each the first entry of the (status, next_try) index, where MIN over the IN list
# read every row of both statuses (every message in flight, under a backlog)
_NEXT_DUE = ("SELECT MIN(t) FROM (SELECT MIN(next_try) AS t FROM outbox WHERE status = 'pending' "
             "UNION ALL SELECT MIN(next_try) FROM outbox WHERE status = 'queued' "
             "UNION ALL SELECT MIN(next_try) FROM outbox WHERE status = 'sending') AS due")


def _due(rows: list[tuple[object, ...]]) -> float | None:
    return None if not rows or rows[0][0] is None else float(rows[0][0])  # type: ignore[arg-type]


def _claimed(rows: list[tuple[object, ...]]) -> list[Outgoing]:
    return sorted((_outgoing(r) for r in rows), key=lambda o: o.id)


def _delivered(item: Outgoing, outcome: str) -> list[tuple[str, tuple[object, ...]]]:
    return [("DELETE FROM outbox WHERE id = ?", (item.id,)), (_COUNT, (outcome,))]


_COUNT = ("INSERT INTO outbox_outcomes(outcome, n) VALUES (?, 1) "
          "ON CONFLICT(outcome) DO UPDATE SET n = outbox_outcomes.n + 1")
_COUNT_N = ("INSERT INTO outbox_outcomes(outcome, n) VALUES (?, ?) "
            "ON CONFLICT(outcome) DO UPDATE SET n = outbox_outcomes.n + ?")


def _count(tx: Tx, outcome: str) -> None:
    tx.query(_COUNT, (outcome,))
