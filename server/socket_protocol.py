"""The WebSocket protocol the server runs: uvicorn's websockets-sansio, lighter and batched.

An idle socket is mostly this object, so what it holds for a socket's whole life counts,
times every socket; and a catch-up writes thousands of small frames in a row, so what each
write costs counts too. :class:`SocketProtocol` changes five things and nothing of the
protocol itself:

- a lighter receive queue (:class:`_Inbox`) and "writable" flag (:class:`_Flag`) than the
  ``asyncio.Queue`` and ``asyncio.Event`` it comes with (about 3 KiB and 0.8 KiB a socket);
- it lets go of the handshake's request and response, with all their headers, once the
  socket is open: nothing reads them again;
- what it writes in one turn of the event loop leaves in one system call
  (:class:`_Batching`), not one call a frame;
- once the server closes a socket, the connection is gone within ``close_timeout``
  (``ws_close_timeout_seconds``) whatever the client does. Uvicorn closes the transport
  when the client does not answer its close frame, but a transport closes only once what
  it has to send is sent: a client that stopped reading (one closed as too slow, ``4429``)
  would keep the connection and megabytes of unsent events for as long as it liked. Here
  the transport is aborted instead, with a TCP reset, as nginx's
  ``reset_timedout_connection`` does;
- a text message that is not UTF-8 closes the socket with ``1007`` as before, logged in
  one line: a client must not be able to write tracebacks into the server's log.

:func:`socket_protocol` makes the class for one :class:`~server.config.Settings`. See "Idle
sockets" in docs/reference/benchmarks-live.md and "What an idle socket costs" in
docs/explanation/live-delivery.md for the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from server.config import Settings

if TYPE_CHECKING:
    from uvicorn._types import ASGIReceiveEvent

__all__ = ["SocketProtocol", "socket_protocol"]

log = logging.getLogger(__name__)

_RESET = struct.pack("ii", 1, 0)
"""``SO_LINGER`` on, for 0 seconds: closing then resets the connection and drops its queue."""


class _Inbox:
    """The receive queue of the protocol, without an ``asyncio.Queue``.

    The protocol puts at most a message or two in it before it stops reading, and one task
    takes them out: a list and, while that task waits, one future will do.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[ASGIReceiveEvent] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: ASGIReceiveEvent) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> ASGIReceiveEvent:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


class _Flag:
    """What the protocol uses of an ``asyncio.Event`` (set, clear, wait), in less memory."""

    __slots__ = ("_is_set", "_waiters")

    def __init__(self) -> None:
        self._is_set = False
        self._waiters: list[asyncio.Future[None]] = []

    def set(self) -> None:
        self._is_set = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._is_set = False

    async def wait(self) -> None:
        if self._is_set:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)


class _Batching:
    """A transport whose writes within one turn of the event loop leave together.

    The socket's writer sends without pausing as long as the transport takes more, so a
    catch-up page of 500 events would otherwise be 500 ``send()`` system calls. Here the
    first write of a turn schedules a flush at the end of the turn, and the others join
    it. Flow control still works: the real transport sees the bytes at the flush and asks
    the protocol to pause if they pile up. Everything else goes to the real transport;
    closing flushes first, so that nothing written before a close is lost, then calls
    ``closing``.
    """

    __slots__ = ("_closing", "_loop", "_pending", "_transport")

    def __init__(
        self,
        transport: asyncio.Transport,
        loop: asyncio.AbstractEventLoop,
        closing: Callable[[], None] = lambda: None,
    ) -> None:
        self._transport = transport
        self._loop = loop
        self._closing = closing
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()
        self._closing()

    def _flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():  # else the peer is gone: nobody to tell
            self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class SocketProtocol(WebSocketsSansIOProtocol):
    """Uvicorn's websockets-sansio protocol, lighter to keep open and cheaper to write.

    ``close_timeout`` holds :class:`~server.config.Settings`' default; :func:`socket_protocol`
    makes a subclass with a server's own.
    """

    close_timeout: float = Settings.model_fields["ws_close_timeout_seconds"].default
    """Seconds from the server's close (its close frame, or closing the transport) until the
    connection is reset if the client has not finished the close handshake."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._reset_timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        timeout = self.close_timeout
        super().__init__(*args, **kwargs)
        self.close_timeout = timeout  # uvicorn sets its own 10 s on the instance
        self.queue = _Inbox()  # type: ignore[assignment]  # the same three methods
        self.writable = _Flag()  # type: ignore[assignment]
        self.writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = _Batching(self.transport, self.loop, self._reset_later)  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._reset_timer is not None:
            self._reset_timer.cancel()
            self._reset_timer = None

    def start_keepalive(self) -> None:
        # Called once, just after the handshake's response is written: a hook that costs
        # nothing per message, as overriding ``send`` would.
        del self.request, self.response
        super().start_keepalive()

    # -- closing within close_timeout ----------------------------------------------------

    @property
    def close_timer(self) -> asyncio.TimerHandle | None:
        """Uvicorn's timer for the client's answer to the close frame it has just sent."""
        return self._close_timer

    @close_timer.setter
    def close_timer(self, timer: asyncio.TimerHandle | None) -> None:
        # Set once, when uvicorn writes the server's close frame: the close has begun.
        # (Its own timer only closes the transport, which waits for the unsent bytes.)
        self._close_timer = timer
        if timer is not None:
            self._reset_later()

    def _reset_later(self) -> None:
        if self._reset_timer is None and not self.disconnected:
            self._reset_timer = self.loop.call_later(self.close_timeout, self._reset)

    def _reset(self) -> None:
        self._reset_timer = None
        if self.disconnected:
            return
        unsent = self.transport.get_write_buffer_size()
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # the peer may have reset it already
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        self.transport.abort()
        log.info(
            "reset a socket whose close did not finish in time",
            extra={"close_timeout": self.close_timeout, "unsent_bytes": unsent},
        )

    # -- messages ------------------------------------------------------------------------

    def send_receive_event_to_app(self) -> None:
        # Uvicorn's own, but for a text message that is not UTF-8: it logs that with a
        # traceback, at ERROR level, whenever a client likes. Closing with 1007 is the
        # protocol's answer (RFC 6455 section 8.1); one line of the server's log will do.
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return  # past the server's close: read on, for the client's answer to it
        if self.curr_msg_data_type == "text":
            try:
                text = data.decode()
            except UnicodeDecodeError:
                log.info("closing a socket that sent a text message not in UTF-8 (1007)")
                self.conn.send_close(1007, "text messages are UTF-8")
                self.handle_parser_exception()
                return
            self.queue.put_nowait({"type": "websocket.receive", "text": text})
        else:
            self.queue.put_nowait({"type": "websocket.receive", "bytes": data})
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()


def socket_protocol(settings: Settings) -> type[SocketProtocol]:
    """The WebSocket protocol class for ``settings``, for ``uvicorn.Config(ws=...)``."""
    return type(
        "SocketProtocol", (SocketProtocol,), {"close_timeout": settings.ws_close_timeout_seconds}
    )
