"""The HTTP protocol the server runs: uvicorn's httptools protocol, with deadlines and a bound.

Uvicorn waits for a request for as long as the client likes: a connection that sends
nothing, or half a request's headers, or a body declared at 5,000 bytes and sent one byte
at a time, holds a descriptor and some memory until the client goes away, and enough of
them hold all the descriptors the process has. :class:`HttpProtocol` changes three things
and nothing of HTTP itself:

- **headers** must be complete within ``http_header_timeout_seconds`` of the connection
  being made (or, on a kept-alive connection, of the next request's first byte);
- **a body** may go no longer than ``http_body_timeout_seconds`` without a byte;
- **connections** beyond ``max_connections`` (HTTP and WebSocket alike, counted in uvicorn's
  own set) are answered ``503`` at once and closed, before a byte is read, so that what one
  process holds stays bounded however fast connections arrive.

A request that runs out of time is answered ``408`` and its connection closed; a
connection that never sent a byte is closed without a word. Both are RFC 9457 problem
details, like every other error of the API (``request-timeout``, ``too-many-connections``).
Uvicorn's own ``limit_concurrency`` would not do: it counts only when a request's headers
are complete, so connections that never complete them are never refused.

:func:`http_protocol` makes the class for one :class:`~server.config.Settings`; it goes to
``uvicorn.Config(http=...)``. See docs/how-to/run-behind-a-proxy.md for what a proxy in
front adds.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
from http import HTTPStatus
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.config import Settings

__all__ = ["HttpProtocol", "http_protocol"]

log = logging.getLogger(__name__)

PROBLEM_JSON = b"application/problem+json"
REFUSALS_LOGGED_EVERY = 10.0
"""Seconds between two log lines about refused connections: a flood writes a few lines."""


def _response(status: int, code: str, detail: str, *extra: tuple[bytes, bytes]) -> bytes:
    """A whole ``Connection: close`` response whose body is a problem-details document."""
    body = json.dumps(
        {
            "type": f"urn:hotline:problem:{code}",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            "code": code,
        }
    ).encode()
    headers = [
        (b"content-type", PROBLEM_JSON),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *extra,
    ]
    head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()]
    head += [name + b": " + value + b"\r\n" for name, value in headers]
    return b"".join(head) + b"\r\n" + body


class _Waiting(enum.Enum):
    """What a connection waits for from its client."""

    HEADERS = "headers"
    BODY = "body"


class _Refusals:
    """How many connections were refused since the last log line said so, and when that was."""

    __slots__ = ("logged_at", "since_logged")

    def __init__(self) -> None:
        self.since_logged = 0
        self.logged_at = float("-inf")


def _busy(limit: int) -> bytes:
    return _response(
        503,
        "too-many-connections",
        f"this server process holds {limit} connections, as many as it may; try again shortly",
        (b"retry-after", b"1"),
    )


def _default(name: str) -> Any:
    return Settings.model_fields[name].default


class HttpProtocol(HttpToolsProtocol):
    """Uvicorn's httptools protocol, with header and body deadlines and a connection bound.

    The class attributes hold :class:`~server.config.Settings`' defaults; :func:`http_protocol`
    makes a subclass with a server's own.
    """

    header_timeout: ClassVar[float] = _default("http_header_timeout_seconds")
    body_timeout: ClassVar[float] = _default("http_body_timeout_seconds")
    max_connections: ClassVar[int] = _default("max_connections")
    busy: ClassVar[bytes] = _busy(max_connections)
    """The ``503`` written to a connection beyond the bound, made once."""
    refusals: ClassVar[_Refusals] = _Refusals()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting: _Waiting | None = None
        """What the client owes: a request's headers, the rest of a body, or nothing."""
        self._due = 0.0
        """The loop's time by which it is owed (``inf``: the server stopped reading)."""
        self._timer: asyncio.TimerHandle | None = None
        """At most one a connection, checking ``_due`` when it fires (see ``_check``)."""
        self._began = False
        """Whether a byte of the request whose headers are awaited has come."""
        self._refused = False

    # -- the bound ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Refuse the connection if the process holds as many as it may, else time it."""
        if len(self.connections) >= self.max_connections:
            self._refuse(transport)
            return
        super().connection_made(transport)
        self._expect(_Waiting.HEADERS, self.header_timeout)

    def _refuse(self, transport: asyncio.Transport) -> None:
        self._refused = True
        self.transport = transport
        # Written before the request is read: a client that sent it already gets the
        # answer ahead of the reset that closing over unread bytes causes, and reads it.
        transport.write(self.busy)
        transport.close()
        refusals = self.refusals
        refusals.since_logged += 1
        now = self.loop.time()
        if now - refusals.logged_at >= REFUSALS_LOGGED_EVERY:
            log.warning(
                "refusing connections: as many are open as max_connections allows",
                extra={"max_connections": self.max_connections, "refused": refusals.since_logged},
            )
            refusals.since_logged, refusals.logged_at = 0, now

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the timer; a refused connection was never counted, so there is no more."""
        self._stop_timer()
        if not self._refused:
            super().connection_lost(exc)

    # -- the deadlines --------------------------------------------------------------------
    #
    # A request moves the deadline two or three times, and most requests meet it. So the
    # parser's callbacks only write down what is owed by when (``_expect``), and one timer
    # a connection, started when none runs, looks when it fires: it starts again for a
    # deadline that moved, goes away when nothing is owed, and times the client out only
    # when the deadline has passed. A busy kept-alive connection costs no timer a request.

    def _expect(self, what: _Waiting, within: float) -> None:
        self._waiting = what
        self._due = self.loop.time() + within
        if self._timer is None or self._timer.when() > self._due:
            if self._timer is not None:
                self._timer.cancel()  # due later than this: the body's time may be longer
            self._timer = self.loop.call_at(self._due, self._check)

    def _stop_timer(self) -> None:
        self._waiting = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def on_message_begin(self) -> None:
        """The first byte of a request: its headers' deadline runs from now, if not before."""
        super().on_message_begin()
        self._began = True
        if self._waiting is None:  # else since connecting, or behind a pipelined request
            self._expect(_Waiting.HEADERS, self.header_timeout)

    def on_headers_complete(self) -> None:
        """Headers in time; a body, if one follows, must keep coming."""
        self._began = False
        super().on_headers_complete()
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            self._expect(_Waiting.BODY, self.body_timeout)
        # else a WebSocket: its protocol takes the connection over (and stops the timer)

    def on_body(self, body: bytes) -> None:
        """A part of the body: the deadline for the next one moves."""
        self._due = self.loop.time() + self.body_timeout
        super().on_body(body)

    def on_message_complete(self) -> None:
        """The whole request is in: nothing more is owed."""
        self._waiting = None
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        """Hand over to the WebSocket protocol, which has deadlines of its own."""
        self._stop_timer()
        super().handle_websocket_upgrade()

    def _check(self) -> None:
        self._timer = None
        if self._waiting is None or self.transport.is_closing():
            return
        now = self.loop.time()
        if self._waiting is _Waiting.BODY and self.flow.read_paused:
            # The application is behind and the server stopped reading: the client is not
            # to blame. Its time starts again once the server reads (seen next time).
            self._due = float("inf")
        elif self._waiting is _Waiting.HEADERS and self._answering():
            # A request pipelined behind one still being answered: the wait is ours.
            self._due = now + self.header_timeout
        elif self._due == float("inf"):
            self._due = now + self.body_timeout
        if now < self._due:
            next_look = now + self.body_timeout if self._due == float("inf") else self._due
            self._timer = self.loop.call_at(next_look, self._check)
        elif self._waiting is _Waiting.BODY:
            self._body_late()
        elif self._began:
            self._time_out(f"a request's headers must arrive within {self.header_timeout:g} s")
        else:
            self.transport.close()  # not a byte of a request came: nothing to answer

    def _answering(self) -> bool:
        """Whether an answer to an earlier request is under way."""
        return self.cycle is not None and not self.cycle.response_complete

    def _body_late(self) -> None:
        cycle = self.cycle
        if cycle.response_started:
            self.transport.close()  # answered already (early, say a 401): just stop waiting
            return
        # The application, waiting for the rest of the body, is told the client left, so
        # whatever it answers then is dropped and nothing follows the 408 on the wire.
        cycle.disconnected = True
        cycle.message_event.set()
        self._time_out(f"a request's body may not pause for {self.body_timeout:g} s")

    def _time_out(self, detail: str) -> None:
        """Answer ``408`` and close the connection."""
        self._waiting = None
        self.transport.write(_response(408, "request-timeout", detail))
        self.transport.close()
        log.info("closed a connection too slow to send its request", extra={"why": detail})


def http_protocol(settings: Settings) -> type[HttpProtocol]:
    """The HTTP protocol class for ``settings``, for ``uvicorn.Config(http=...)``."""
    return type(
        "HttpProtocol",
        (HttpProtocol,),
        {
            "header_timeout": settings.http_header_timeout_seconds,
            "body_timeout": settings.http_body_timeout_seconds,
            "max_connections": settings.max_connections,
            "refusals": _Refusals(),
            "busy": _busy(settings.max_connections),
        },
    )
