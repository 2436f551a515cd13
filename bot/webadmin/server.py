"""Serving the admin app: on its own thread and event loop beside the Telegram bot, or on its own.

    server = WebServer(build_admin_web(settings, brain, storage), "127.0.0.1", 8444).start()
    server.url                        # "http://127.0.0.1:8444/admin/"
    server.stop()

Its own loop keeps the bot's loop free of page rendering and of the Admin's blocking operations, and the
bot's start-up and shutdown (python-telegram-bot owns that loop) untouched. The Brain is shared: an edit
made here is swapped into it at once, so every chat is answered with it from the next message.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from aiohttp import web

from ..admin import Admin
from ..config import Settings
from ..dialogue import Brain
from ..storage import Storage
from .app import PREFIX, AdminWeb, WebSettings
from .auth import LoginLinks

if TYPE_CHECKING:
    from ..live import Reloader

log = logging.getLogger(__name__)


def build_admin_web(settings: Settings, brain: Brain, storage: Storage, reloader: "Reloader | None" = None,
                    logins: LoginLinks | None = None) -> AdminWeb:
    """The one place the admin app is put together (serve and admin-web both call it)."""
    admin = Admin(settings, storage, brain=brain, reloader=reloader)
    return AdminWeb(admin, brain, WebSettings(settings.telegram.token, float(settings.admin_web.max_age)), logins)


class WebServer:
    def __init__(self, app: AdminWeb, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host, port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{PREFIX}/"

    def start(self, timeout: float = 30.0) -> "WebServer":
        """Bind and serve; returns once the port accepts connections (OSError if it cannot be bound)."""
        self._thread = threading.Thread(target=self._run, name="admin-web", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the admin app did not start")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait(self) -> None:
        """Block until stopped (Ctrl-C raises KeyboardInterrupt in the main thread meanwhile)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to start() or logged; never kills the bot
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                log.exception("the admin app stopped")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        # never decompress bodies: a compressed one is refused (415), so no zip bomb is ever expanded
        runner = web.AppRunner(self.app.application(), access_log=None, handle_signals=False, auto_decompress=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            sockets = site._server.sockets if site._server is not None else ()  # type: ignore[union-attr]
            if sockets:
                self.port = int(sockets[0].getsockname()[1])  # port 0: the one the system chose
            self._ready.set()
            log.info("admin app on %s", self.url)
            await self._stop.wait()
        finally:
            await runner.cleanup()
