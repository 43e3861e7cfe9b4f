"""A small HTTP/1.1 client for webhook POSTs: keep-alive connection pools per origin.

Why not httpx (which the rest of the project uses): measured on the 2-core target machine against a
local receiver, an httpx ``AsyncClient`` managed 700-900 POSTs a second, far short of the thousands
a second a bulk issue produces. Webhooks need only ``POST`` and the answer's status: no redirects
(a 3xx is an answer, not followed), no cookies, no proxies. So the request is written directly
(its parts are ours: the URL was checked when the webhook was registered; each new connection
goes to an address resolved and checked then, notify/addresses.py) and the answer is read
with httptools, the C parser uvicorn uses (a declared dependency). TLS uses the
system's trust store and checks the host name.

A request that fails on a reused keep-alive connection before any byte of the answer arrived is
sent once more on a fresh connection (the server may have closed the idle connection); receivers
deduplicate on ``webhook-id``, so a repeat is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

from notify import addresses

MAX_ANSWER = 64 * 1024  # bytes of a response body we read before giving the connection up


class NetworkError(Exception):
    """No HTTP answer: refused, reset, timed out, TLS failed, or the answer was not HTTP."""


class AddressNotAllowed(NetworkError):
    """The host resolves (now) to an address that is not public: nothing was sent."""


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


class _Connection(asyncio.Protocol):
    """One keep-alive connection: the answer is parsed as it arrives, with no stream buffers between.

    ``deadline`` (loop time) bounds the exchange in progress; the client's watchdog ends
    exchanges that pass it, which costs far less than a timeout context per request.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.answer = _Answer()
        self.parser: Any = None
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.deadline = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream connection (loop.create_connection) is given a Transport; the protocol API types it as the base.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():
            self.close()  # bytes nobody asked for: the connection cannot be trusted any more
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._finish(ConnectionResetError(f"not an HTTP answer: {exc}"))
            return
        if self.answer.complete or self.answer.size > MAX_ANSWER:
            self._finish(None)

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.answer.headers_done:
            self._finish(None)  # an answer delimited by closing the connection
        else:
            self._finish(ConnectionResetError("closed before answering"))

    def _finish(self, error: BaseException | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            if error is None:
                self.waiter.set_result(None)
            else:
                self.waiter.set_exception(error)

    def expire(self) -> None:
        """The deadline passed: fail the exchange and drop the connection."""
        self._finish(TimeoutError())
        self.close()

    async def exchange(self, request: bytes, deadline: float) -> tuple[int, bool]:
        """Send one request; return (status, whether the connection may be reused)."""
        if self.closed or self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("closed while idle")
        self.answer = answer = _Answer()
        self.parser = parser = httptools.HttpResponseParser(answer)
        self.deadline = deadline
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            await self.waiter
        finally:
            self.waiter = None
        reusable = answer.complete and not self.closed and parser.should_keep_alive()
        return parser.get_status_code(), reusable

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class _Origin:
    def __init__(self, scheme: str, host: str, port: int, size: int) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self.authority = host if port == (443 if scheme == "https" else 80) else f"{host}:{port}"
        self.idle: list[_Connection] = []
        # A queue of waiting requests served by up to ``size`` sender coroutines was tried instead:
        # 2-5 µs less CPU per POST in isolation, no difference the benchmark could tell apart from
        # its noise once runs were alternated (an earlier back-to-back comparison had blamed it for
        # 30-40 µs), so the simpler lock stays.
        self.slots = asyncio.Semaphore(size)

    async def connect(self, tls: ssl.SSLContext | None, *, allow_private: bool) -> _Connection:
        """A new connection. Unless ``allow_private``, the host is resolved here and only a public address
        is connected to, the very one checked (TLS still names and verifies the host)."""
        loop = asyncio.get_running_loop()
        tls = tls if self.scheme == "https" else None
        if allow_private:
            _, conn = await loop.create_connection(_Connection, self.host, self.port, ssl=tls)
            return conn
        try:
            checked = await addresses.public_addresses(self.host, self.port)
        except (addresses.AddressNotPublic, addresses.HostUnresolvable) as exc:
            raise AddressNotAllowed(type(exc).__name__) from None
        failure: OSError | None = None
        for address in checked:
            try:
                _, conn = await loop.create_connection(
                    _Connection, address, self.port, ssl=tls, server_hostname=self.host if tls else None
                )
                return conn
            except OSError as exc:
                failure = exc
        assert failure is not None
        raise failure


def _request(origin: _Origin, target: str, body: bytes, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"POST {target} HTTP/1.1", f"host: {origin.authority}", f"content-length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers]
    probe = "".join(lines)  # the parts without the line breaks we put between them
    if "\r" in probe or "\n" in probe or "\x00" in probe:
        raise NetworkError("a line break in the request head")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class WebClient:
    """Pools of keep-alive connections, at most ``per_origin`` open to one origin at a time."""

    def __init__(self, *, per_origin: int = 16, timeout: float = 10.0, allow_private: bool = False) -> None:
        self.per_origin = per_origin
        self.allow_private = allow_private
        self.timeout = timeout
        self.origins: dict[tuple[str, str, int], _Origin] = {}
        self._tls: ssl.SSLContext | None = None
        self._busy: set[_Connection] = set()  # connections in an exchange, watched for their deadline
        self._urls: dict[str, tuple[_Origin, str]] = {}  # a handful of webhook URLs, parsed once
        self._watch: asyncio.Task[None] | None = None

    def _origin(self, url: str) -> tuple[_Origin, str]:
        known = self._urls.get(url)
        if known is not None:
            return known
        if len(self._urls) > 10_000:
            self._urls.clear()
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
        self._urls[url] = origin, target
        return origin, target

    async def post(self, url: str, body: bytes, headers: list[tuple[str, str]]) -> int:
        """POST ``body``; return the status code, or raise :class:`NetworkError`.

        The whole attempt (connecting and answering) ends after ``timeout`` seconds.
        """
        origin, target = self._origin(url)
        request = _request(origin, target, body, headers)
        if origin.scheme == "https" and self._tls is None:
            self._tls = ssl.create_default_context()
        async with origin.slots:
            try:
                return await self._exchange(origin, request, asyncio.get_running_loop().time() + self.timeout)
            except (OSError, TimeoutError, ssl.SSLError) as exc:
                raise NetworkError(type(exc).__name__) from exc

    async def _exchange(self, origin: _Origin, request: bytes, deadline: float) -> int:
        while origin.idle:
            conn = origin.idle.pop()
            if conn.closed:
                continue  # the server closed it while idle
            try:
                return await self._use(origin, conn, request, deadline)
            except OSError as exc:
                # A stale keep-alive connection fails before answering: try the next one, then a fresh one.
                if conn.answer.started or isinstance(exc, TimeoutError):
                    raise
        remaining = deadline - asyncio.get_running_loop().time()
        conn = await asyncio.wait_for(
            origin.connect(self._tls, allow_private=self.allow_private), max(remaining, 0.001)
        )
        return await self._use(origin, conn, request, deadline)

    async def _use(self, origin: _Origin, conn: _Connection, request: bytes, deadline: float) -> int:
        self._busy.add(conn)
        if self._watch is None or self._watch.done():
            self._watch = asyncio.create_task(self._watch_deadlines())
        try:
            status, reusable = await conn.exchange(request, deadline)
        except BaseException:
            conn.close()
            raise
        finally:
            self._busy.discard(conn)
        if reusable:
            origin.idle.append(conn)
        else:
            conn.close()
        return status

    async def _watch_deadlines(self) -> None:
        """Expire exchanges past their deadline; runs while any exchange is in progress."""
        loop = asyncio.get_running_loop()
        period = min(1.0, max(0.02, self.timeout / 20))
        while self._busy:
            await asyncio.sleep(period)
            now = loop.time()
            for conn in [c for c in self._busy if c.deadline <= now]:
                conn.expire()

    async def aclose(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for origin in self.origins.values():
            for conn in origin.idle:
                conn.close()
            origin.idle.clear()
