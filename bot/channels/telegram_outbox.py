"""No reply lost: every message the bot sends goes through the outbox (bot/cluster/outbox.py) on its way out.

``OutboxLimiter`` wraps the bot's rate limiter, because PTB hands every Bot API request to the rate limiter:
sendMessage, sendPoll and edits are written down before they wait for their place in the limits, then
sent through the inner limiter (limits, 429s) and the request class (5xx and network retries). What
happens next depends on how the send ended:

- delivered: the row goes;
- the library's retries ran out (5xx, 429 past its retries, a network error before the request went
  out): the row is due again after a back-off, for this or any other worker's ``resend loop``, across
  restarts; the caller gets ``SendDeferred`` (a NetworkError: the error handler offers no apology, the
  message is on its way);
- undeliverable (403: blocked by the user, removed from the group; 400: chat not found, user deactivated)
  or refused (any other 400: sending it again would fail the same way): marked, never sent again; the
  caller gets the error as before (telegram_send falls back to plain text on "can't parse entities");
- it may have arrived (the connection dropped after the request went out, a read timeout): by the
  kind's rule, resent (answers, edits) or not (posts); see bot/cluster/outbox.py.

A message's kind comes from its sender: ``telegram_send.reply`` tags answers with ``SendTag("answer",
asked=...)`` (``rate_limit_args``, PTB's way to hand a limiter per-call data); an edit is an edit;
everything else is a post. An answer resent more than a minute after its question begins with an
apology. Chat actions, callback answers, inline results and the rest are ephemeral or idempotent:
they pass straight to the inner limiter.

A message can also carry a link to what it belongs to (``SendTag(link="quiz:<game>:<round>")``): when the
resend loop, on any worker, delivers it, the ``Followup`` registered for the link's prefix learns the
message's id (a late quiz question gets its hint and reveal), and is asked first whether it is still
wanted (a question whose game moved on is dropped as expired).
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import html
import logging
import random
import sys
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter
from telegram.request._requestparameter import RequestParameter  # how PTB encodes each parameter

from ..cluster.outbox import Outbox, Outgoing
from .telegram_limits import URGENT, SharedRateLimiter, retry_seconds
from .telegram_presend import ON_ITS_WAY, before_send, riding

log = logging.getLogger(__name__)

LATE_APOLOGY = "Sorry this answer is so late: I couldn't get through to Telegram for a while."
# the methods recorded, with the kind a message has when its sender says nothing
RECORDED = {"sendMessage": "post", "sendPoll": "post", "editMessageText": "edit", "editMessageCaption": "edit",
            "editMessageReplyMarkup": "edit", "stopPoll": "edit"}
UNDELIVERABLE = ("chat not found", "user is deactivated", "bot was kicked", "bot was blocked", "peer_id_invalid",
                 "group chat was deactivated", "not enough rights", "have no rights to send", "chat_write_forbidden")
MAX_TEXT = 4096
SWEEP_INTERVAL = 3600.0  # s
TURN_GRACE = 5.0  # s past its next try's time that a row waiting to be tried again in its turn is held


class Settling(Protocol):
    """A step whose message is recorded in one transaction with the step's own "done" (bot/quiz/store.py,
    Shown: a quiz timer's steps, shown again by another worker if this one dies before the record)."""

    taken: bool

    def statement(self) -> tuple[str, tuple[object, ...]]: ...


@dataclass(frozen=True)
class SendTag:
    """What a sender tells the outbox about one message (PTB's ``rate_limit_args``)."""

    kind: str = "answer"
    asked: float | None = None  # when the question was asked (Unix time): a late answer apologises
    link: str | None = None  # what the message belongs to, "<prefix>:...": see Followup
    urgent: bool = False  # it takes the next turn in the limits, before a backlog (telegram_limits.Urgent)
    settles: Settling | None = None  # recorded with this step's "done", or not at all (Unwanted)


