"""An experiment, not production code: a minimal python-telegram-bot `BaseRequest` on asyncio streams.

Why it exists: the bench showed that most of the bot's CPU per update goes to httpx/httpcore/anyio
(thousands of Python calls per request, a scan of the whole connection pool per request). This
class does the same job for plain HTTP/1.1 keep-alive (what the emulator speaks; https works through
`ssl`, untested against Telegram) so `bench_telegram.py --request lean` can show how much of the cost
is the HTTP client. It has no proxy support, no HTTP/2, no multipart uploads.
"""
from __future__ import annotations

import asyncio
import ssl
import urllib.parse
from typing import Any

from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def close(self) -> None:
        self.writer.close()


class LeanRequest(BaseRequest):
    def __init__(self, connection_pool_size: int = 16, read_timeout: float | None = 5.0,
                 connect_timeout: float | None = 5.0, pool_timeout: float | None = 30.0) -> None:
        self._size = connection_pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._idle: dict[tuple[str, int, bool], list[_Connection]] = {}
        self._slots: asyncio.Semaphore | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        self._slots = asyncio.Semaphore(self._size)

    async def shutdown(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE, write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        if self._slots is None:
            raise RuntimeError("LeanRequest is not initialized")
        if request_data is not None and request_data.contains_files:
            raise NetworkError("LeanRequest does not upload files")
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        split = urllib.parse.urlsplit(url)
        secure = split.scheme == "https"
        key = (split.hostname or "", split.port or (443 if secure else 80), secure)
        body = request_data.url_encoded_parameters().encode() if request_data else b""
        head = (f"{method} {split.path}{'?' + split.query if split.query else ''} HTTP/1.1\r\n"
                f"Host: {split.netloc}\r\nUser-Agent: {self.USER_AGENT}\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n")
        try:
            await asyncio.wait_for(self._slots.acquire(), pool)
        except asyncio.TimeoutError:
            raise TimedOut("Pool timeout") from None
        try:
            idle = self._idle.setdefault(key, [])
            while idle:
                connection = idle.pop()
                if not connection.reader.at_eof():
                    break
                connection.close()
            else:
                try:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection(
                        key[0], key[1], ssl=ssl.create_default_context() if secure else None), connect)
                except asyncio.TimeoutError:
                    raise TimedOut("connect timeout") from None
                except OSError as exc:
                    raise NetworkError(f"connect failed: {exc!r}") from exc
                connection = _Connection(reader, writer)
            try:
                connection.writer.write(head.encode("latin-1") + body)
                status, payload, keep = await asyncio.wait_for(self._response(connection.reader), read)
            except asyncio.TimeoutError:
                connection.close()
                raise TimedOut("read timeout") from None
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                connection.close()
                raise NetworkError(f"request failed: {exc!r}") from exc
            except BaseException:
                connection.close()  # cancelled mid-request: the connection is in an unknown state
                raise
            if keep:
                idle.append(connection)
            else:
                connection.close()
            return status, payload
        finally:
            self._slots.release()

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            await reader.readuntil(b"\r\n")
            payload = b"".join(parts)
        else:
            payload = await reader.readexactly(int(headers.get("content-length", "0")))
        return status, payload, headers.get("connection", "").lower() != "close"
