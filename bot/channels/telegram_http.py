"""A python-telegram-bot `BaseRequest` on aiohttp: the same job as PTB's HTTPXRequest, at a fraction of
its CPU per call (bench/bench_telegram.py --request aiohttp).

    build_application(brain, settings)   # the default; FrontOptions(http="httpx") for PTB's own

One `aiohttp.ClientSession` per request object, created in `initialize()` (inside the event loop that
will use it) and closed in `shutdown()`; HTTP/1.1 keep-alive with at most `connection_pool_size`
connections. PTB's timeouts map onto aiohttp's:

    connect_timeout -> ClientTimeout.sock_connect   (opening one TCP/TLS connection)
    pool_timeout    -> ClientTimeout.connect = pool + connect   (waiting for a free slot, then connecting)
    read_timeout    -> ClientTimeout.sock_read      (between chunks of the answer; starts once the body is sent)
    write_timeout   -> aiohttp has none: ClientTimeout.total = connect + pool + write + read caps the whole call

Errors are mapped as HTTPXRequest maps httpx's: any timeout -> telegram.error.TimedOut, any other
client error -> NetworkError, with aiohttp's exception as __cause__. `NEVER_SENT` are the causes that
prove the request never reached the server (connection refused, connect or pool timeout): those may be
retried for any method (see RetryMixin and _retryable in telegram.py).

Not supported (HTTPXRequest has them): HTTP/2, SOCKS proxies, ~/.netrc credentials. HTTP(S) proxies come
from `proxy=` or the environment (HTTPS_PROXY, NO_PROXY), read once per host: aiohttp's own
`trust_env=True` re-reads the environment and ~/.netrc on a worker thread for every request, two thread
hand-offs that were most of a call's latency (1.6 of 2.4 ms to a local server) and a quarter of its CPU.
Needs aiohttp>=3.10 (ConnectionTimeoutError is new in 3.10).

Like httpx, a request sent on a kept-alive connection the server has just closed fails with a
NetworkError (aiohttp.ServerDisconnectedError) that is not "never sent", so sendMessage is not retried.
"""
from __future__ import annotations

import asyncio
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from .telegram import RetryMixin

# Causes that prove the request was never sent (aiohttp raises ConnectionTimeoutError for a timeout
# while waiting for a pool slot or while connecting, ClientConnectorError when the connection fails).
NEVER_SENT: tuple[type[BaseException], ...] = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class AiohttpRequest(BaseRequest):
    """PTB request backend on one keep-alive aiohttp.ClientSession (see the module docstring)."""

    def __init__(self, connection_pool_size: int = 1, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0, media_write_timeout: float | None = 20.0,
                 proxy: str | None = None) -> None:
        self._pool_size = max(1, connection_pool_size)
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._proxy = proxy
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}
        self._env_proxies: dict[tuple[str, str], str | None] = {}  # (scheme, host) -> proxy from the env

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0)
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=False,  # the environment's proxies: see _proxy_for
                headers={"User-Agent": self.USER_AGENT})
            self._env_proxies.clear()

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    @staticmethod
    def _timeout(read: float | None, write: float | None, connect: float | None,
                 pool: float | None) -> aiohttp.ClientTimeout:
        parts = (connect, pool, write, read)
        total = None if any(t is None for t in parts) else sum(parts)  # type: ignore[arg-type]
        wait = None if connect is None or pool is None else connect + pool
        return aiohttp.ClientTimeout(total=total, connect=wait, sock_connect=connect, sock_read=read)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data is not None and request_data.contains_files \
            else None
        timeout = self._timeout_for(read_timeout, write_timeout, connect_timeout, pool_timeout, bool(files))
        data: Any = None
        headers = None
        if files:
            data = aiohttp.FormData()
            for name, value in request_data.json_parameters.items():  # type: ignore[union-attr]
                data.add_field(name, value)
            for name, (filename, content, mimetype) in files.items():
                data.add_field(name, content, filename=filename, content_type=mimetype)
        elif request_data is not None:
            parameters = request_data.json_parameters
            if parameters:
                data, headers = request_data.url_encoded_parameters().encode(), _FORM
        try:
            async with session.request(method, url, data=data, headers=headers, timeout=timeout,
                                       proxy=self._proxy_for(url)) as response:
                return response.status, await response.read()
        except asyncio.TimeoutError as err:  # aiohttp's ServerTimeoutError and the total timeout
            if isinstance(err, aiohttp.ConnectionTimeoutError):
                raise TimedOut("Connect or pool timeout: the request was *not* sent to Telegram. Consider "
                               "adjusting the connection pool size or the pool timeout.") from err
            raise TimedOut from err
        except (aiohttp.ClientError, OSError) as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err

    def _proxy_for(self, url: str) -> str | None:
        """`proxy=`, else the environment's proxy for the URL's scheme and host (HTTPS_PROXY, NO_PROXY...),
        looked up once per host: httpx, too, reads the environment once, when its client is made."""
        if self._proxy is not None:
            return self._proxy
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._env_proxies:
            bypass = bool(key[1]) and urllib.request.proxy_bypass(key[1])
            self._env_proxies[key] = None if bypass else urllib.request.getproxies().get(key[0])
        return self._env_proxies[key]

    def _timeout_for(self, read: Any, write: Any, connect: Any, pool: Any, media: bool) -> aiohttp.ClientTimeout:
        """The ClientTimeout for one call: PTB passes DEFAULT_NONE for "this request's default"."""
        key = (
            self._read_timeout if isinstance(read, DefaultValue) else read,
            (self._media_write_timeout if media else self._write_timeout) if isinstance(write, DefaultValue)
            else write,
            self._connect_timeout if isinstance(connect, DefaultValue) else connect,
            self._pool_timeout if isinstance(pool, DefaultValue) else pool,
        )
        timeout = self._timeouts.get(key)
        if timeout is None:
            if len(self._timeouts) >= 64:  # a few distinct timeouts in practice; never grow unbounded
                self._timeouts.clear()
            timeout = self._timeouts[key] = self._timeout(*key)
        return timeout


class RetryingAiohttpRequest(RetryMixin, AiohttpRequest):
    """AiohttpRequest with the front's retries (5xx and network errors; see RetryMixin)."""
