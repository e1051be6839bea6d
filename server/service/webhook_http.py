"""One webhook request over HTTP/1.1: the sender's own small client, on h11.

A webhook call needs little of HTTP: one ``POST`` to an address the guard checked, its
status code, a bounded read of the answer, no redirect followed, plain connections kept
open for the next call. httpx does all of that and much more, and the more costs: about
0.5 ms of CPU a call on a local receiver, more than everything else the sender does
(the head and the body written by two system calls, anyio's cancel scopes around every
step, the pool's bookkeeping). Here the HTTP/1.1 state machine is h11's, the one httpx
itself uses, which reads and writes bytes and does no I/O (as ``server/domain`` does
none); this module only moves those bytes over asyncio's streams, the whole request in
one write: about 0.15 ms a call.

h11 writes the request and parses the answer, and refuses what is not HTTP/1.1 (a
malformed status line, a head larger than :data:`MAX_HEAD`): a call that gets no answer.
What this module adds:

- **where it connects**: to the address given, never to a name; TLS is given the name
  (``server_hostname``: SNI, and the certificate is checked against it);
- **keep-alive**: a plain-HTTP connection goes back to the pool of its address and port
  once h11 says both sides finished cleanly, and is taken again only while it is open and
  younger than ``keep_alive_seconds``. A receiver may close an idle connection just as it
  is taken; a request that gets not a byte back on a connection taken from the pool is
  sent once more on a new one (the receiver drops a repeat by its ``webhook-id`` anyway).
  TLS connections are not kept (``server/service/webhook_sender.py`` says why);
- **a bounded read**: after the status, at most ``max_response_bytes`` of the body are
  read, in pieces of up to 64 KiB; then the connection is closed, not kept.

It sets no time limit of its own: the caller runs each call under one.

Errors::

    CallFailed            the call got no status code
    ├── ConnectFailed     no connection to the address (refused, unreachable, TLS failed)
    └── NoAnswer          connected, but no answer came (closed, reset, not HTTP)
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import h11
import httpx

from server.domain.address_guard import IPAddress

__all__ = ["MAX_HEAD", "CallFailed", "ConnectFailed", "Connections", "NoAnswer"]

MAX_HEAD = 64 * 1024
"""The longest head of an answer read, status line and headers, in bytes."""
_READ = 64 * 1024
"""The most read from a connection at once."""

Header = tuple[bytes, bytes]


class CallFailed(Exception):
    """A call that got no status code.

    Attributes:
        reason: why, briefly and without secrets; it may name the address, and quote
            what the receiver sent.
        kind: what went wrong in a word or two (``connection refused``, ``TLS error``,
            ``not HTTP``, ``no answer``…), naming no address and quoting nobody: what
            a log both parties of a channel read may say.
    """

    def __init__(self, reason: str, *, kind: str = "no answer") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class ConnectFailed(CallFailed):
    """No connection could be made to the address: the next address may be tried."""


class NoAnswer(CallFailed):
    """Connected, but no status code came back."""


class _Stale(Exception):
    """A connection taken from the pool that answered nothing: closed as it was taken."""


@dataclass(slots=True, eq=False)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    protocol: h11.Connection
    idle_since: float = 0.0

    def close(self) -> None:
        self.writer.close()


class Connections:
    """Makes calls, keeping plain-HTTP connections open between them.

    Args:
        max_response_bytes: the most of an answer's body read (0: none).
        keep_alive_seconds: how long an idle connection is kept.
        max_idle: how many idle connections are kept, in all.
        ssl_context: checks the receivers' certificates; httpx's by default (certifi's
            authorities, nothing taken from the environment).
        clock: seconds from a fixed point (a test's clock).
    """

    def __init__(
        self,
        *,
        max_response_bytes: int,
        keep_alive_seconds: float = 5.0,
        max_idle: int = 32,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_response_bytes = max_response_bytes
        self.keep_alive_seconds = keep_alive_seconds
        self.max_idle = max_idle
        self.clock = clock
        self._ssl_context = ssl_context
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._swept = clock()

    async def post(
        self,
        address: IPAddress,
        port: int,
        *,
        tls_name: str | None,
        tls: bool,
        target: bytes,
        headers: Sequence[Header],
        body: bytes,
    ) -> int:
        """``POST`` ``body`` to ``address``; the answer's status code.

        Args:
            address: where to connect.
            port: the port there.
            tls: whether to speak TLS.
            tls_name: the name TLS sends (SNI) and checks the certificate against;
                ``None`` for the address itself.
            target: the request's path and query, percent-encoded.
            headers: ``Host`` first, and the others; ``Content-Length`` is added.
            body: the request's body.

        Raises:
            ConnectFailed: no connection to the address.
            NoAnswer: no status code came back.
        """
        length = (b"content-length", str(len(body)).encode("ascii"))
        request = h11.Request(method="POST", target=target, headers=[*headers, length])
        key = (str(address), port)
        if not tls:
            kept = self._take(key)
            if kept is not None:
                try:
                    return await self._exchange(kept, key, request, body, reused=True)
                except _Stale:
                    pass  # closed by the receiver as it was taken: once more, on a new one
        connection = await self._open(address, port, tls=tls, tls_name=tls_name)
        return await self._exchange(connection, None if tls else key, request, body)

    async def aclose(self) -> None:
        """Close the idle connections."""
        idle = [connection for kept in self._idle.values() for connection in kept]
        self._idle.clear()
        for connection in idle:
            connection.close()
            with contextlib.suppress(OSError):
                await connection.writer.wait_closed()

    # -- connections ----------------------------------------------------------------------

    async def _open(
        self, address: IPAddress, port: int, *, tls: bool, tls_name: str | None
    ) -> _Connection:
        try:
            if tls:
                reader, writer = await asyncio.open_connection(
                    str(address), port, ssl=self._context(), server_hostname=tls_name
                )
            else:
                reader, writer = await asyncio.open_connection(str(address), port)
        except OSError as exc:  # refused, unreachable, and TLS's failures (ssl.SSLError)
            raise ConnectFailed(_reason(exc), kind=_connect_kind(exc)) from None
        return _Connection(
            reader, writer, h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        )

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:  # made on the first https call: it reads a file
            self._ssl_context = httpx.create_ssl_context(trust_env=False)
        return self._ssl_context

    def _usable(self, connection: _Connection, now: float) -> bool:
        return (
            now - connection.idle_since < self.keep_alive_seconds
            and not connection.reader.at_eof()  # the receiver closed it
            and not connection.writer.is_closing()
        )

    def _take(self, key: tuple[str, int]) -> _Connection | None:
        kept = self._idle.get(key)
        now = self.clock()
        while kept:
            connection = kept.pop()  # the most recently used: the likeliest to be open
            if self._usable(connection, now):
                return connection
            connection.close()
        return None

    def _keep(self, key: tuple[str, int], connection: _Connection) -> None:
        now = self.clock()
        if now - self._swept >= 1.0:
            self._sweep(now)
        if sum(len(kept) for kept in self._idle.values()) >= self.max_idle:
            connection.close()
            return
        connection.protocol.start_next_cycle()
        connection.idle_since = now
        self._idle.setdefault(key, []).append(connection)

    def _sweep(self, now: float) -> None:
        """Close the idle connections too old to take, or closed by their receiver: those
        of a receiver not called again would otherwise stay open until the server stops."""
        self._swept = now
        for key, kept in list(self._idle.items()):
            usable = [c for c in kept if self._usable(c, now)]
            for connection in kept:
                if connection not in usable:
                    connection.close()
            if usable:
                self._idle[key] = usable
            else:
                del self._idle[key]

    # -- one request and its answer --------------------------------------------------------

    async def _exchange(
        self,
        connection: _Connection,
        key: tuple[str, int] | None,
        request: h11.Request,
        body: bytes,
        *,
        reused: bool = False,
    ) -> int:
        """Send the request and read the answer; the connection is kept or closed after."""
        kept = False
        try:
            status = await self._status(connection, request, body, reused=reused)
            try:
                complete = await self._drain(connection)
            except (OSError, h11.ProtocolError):
                complete = False  # the status is what counts; an answer cut short, not kept
            protocol = connection.protocol
            if (
                key is not None
                and complete
                and protocol.our_state is h11.DONE
                and protocol.their_state is h11.DONE
            ):
                self._keep(key, connection)
                kept = True
            return status
        finally:
            if not kept:
                connection.close()

    async def _status(
        self, connection: _Connection, request: h11.Request, body: bytes, *, reused: bool
    ) -> int:
        protocol = connection.protocol
        received = ended = False
        try:
            connection.writer.write(
                protocol.send(request)
                + protocol.send(h11.Data(data=body))
                + protocol.send(h11.EndOfMessage())
            )
            await connection.writer.drain()
            while True:
                event = protocol.next_event()
                if event is h11.NEED_DATA:
                    data = await connection.reader.read(_READ)
                    received, ended = received or bool(data), not data
                    if not data and reused and not received:
                        raise _Stale
                    protocol.receive_data(data)  # b"": the end, which h11 judges
                elif isinstance(event, h11.Response):
                    return int(event.status_code)
                elif isinstance(event, h11.ConnectionClosed):
                    raise NoAnswer("the receiver closed the connection without answering")
                # else an informational answer (1xx): the real one follows
        except (ConnectionResetError, BrokenPipeError):
            if reused and not received:
                raise _Stale from None
            raise NoAnswer("the receiver reset the connection") from None
        except OSError as exc:
            raise NoAnswer(_reason(exc)) from None
        except h11.ProtocolError as exc:
            # Closed before an answer ended (h11 says so with an error too), or bytes that
            # are not HTTP.
            kind = "no answer" if ended else "not HTTP"
            raise NoAnswer(f"not an HTTP/1.1 answer: {exc}"[:200], kind=kind) from None

    async def _drain(self, connection: _Connection) -> bool:
        """Read the body up to the limit (its bytes are not kept); whether it all came.

        Read as it comes off the connection, undecoded: a small compressed answer cannot
        swell into a large one.
        """
        if self.max_response_bytes <= 0:
            return False
        protocol = connection.protocol
        read = 0
        while True:
            event = protocol.next_event()
            if event is h11.NEED_DATA:
                protocol.receive_data(await connection.reader.read(_READ))
            elif isinstance(event, h11.Data):
                read += len(event.data)
                if read >= self.max_response_bytes:
                    return False
            elif isinstance(event, h11.EndOfMessage):
                return True
            elif isinstance(event, h11.ConnectionClosed):
                return False


def _connect_kind(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError):
        return "TLS error"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return "no connection"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
