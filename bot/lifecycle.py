"""Stop signals for the long-running commands (`actions`, `serve`), from their first line of Python.

    install_early_signal_handlers()     # bot/__main__.py, before the heavy imports
    ...                                 # SIGINT/SIGTERM now raise Shutdown wherever start-up is
    loop.add_signal_handler(...)        # the server's loop takes over once it runs

Python's own SIGINT handler raises KeyboardInterrupt, which libraries catch and report in their own ways
(click prints "Aborted!", a traceback escapes an import), and SIGTERM kills the process without a word.
``Shutdown`` is no ``Exception``, so no ``except Exception`` on the way swallows it: it unwinds start-up
to ``bot.cli.main``, which prints "stopped" and exits 0. Only a signal that arrives before the interpreter
runs bot/__main__.py meets the operating system's default (the process ends by that signal, silently).
"""
from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # asyncio is imported by the servers that use it: `ask` starts without it
    import asyncio

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
SERVER_COMMANDS = frozenset({"actions", "serve"})


class Shutdown(BaseException):
    """A stop signal arrived before the server's loop could take it (at start-up, or while stopping)."""


def install_early_signal_handlers() -> None:
    """SIGINT/SIGTERM abort whatever is running with ``Shutdown`` (the CLI turns it into exit 0)."""

    def _raise(signum: int, _frame: Any) -> None:
        raise Shutdown(signum)

    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise)


@contextmanager
def stop_signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back for a few lines that must not be torn, then raise ``Shutdown`` after them.

    Masking the signal (``pthread_sigmask``) is not enough: it masks one thread, and the kernel hands the
    signal to any other (the knowledge watcher), whose C handler still makes the main thread run the
    Python handler mid-constructor. So the Python handler itself is swapped for one that takes a note.
    """
    pending: list[int] = []

    def _note(signum: int, _frame: Any) -> None:
        pending.append(signum)

    previous = {sig: signal.signal(sig, _note) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if pending:
        raise Shutdown(pending[0])


def complete(loop: asyncio.AbstractEventLoop, awaitable: Any) -> Any:
    """``loop.run_until_complete`` that survives a stale stop.

    When an exception (a stop signal's ``Shutdown``) unwinds ``run_until_complete`` in the same loop
    iteration as its future finishes, the future's "stop the loop" callback is already queued and stays
    queued; the *next* ``run_until_complete`` then stops at once with "Event loop stopped before Future
    completed", whatever it was running (that is how a signal as ``serve`` started could end in a
    traceback inside the shut-down). The stale stop is spent by then, so running the same future again
    finishes it.
    """
    import asyncio

    future = asyncio.ensure_future(awaitable, loop=loop)
    for _ in range(3):
        try:
            return loop.run_until_complete(future)
        except RuntimeError:
            if future.done():
                raise
    return loop.run_until_complete(future)


@contextmanager
def owned_event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A new event loop, set as current, built out of the stop signals' reach, and closed on the way out.

    A stop signal that lands inside the loop's constructor leaves a half-built loop whose ``__del__``
    prints a traceback at exit ("no attribute '_ssock'"); one that unwinds ``run_until_complete`` leaves
    its task pending, to be finalised without a loop. So the loop is built with the signals deferred,
    and on the way out (as ``asyncio.run`` does) what is still pending is cancelled before it closes.
    """
    import asyncio

    loop: asyncio.AbstractEventLoop | None = None
    try:
        with stop_signals_deferred():
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
        yield loop
    finally:
        if loop is not None and not loop.is_closed():
            try:
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                complete(loop, asyncio.gather(*pending, return_exceptions=True))
                complete(loop, loop.shutdown_asyncgens())
            finally:
                loop.close()
                asyncio.set_event_loop(None)
