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
from typing import Any

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