class Followup(Protocol):
    """Who a linked message belongs to (a quiz round: ``quiz:<game>:<round>``), registered for its link's
    prefix with ``OutboxLimiter.follow``. A message whose first send failed is resent later, maybe by
    another worker: its sender never learns the message's id. So before each resend the owner is asked
    whether the message is still wanted (a question whose game moved on is not posted at all), and after
    a resend delivered it, it is told what Telegram returned (the question's id, for its reveal)."""

    async def wanted(self, chat: str, link: str) -> bool: ...
    async def delivered(self, chat: str, link: str, message: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class _Resend:
    """A resend by the loop: the row exists already; ``on_its_way`` marks it when its bytes go out."""

    item_id: int
    on_its_way: Any = None  # _OnItsWay
    urgent: bool = False


class SendDeferred(NetworkError):
    """The message could not be sent now; it waits in the outbox and will be sent by some worker."""


class NotHeld(SendDeferred):
    """Just before its bytes went out, the message's row turned out not to be this worker's any more: its
    lease ran out while it waited (a stalled worker) and another worker took it over, or its update is
    being handled again elsewhere and the new attempt's answer replaced it (Outbox.supersede). Sending it
    too would show it twice; whoever holds the row now sends it (or its replacement)."""


def encode(data: dict[str, Any]) -> dict[str, str] | None:
    """The request's parameters as the JSON strings PTB would send; None when it uploads a file (not kept)."""
    params: dict[str, str] = {}
    for key, value in data.items():
        parameter = RequestParameter.from_input(key, value)
        if parameter.input_files:
            return None
        if parameter.json_value is not None:
            params[key] = parameter.json_value
    return params


def may_have_arrived(exc: TelegramError) -> bool:
    """Whether a failed request may still have reached Telegram: the connection broke after it went out.
    Not when Telegram (or its proxy) answered with an error, nor when the connection never opened."""
    cause = exc.__cause__
    if cause is None or isinstance(cause, TelegramError):
        return False  # an HTTP answer: 5xx, or a body that was no JSON (nginx's 502 page)
    never_sent: tuple[type[BaseException], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
    if "aiohttp" in sys.modules:  # only FrontOptions(http="aiohttp") imports it
        from .telegram_http import NEVER_SENT
        never_sent += NEVER_SENT
    return not isinstance(cause, never_sent)


def with_apology(item: Outgoing) -> Outgoing:
    """The answer with the late apology in front; unchanged when it would not fit or is not text."""
    text = item.params.get("text")
    if item.method != "sendMessage" or text is None:
        return item
    mode = item.params.get("parse_mode")
    if mode not in (None, "HTML"):
        return item
    apology = html.escape(LATE_APOLOGY, quote=False) if mode == "HTML" else LATE_APOLOGY
    if len(apology) + 2 + len(text) > MAX_TEXT:
        return item
    params = {**item.params, "text": f"{apology}\n\n{text}"}
    return dataclasses.replace(item, params=params)


class _Holding:
    """While a message is being sent, this worker renews its hold on the row every third of a lease, so
    a message that waits long in the limits (a busy group's queue, a 429) is not taken for one whose
    worker died and sent twice. A timer, not a task: most sends are over long before it fires."""

    def __init__(self, outbox: Outbox, item_id: Callable[[], int]) -> None:
        self.outbox = outbox
        self.item_id = item_id  # read at each beat: a row recorded with its first claim has no id before
        self._timer: asyncio.TimerHandle | None = None
        self._renewing: asyncio.Task[None] | None = None

    def __enter__(self) -> _Holding:
        self._schedule()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._renewing is not None:
            self._renewing.cancel()

    def _schedule(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.outbox.lease / 3, self._renew)

    def _renew(self) -> None:
        self._renewing = asyncio.create_task(self._renew_now())

    async def _renew_now(self) -> None:
        item_id = self.item_id()
        try:
            if item_id:  # (not written yet: nothing to hold)
                await asyncio.to_thread(self.outbox.renew, item_id)
        except Exception:  # noqa: BLE001 - the next beat tries again
            log.exception("could not renew the hold on outbox message %d", item_id)
        self._schedule()


class Unwanted(TelegramError):
    """What the message belongs to is over (a quiz question whose game moved on while the question waited
    for its place in the limits): it is not sent, and its row is given up as expired."""


class _OnItsWay:
    """The outbox's step just before a try's bytes go out (telegram_presend.py): the row becomes ``sending``,
    from then on it may have arrived. Until then it is ``queued``, however long it waits for its place in
    Telegram's limits, so a worker killed meanwhile leaves a message that another sends as a plain retry:
    a quiz post is at most once only once it may have arrived. Written once per message, not per try,
    unless Telegram answers a try with a 429 or a 5xx (``after``): it did not take it, and the row is
    ``queued`` again while the request layer backs off.

    A message with an owner to ask (``wanted``: a quiz question's round) is checked here too, every try:
    it may have waited a minute for a busy group's window, and a question whose game has moved on
    meanwhile would arrive after "Quiz stopped" or after the next question."""

    def __init__(self, outbox: Outbox, item_id: int,
                 wanted: Callable[[], Coroutine[Any, Any, bool]] | None = None, durable: bool = True,
                 recording: tuple[str, tuple[object, ...]] | None = None,
                 record: Callable[[], Coroutine[Any, Any, Outgoing]] | None = None) -> None:
        self.outbox = outbox
        self.item_id = item_id  # 0 until ``recording`` rode on a granted claim
        self.wanted = wanted
        self.durable = durable  # the mark, and the claim it rides on, wait for the disk (Outbox.lax)
        # a row not written yet (Outbox.deferred): written "sending" with the first granted claim, or by
        # ``record`` just before the bytes go out when no claim carries it (a limiter of no shared database)
        self.recording, self.record = recording, record
        self.sent = False  # whether a try's bytes may have left
        self._held: bool | None = None  # the mark, written with this try's claim (``carried``)

    # a Ride (telegram_presend.riding): the mark goes in the shared limiter's claim, if it is granted; the
    # claim comes just before this step, or up to a window before it when its place was given from a moment
    # ahead (a full bot window): a worker that dies in that second leaves it as one that may have arrived
    def statement(self) -> tuple[str, tuple[object, ...]] | None:
        if self.sent:
            return None
        return self.recording if self.recording is not None else self.outbox.sending_statement(self.item_id)

    def carried(self, applied: int) -> None:
        if self.recording is not None and applied:
            self.item_id, self.recording = applied, None  # written, "sending", held by this worker
        self._held = bool(applied)

    async def written(self) -> int:
        """The row's id, writing it down now (``queued``) if no claim has: a try that failed before its
        bytes could leave, or no claim to ride on."""
        if self.recording is not None and self.record is not None:
            self.item_id, self.recording = (await self.record()).id, None
        return self.item_id

    async def __call__(self) -> None:
        held, self._held = self._held, None
        if self.wanted is not None and not await self.wanted():
            raise Unwanted("what the message belongs to is over")
        if self.sent:
            return
        if held is None and self.recording is not None:
            await self.written()  # no claim carried the record: written, then marked "sending" as any row
        self.sent = True
        if held is None:
            try:
                held = await self.outbox.asending(self.item_id, durable=self.durable)
            except Exception:  # noqa: BLE001 - the database is away: send it all the same, as without an outbox
                log.exception("could not mark outbox message %d as on its way", self.item_id)
                return
        if not held:  # the fence: the row is another worker's now, or gone
            self.sent = False
            raise NotHeld(f"outbox message {self.item_id} is no longer this worker's to send")

    async def after(self, status: int | None) -> None:
        if not self.sent or status is None or not (status == 429 or status >= 500):
            return
        self.sent = False
        try:
            await self.outbox.anot_taken(self.item_id)
        except Exception:  # noqa: BLE001 - it stays "sending": taken over as a send that may have arrived
            log.exception("could not mark outbox message %d as not taken", self.item_id)


class OutboxLimiter(BaseRateLimiter[Any]):
    """Records and retries messages around ``inner`` (the limiter that enforces Telegram's limits).
    Without an outbox (a Brain with no storage) it only passes requests on."""

    def __init__(self, inner: BaseRateLimiter[Any], outbox: Outbox | None, *, poll: float = 1.0,
                 batch: int = 20) -> None:
        self.inner = inner
        self.outbox = outbox
        self.poll = poll
        self.batch = batch
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Event | None = None
        self._marking: set[asyncio.Task[None]] = set()  # "delivered" being written
        self._followups: dict[str, Followup] = {}
        self._leaving = asyncio.Event()  # the worker is stopping (``leaving``)

    async def supersede(self, update_id: int) -> None:
        """``update_id`` is handled again (its first worker died mid-update): the answers its earlier attempt
        recorded and had not delivered give way to the new attempt's (Outbox.supersede)."""
        if self.outbox is None:
            return
        try:
            given_up = await asyncio.to_thread(self.outbox.supersede, update_id)
        except Exception:  # noqa: BLE001 - the database is away: at worst the earlier answer comes too
            log.exception("could not give up the earlier answers to update %d", update_id)
            return
        if given_up:
            log.info("update %d is handled again: %d earlier answer(s) not yet delivered given up", update_id,
                     given_up)

    def follow(self, prefix: str, followup: Followup) -> None:
        """Tell ``followup`` about resends of messages whose link starts with ``prefix:``."""
        self._followups[prefix] = followup

    def _followup(self, item: Outgoing) -> Followup | None:
        return None if item.link is None else self._followups.get(item.link.partition(":")[0])

    def _asker(self, item: Outgoing) -> Callable[[], Coroutine[Any, Any, bool]] | None:
        """Whether a linked message is still wanted, asked of its owner just before each try."""
        followup = self._followup(item)
        if followup is None or item.link is None:
            return None
        return functools.partial(self._wanted, followup, item.chat, item.link)

    # lifecycle --------------------------------------------------------------------------------------
    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.stop()
        if self._marking:  # bounded: an unwritten "delivered" only means a resend after the lease
            await asyncio.wait(set(self._marking), timeout=5.0)
        await self.inner.shutdown()

    def start(self, bot: Bot) -> None:
        """Start the resend loop (once the bot is initialised: from the Application's post_init)."""
        if self.outbox is None or self._loop_task is not None:
            return
        # the loop resends stored parameters by method name, which PTB discourages for methods it wraps
        warnings.filterwarnings("ignore", message=r"Please use 'Bot\.\w+' instead of 'Bot\.do_api_request")
        self._stopping = asyncio.Event()
        self._loop_task = asyncio.create_task(self._resend_loop(bot, self._stopping), name="outbox-resend")

    async def stop(self, timeout: float = 5.0) -> None:
        """Let the resends under way finish (a cancelled one may have gone out: it would count as unsure),
        for at most ``timeout`` seconds; then cancel them."""
        task, self._loop_task = self._loop_task, None
        if task is None:
            return
        assert self._stopping is not None
        self._stopping.set()
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            log.warning("the outbox's resends did not finish within %.0fs; cancelled", timeout)
            task.cancel()
            await asyncio.wait({task}, timeout=timeout)

    # the first send ---------------------------------------------------------------------------------
    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]], args: Any,
                              kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
                              rate_limit_args: Any) -> Any:
        tag = rate_limit_args if isinstance(rate_limit_args, SendTag) else None
        inner_args = None if isinstance(rate_limit_args, (SendTag, _Resend)) else rate_limit_args
        if getattr(rate_limit_args, "urgent", False) and isinstance(self.inner, SharedRateLimiter):
            inner_args = URGENT
        default_kind = RECORDED.get(endpoint)
        params = None
        if (self.outbox is not None and default_kind is not None and data.get("chat_id") is not None
                and not isinstance(rate_limit_args, _Resend)):
            params = encode(data)
        if params is None:
            if isinstance(rate_limit_args, _Resend) and self.outbox is not None:
                resend = rate_limit_args
                on_its_way = resend.on_its_way or _OnItsWay(self.outbox, resend.item_id)
                with _Holding(self.outbox, lambda: resend.item_id), before_send(ON_ITS_WAY, on_its_way,
                                                                        after=on_its_way.after), riding(on_its_way):
                    return await self.inner.process_request(callback, args, kwargs, endpoint, data, inner_args)
            return await self.inner.process_request(callback, args, kwargs, endpoint, data, inner_args)
        assert self.outbox is not None
        kind = tag.kind if tag is not None and default_kind == "post" else default_kind
        lax = self.outbox.lax(kind)
        settles = tag.settles if tag is not None and tag.settles is not None and not tag.settles.taken else None
        recording: tuple[str, tuple[object, ...]] | None = None
        try:
            if settles is None and lax and isinstance(self.inner, SharedRateLimiter) and self.inner.rides:
                # written with its first granted claim (Outbox.deferred): one round trip where two were
                item, recording = self.outbox.deferred(str(data["chat_id"]), kind, endpoint, params,
                                                       tag.asked if tag is not None else None,
                                                       tag.link if tag is not None else None)
            elif settles is not None:
                recorded = await asyncio.to_thread(
                    self.outbox.record_settling, settles.statement(), str(data["chat_id"]), kind, endpoint, params,
                    tag.asked if tag is not None else None, tag.link if tag is not None else None)
                settles.taken = True
                if recorded is None:
                    raise Unwanted("another worker shows this step")
                item = recorded
            else:
                item = await self.outbox.arecord(str(data["chat_id"]), kind, endpoint, params,
                                                 tag.asked if tag is not None else None,
                                                 tag.link if tag is not None else None, durable=not lax)
        except Unwanted:
            raise
        except Exception:  # noqa: BLE001 - the database is away: send it anyway, as without an outbox
            log.exception("could not record a %s in the outbox; sending it unrecorded", endpoint)
            return await self.inner.process_request(callback, args, kwargs, endpoint, data, inner_args)
        record = functools.partial(self.outbox.arecord, str(data["chat_id"]), kind, endpoint, params,
                                   tag.asked if tag is not None else None, tag.link if tag is not None else None,
                                   durable=not lax)
        on_its_way = _OnItsWay(self.outbox, item.id, self._asker(item), durable=not lax, recording=recording,
                               record=record)
        tries = 0
        while True:
            try:
                with _Holding(self.outbox, lambda: on_its_way.item_id), \
                        before_send(ON_ITS_WAY, on_its_way, after=on_its_way.after), riding(on_its_way):
                    result = await self.inner.process_request(callback, args, kwargs, endpoint, data, inner_args)
                break
            except TelegramError as exc:
                tries += 1
                item = dataclasses.replace(item, id=await on_its_way.written())
                unsure = on_its_way.sent and may_have_arrived(exc)
                pause = self._pause_in_turn(item, exc, unsure, tries)
                if pause is None:
                    verdict = await asyncio.to_thread(self._settle_logged, item, exc,
                                                      unsure=None if on_its_way.sent else False)
                    if verdict == "pending":
                        raise SendDeferred(f"{endpoint} failed ({exc}); it waits in the outbox") from exc
                    raise
                log.warning("outbox: %s to chat %s failed (%s); tried again in %.1f s, in its chat's turn",
                            endpoint, item.chat, exc, pause)
                if not await self._wait_in_turn(item, pause, unsure):
                    await asyncio.to_thread(self._settle_logged, item, exc, unsure=False)
                    raise SendDeferred(f"{endpoint} failed ({exc}); it waits in the outbox") from exc
                on_its_way.sent = False  # the next try marks the row "sending" again: the fence is checked again
            except BaseException:  # cancelled (shutting down): it may have gone out, if its bytes had left
                if on_its_way.item_id:  # (never written, never sent: its update is handled again)
                    item = dataclasses.replace(item, id=on_its_way.item_id)
                    self._settle_logged(item, NetworkError("cancelled while sending"), unsure=on_its_way.sent)
                raise
        item = dataclasses.replace(item, id=on_its_way.item_id)
        # written in the background: the sender (a quiz recording its question's message id, say) goes on
        # at once, as it did before there was an outbox
        task = asyncio.get_running_loop().create_task(
            self._delivered(item, "delivered_retried" if tries else "delivered"))
        self._marking.add(task)
        task.add_done_callback(self._marking.discard)
        return result

    def _pause_in_turn(self, item: Outgoing, exc: TelegramError, unsure: bool, tries: int) -> float | None:
        """How long to wait before trying a failed first send again in its chat's turn; None: leave it to the
        outbox (``_settle``). Only a kind that keeps its turn (answers: Policy.keeps_turn), for failures
        another try may cure (a 5xx or a 429 past the request layer's and the limiter's retries, the network,
        a send that may have arrived when the kind is resent then), and not once its turn's time is up.

        While an answer waits in the outbox for the resend loop, its chat's next update is handled and
        answered: the late answer arrives after the answers to later questions (bench_cluster --faults: a
        time-out after the request went out, resent two seconds later, behind the next answer). Kept in
        its turn, the chat's next update waits for it, on whichever worker."""
        assert self.outbox is not None
        policy = self.outbox.policy(item.kind)
        given_up = (NotHeld, Unwanted, Forbidden, BadRequest, ChatMigrated)  # another try cannot help
        if (policy.keeps_turn <= 0 or self._leaving.is_set() or isinstance(exc, given_up)
                or (unsure and not policy.resend_if_unsure) or self.outbox.late(item)):
            return None
        if isinstance(exc, RetryAfter):
            pause = retry_seconds(exc)
        else:
            pause = min(self.outbox.max_backoff, self.outbox.backoff * 2 ** (tries - 1)) * random.uniform(0.8, 1.2)
        until = min(item.created + policy.keeps_turn, item.expires)
        return pause if self.outbox.clock() + pause <= until else None

    async def _wait_in_turn(self, item: Outgoing, pause: float, unsure: bool) -> bool:
        """The pause before the next try in the chat's turn; False when this worker began to stop meanwhile
        (``leaving``): then the row is left to the resend loop of whichever worker comes next. While it
        waits the row stays this worker's, held only until a little after the next try is due
        (``TURN_GRACE``): ``sending`` when the try may have arrived (a worker killed now leaves an unsure
        answer, resent by its kind's rule), ``queued`` otherwise, either taken over soon by another worker
        if this one dies."""
        assert self.outbox is not None
        outbox = self.outbox
        if unsure:
            await asyncio.to_thread(outbox.count, "unsure_resent")
        await asyncio.to_thread(outbox.renew, item.id, outbox.clock() + pause + TURN_GRACE)
        try:
            leaving = asyncio.ensure_future(self._leaving.wait())
            try:
                await asyncio.wait({leaving}, timeout=pause)
            finally:
                leaving.cancel()
            if self._leaving.is_set():
                return False
            await asyncio.to_thread(outbox.renew, item.id)  # the whole lease again, for the next try's wait
        except BaseException:
            # unsure or not, an answer is resent (only kinds resent then keep their turn): a plain retry
            self._settle_logged(item, NetworkError("cancelled while waiting to try again"), unsure=False)
            raise
        return True

    def leaving(self) -> None:
        """The worker is stopping: answers waiting to be tried again in their chat's turn are left to the
        outbox now (the next process sends them), so the stop does not wait for their tries."""
        self._leaving.set()

    async def _delivered(self, item: Outgoing, outcome: str = "delivered") -> None:
        assert self.outbox is not None
        try:
            await self.outbox.adelivered(item, outcome)
        except Exception:  # noqa: BLE001 - sent all the same; its row is resent (or dropped) after its lease
            log.exception("could not mark outbox message %d delivered", item.id)

    def _settle_logged(self, item: Outgoing, exc: TelegramError, *, unsure: bool | None = None) -> str:
        try:
            return self._settle(item, exc, unsure=unsure)
        except Exception:  # noqa: BLE001 - the row keeps its lease: taken up again when it runs out
            log.exception("could not record how outbox message %d failed", item.id)
            return "unknown"

    # what a failure means ---------------------------------------------------------------------------
    def _settle(self, item: Outgoing, exc: TelegramError, *, unsure: bool | None = None) -> str:
        """Record how a send failed; the verdict: "pending", "delivered", or the outcome given up with."""
        assert self.outbox is not None
        error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, NotHeld):  # another worker's row now: it settles it
            return "taken over"
        if isinstance(exc, Unwanted):
            self.outbox.give_up(item, "expired", error)
            return "expired"
        if isinstance(exc, Forbidden):
            self.outbox.give_up(item, "undeliverable", error)
            return "undeliverable"
        if isinstance(exc, BadRequest):
            text = str(exc).lower()
            if "message is not modified" in text:  # an earlier try of this edit had landed
                self.outbox.delivered(item, "delivered_retried" if item.attempts > 1 else "delivered")
                return "delivered"
            outcome = "undeliverable" if any(s in text for s in UNDELIVERABLE) else "rejected"
            self.outbox.give_up(item, outcome, error)
            return outcome
        if isinstance(exc, ChatMigrated):
            self.outbox.reroute(item, str(exc.new_chat_id))
            return self.outbox.retry(item, error, not_before=0.0)
        if isinstance(exc, RetryAfter):
            return self.outbox.retry(item, error, not_before=retry_seconds(exc))
        if unsure is None:
            unsure = may_have_arrived(exc)
        return self.outbox.retry(item, error, unsure=unsure)

    # the resend loop --------------------------------------------------------------------------------
    async def _resend_loop(self, bot: Bot, stopping: asyncio.Event) -> None:
        assert self.outbox is not None
        outbox = self.outbox
        swept = 0.0
        while not stopping.is_set():
            try:
                if outbox.clock() - swept > SWEEP_INTERVAL:  # failed rows are kept a week for operators
                    swept = outbox.clock()
                    await asyncio.to_thread(outbox.sweep)
                # when the next row falls due first (a read, through the index); claimed (a write) only
                # once one is due: an idle worker's look costs one cheap SELECT
                due = await outbox.anext_due()
                if due is not None and due <= outbox.clock():
                    items = await outbox.aclaim_due(self.batch)
                    if items:
                        await asyncio.gather(*(self._resend(bot, item) for item in items))
                        continue
                    due = None  # another worker took them: look again at the next poll
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database is away: try again at the next poll
                log.exception("the outbox's resend loop failed; trying again in %.1fs", self.poll)
                due = None
            pause = self.poll if due is None else min(self.poll, max(0.01, due - outbox.clock()))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stopping.wait(), pause)

    async def _resend(self, bot: Bot, item: Outgoing) -> None:
        assert self.outbox is not None
        outbox = self.outbox
        if item.unsure and not outbox.policy(item.kind).resend_if_unsure:
            await asyncio.to_thread(outbox.give_up, item, "unsure_dropped", "its sender stopped mid-send")
            return
        if outbox.expired(item):
            await asyncio.to_thread(outbox.give_up, item, "expired", "too late to send")
            return
        followup = self._followup(item)  # asked whether it is still wanted just before each try (_OnItsWay)
        if item.unsure:
            await asyncio.to_thread(outbox.count, "unsure_resent")
        late = outbox.late(item)
        sent = with_apology(item) if late else item
        on_its_way = _OnItsWay(outbox, item.id, self._asker(item))
        try:
            result = await bot.do_api_request(item.method, api_kwargs=dict(sent.params),
                                     rate_limit_args=_Resend(item.id, on_its_way, urgent=followup is not None))  # type: ignore[call-arg]
        except TelegramError as exc:
            verdict = await asyncio.to_thread(self._settle_logged, item, exc,
                                              unsure=None if on_its_way.sent else False)
            log.warning("outbox: %s to chat %s failed again (%s): %s", item.method, item.chat, exc, verdict)
            return
        except asyncio.CancelledError:
            self._settle_logged(item, NetworkError("cancelled while resending"), unsure=on_its_way.sent)
            raise
        outcome = "delivered_late" if late else "delivered_retried"
        try:
            await outbox.adelivered(item, outcome)
        except Exception:  # noqa: BLE001
            log.exception("could not mark outbox message %d delivered", item.id)
            return
        log.info("outbox: %s to chat %s delivered on try %d", item.method, item.chat, item.attempts)
        if followup is not None and item.link is not None and isinstance(result, dict):
            try:
                await followup.delivered(item.chat, item.link, result)
            except Exception:  # noqa: BLE001 - the message is out; only what follows it (a reveal) is lost
                log.exception("outbox: could not tell %s that its message was delivered", item.link)

    @staticmethod
    async def _wanted(followup: Followup, chat: str, link: str) -> bool:
        try:
            return await followup.wanted(chat, link)
        except Exception:  # noqa: BLE001 - the database is away: send it, as if nobody were asked
            log.exception("outbox: could not ask whether %s is still wanted", link)
            return True
