"""Running the server: migrate, bind, announce, serve until a signal says stop."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Awaitable, Callable
from functools import partial
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from server.api.websocket import Shortcut
from server.app import create_app
from server.config import Settings
from server.logs import configure
from server.store.db import Database
from server.store.migrate import upgrade

if TYPE_CHECKING:
    from uvicorn._types import ASGIReceiveEvent

__all__ = ["serve"]

log = logging.getLogger(__name__)


class _Inbox:
    """The receive queue of uvicorn's WebSocket protocol, without an ``asyncio.Queue``.

    An ``asyncio.Queue`` weighs about 3 KiB (three deques and an event) before it holds
    anything, and each socket has one. The protocol puts at most a message or two in it
    before it stops reading, and one task takes them out: a list and, while that task
    waits, one future will do.
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


class _SocketProtocol(WebSocketsSansIOProtocol):
    """Uvicorn's WebSocket protocol (websockets-sansio), lighter to keep open.

    An idle socket is mostly this object, so what it holds for a socket's whole life
    counts, times every socket: it gets a lighter receive queue and "writable" flag, and
    lets go of the handshake's request and response (all their headers) once the socket is
    open, as nothing reads them again. See "Idle sockets" in
    docs/reference/benchmarks-live.md for what each costs.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]  # the same three methods
        self.writable = _Flag()  # type: ignore[assignment]
        self.writable.set()

    def start_keepalive(self) -> None:
        # Called once, just after the handshake's response is written: a hook that costs
        # nothing per message, as overriding ``send`` would.
        del self.request, self.response
        super().start_keepalive()


class _Server(uvicorn.Server):
    """Uvicorn's server, minus one habit and plus one hook.

    After a graceful shutdown uvicorn raises the caught SIGTERM or SIGINT again, so the
    process dies "by signal" (status -15, or a KeyboardInterrupt traceback on Ctrl+C).
    A shutdown that finished its requests cleanly is a success: exit 0.

    ``on_started`` runs once the application's startup has finished and the socket is
    served, after uvicorn's own startup lines: what it prints comes last, below them.
    """

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None] | None) -> None:
        super().__init__(config)
        self.on_started = on_started

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.on_started is not None:
            self.on_started()


def _listen(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    # Listening before the server runs means a client told the URL can connect at once:
    # the kernel queues it until uvicorn accepts.
    sock.listen(2048)
    return sock


def url_of(sock: socket.socket) -> str:
    """The ``http://`` URL a listening socket answers on."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(
    settings: Settings,
    *,
    prepare: Callable[[Database], Awaitable[None]] | None = None,
    on_started: Callable[[str], None] | None = None,
) -> None:
    """Apply migrations, run ``prepare``, listen, start, call ``on_started(url)``, and serve.

    ``on_started`` is called once the application has started (its lifespan has run) and
    the socket is served: a request sent by whoever reads what it prints is answered.
    Returns when the server has shut down (SIGINT or SIGTERM finish in-flight requests).
    """
    configure(level=settings.log_level, fmt=settings.log_format)
    db = Database(settings.database_url)
    try:
        await upgrade(db)
        if prepare is not None:
            await prepare(db)
        sock = _listen(settings.host, settings.port)
        url = url_of(sock)
        config = uvicorn.Config(
            Shortcut(create_app(settings, db=db)),
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=10,
            ws=_SocketProtocol,  # websockets-sansio, with flow control
            # Compression costs each socket its own deflate contexts, about as much memory
            # as the rest of an idle connection, for small JSON messages that gain little.
            ws_per_message_deflate=settings.ws_deflate,
            ws_ping_interval=settings.ws_ping_interval,
            ws_ping_timeout=settings.ws_ping_interval,
            # Larger than the protocol's limit, so that an oversized message gets a typed
            # error from the endpoint rather than a bare close from the protocol layer.
            ws_max_size=16 * settings.ws_max_message_bytes,
        )
        announce = None if on_started is None else partial(on_started, url)
        server = _Server(config, announce)
        # Whoever reads the URL may signal at once: catch signals from now on, not only
        # once uvicorn installs its own handlers, or a quick SIGTERM kills us uncleanly.
        for stop in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop, server.handle_exit)
        log.info("serving", extra={"url": url, "database": db.url.render_as_string()})
        await server.serve(sockets=[sock])
    finally:
        await db.dispose()
