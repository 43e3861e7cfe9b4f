"""A small HTTP/1.1 client for webhook POSTs: keep-alive connection pools per origin.

Why not httpx (which the rest of the project uses): measured on the 2-core target machine against a
local receiver, an httpx ``AsyncClient`` managed 700-900 POSTs a second, far short of the thousands
a second a bulk issue produces. Webhooks need only ``POST`` and the answer's status: no redirects
(a 3xx is an answer, not followed), no cookies, no proxies. So the request is written directly
(its parts are ours: the URL was checked when the webhook was registered) and the answer is read
with httptools, the C parser uvicorn uses (it comes with ``litestar[standard]``). TLS uses the
system's trust store and checks the host name.

A request that fails on a reused keep-alive connection before any byte of the answer arrived is
sent once more on a fresh connection (the server may have closed the idle connection); receivers
deduplicate on ``webhook-id``, so a repeat is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from urllib.parse import urlsplit

import httptools

MAX_ANSWER = 64 * 1024  # bytes of a response body we read before giving the connection up


class NetworkError(Exception):
    """No HTTP answer: refused, reset, timed out, TLS failed, or the answer was not HTTP."""


class _Answer:
    """httptools callbacks for one response."""

    def __init__(self) -> None:
        self.started = False  # any byte of the answer arrived
        self.headers_done = False
        self.complete = False
        self.size = 0

    def on_message_begin(self) -> None:
        self.started = True

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.size += len(body)

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.answer = _Answer()

    async def exchange(self, request: bytes) -> tuple[int, bool]:
        """Send one request; return (status, whether the connection may be reused)."""
        self.answer = answer = _Answer()
        parser = httptools.HttpResponseParser(answer)
        self.writer.write(request)
        await self.writer.drain()
        while not answer.complete:
            data = await self.reader.read(65536)
            if not data:
                if answer.headers_done:
                    break  # an answer delimited by closing the connection
                raise ConnectionResetError("closed before answering")
            try:
                parser.feed_data(data)
            except httptools.HttpParserError as exc:
                raise ConnectionResetError(f"not an HTTP answer: {exc}") from None
            if answer.size > MAX_ANSWER:
                return parser.get_status_code(), False
        return parser.get_status_code(), answer.complete and parser.should_keep_alive()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class _Origin:
    def __init__(self, scheme: str, host: str, port: int, size: int) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self.authority = host if port == (443 if scheme == "https" else 80) else f"{host}:{port}"
        self.idle: list[_Connection] = []
        self.slots = asyncio.Semaphore(size)

    async def connect(self, tls: ssl.SSLContext | None) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port, ssl=tls if self.scheme == "https" else None)
        return _Connection(reader, writer)


def _request(origin: _Origin, target: str, body: bytes, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"POST {target} HTTP/1.1", f"host: {origin.authority}", f"content-length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers]
    head = "\r\n".join(lines) + "\r\n\r\n"
    if any(c in head[:-4].replace("\r\n", "") for c in "\r\n\x00"):
        raise NetworkError("a line break in the request head")
    return head.encode() + body


class WebClient:
    """Pools of keep-alive connections, at most ``per_origin`` open to one origin at a time."""

    def __init__(self, *, per_origin: int = 16, timeout: float = 10.0) -> None:
        self.per_origin = per_origin
        self.timeout = timeout
        self.origins: dict[tuple[str, str, int], _Origin] = {}
        self._tls: ssl.SSLContext | None = None

    def _origin(self, url: str) -> tuple[_Origin, str]:
        parts = urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            port = 0
        if parts.scheme not in ("http", "https") or not parts.hostname or not port:
            raise NetworkError("not an http(s) URL")
        key = (parts.scheme, parts.hostname, port)
        origin = self.origins.get(key)
        if origin is None:
            origin = self.origins[key] = _Origin(parts.scheme, parts.hostname, port, self.per_origin)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return origin, target

    async def post(self, url: str, body: bytes, headers: list[tuple[str, str]]) -> int:
        """POST ``body``; return the status code, or raise :class:`NetworkError`."""
        origin, target = self._origin(url)
        request = _request(origin, target, body, headers)
        if origin.scheme == "https" and self._tls is None:
            self._tls = ssl.create_default_context()
        async with origin.slots:
            try:
                async with asyncio.timeout(self.timeout):
                    return await self._exchange(origin, request)
            except (OSError, TimeoutError, ssl.SSLError) as exc:
                raise NetworkError(type(exc).__name__) from exc

    async def _exchange(self, origin: _Origin, request: bytes) -> int:
        while origin.idle:
            conn = origin.idle.pop()
            try:
                return await self._use(origin, conn, request)
            except OSError:
                # A stale keep-alive connection fails before answering: try the next one, then a fresh one.
                if conn.answer.started:
                    raise
        return await self._use(origin, await origin.connect(self._tls), request)

    async def _use(self, origin: _Origin, conn: _Connection, request: bytes) -> int:
        try:
            status, reusable = await conn.exchange(request)
        except BaseException:
            conn.close()
            raise
        if reusable:
            origin.idle.append(conn)
        else:
            conn.close()
        return status

    async def aclose(self) -> None:
        for origin in self.origins.values():
            for conn in origin.idle:
                conn.close()
            origin.idle.clear()
