"""The WebSocket protocol the server runs: uvicorn's websockets-sansio, lighter and batched.

An idle socket is mostly this object, so what it holds for a socket's whole life counts,
times every socket; and a catch-up writes thousands of small frames in a row, so what each
write costs counts too. :class:`SocketProtocol` changes three things and nothing of the
protocol itself:

- a lighter receive queue (:class:`_Inbox`) and "writable" flag (:class:`_Flag`) than the
  ``asyncio.Queue`` and ``asyncio.Event`` it comes with (about 3 KiB and 0.8 KiB a socket);
- it lets go of the handshake's request and response, with all their headers, once the
  socket is open: nothing reads them again;
- what it writes in one turn of the event loop leaves in one system call
  (:class:`_Batching`), not one call a frame.

See "Idle sockets" in docs/reference/benchmarks-live.md and "What an idle socket costs" in
docs/explanation/live-delivery.md for the figures.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

if TYPE_CHECKING:
    from uvicorn._types import ASGIReceiveEvent

__all__ = ["SocketProtocol"]


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
    closing flushes first, so that nothing written before a close is lost.
    """

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

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
    """Uvicorn's websockets-sansio protocol, lighter to keep open and cheaper to write."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]  # the same three methods
        self.writable = _Flag()  # type: ignore[assignment]
        self.writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = _Batching(self.transport, self.loop)  # type: ignore[assignment]

    def start_keepalive(self) -> None:
        # Called once, just after the handshake's response is written: a hook that costs
        # nothing per message, as overriding ``send`` would.
        del self.request, self.response
        super().start_keepalive()
