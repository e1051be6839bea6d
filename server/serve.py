"""Running the server: migrate, bind, announce, serve until a signal says stop.

One process serves by default (:func:`serve`). With ``workers`` above one,
:mod:`server.supervisor` runs what must run once (migrations, ``prepare``, the socket)
and starts the worker processes, each of which serves the shared socket
(:func:`serve_worker`) with the same application as a single process.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from types import FrameType
from typing import Any

import uvicorn

from server.api.websocket import Shortcut
from server.app import create_app
from server.config import Settings
from server.logs import configure
from server.socket_protocol import SocketProtocol
from server.store.db import Database
from server.store.migrate import upgrade

__all__ = ["listen", "run_loop", "serve", "serve_worker", "url_of"]

log = logging.getLogger(__name__)


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


class _WorkerServer(_Server):
    """A worker's server: it stops on SIGTERM, which only its supervisor sends.

    Ctrl+C sends SIGINT to every process of the terminal's group, the workers included,
    and the supervisor turns it into a SIGTERM for each. Uvicorn takes a SIGINT that comes
    after another signal as "exit now, drop the requests in progress", so a worker leaves
    SIGINT to its supervisor rather than race it.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGINT:
            super().handle_exit(sig, frame)


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host`` and ``port``, listening already."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    # Listening before the server runs means a client told the URL can connect at once:
    # the kernel queues it until uvicorn (or, with several workers, one of them) accepts.
    sock.listen(2048)
    return sock


def url_of(sock: socket.socket) -> str:
    """The ``http://`` URL a listening socket answers on."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop's event loop where it is installed, else on asyncio's."""
    try:
        import uvloop  # uvicorn[standard] brings it, on the platforms it supports
    except ImportError:
        new_loop = None
    else:
        new_loop = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=new_loop) as runner:
        runner.run(main)


def _config(settings: Settings, db: Database) -> uvicorn.Config:
    """Uvicorn's configuration: the application on ``db``, and how to speak to clients."""
    return uvicorn.Config(
        Shortcut(create_app(settings, db=db)),
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        ws=SocketProtocol,  # uvicorn's websockets-sansio, with flow control, made lighter
        # Compression costs each socket its own deflate contexts, about as much memory
        # as the rest of an idle connection, for small JSON messages that gain little.
        ws_per_message_deflate=settings.ws_deflate,
        ws_ping_interval=settings.ws_ping_interval,
        ws_ping_timeout=settings.ws_ping_interval,
        # Larger than the protocol's limit, so that an oversized message gets a typed
        # error from the endpoint rather than a bare close from the protocol layer.
        ws_max_size=16 * settings.ws_max_message_bytes,
    )


def _catch_signals(server: _Server) -> None:
    # Whoever reads the URL may signal at once: catch signals from now on, not only
    # once uvicorn installs its own handlers, or a quick SIGTERM kills us uncleanly.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, server.handle_exit)


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
        sock = listen(settings.host, settings.port)
        url = url_of(sock)
        announce = None if on_started is None else partial(on_started, url)
        server = _Server(_config(settings, db), announce)
        _catch_signals(server)
        log.info("serving", extra={"url": url, "database": db.url.render_as_string()})
        await server.serve(sockets=[sock])
    finally:
        await db.dispose()


async def serve_worker(
    settings: Settings,
    sock: socket.socket,
    *,
    on_started: Callable[[], None],
    supervisor_gone: int,
) -> None:
    """Serve ``sock`` as one of several workers, until SIGTERM or the supervisor's end.

    The database is migrated and the socket listens already: the supervisor did both.

    Args:
        settings: the configuration, as the supervisor read it.
        sock: the listening socket every worker shares.
        on_started: called once the application has started and the socket is served.
        supervisor_gone: a descriptor that becomes readable when the supervisor has
            exited (``multiprocessing.parent_process().sentinel``): a worker whose
            supervisor was killed stops as if told to, rather than serve on unwatched.
    """
    db = Database(settings.database_url)
    try:
        server = _WorkerServer(_config(settings, db), on_started)
        _catch_signals(server)

        def orphaned() -> None:
            loop.remove_reader(supervisor_gone)
            log.warning("the supervisor is gone; stopping")
            server.handle_exit(signal.SIGTERM, None)

        loop = asyncio.get_running_loop()
        loop.add_reader(supervisor_gone, orphaned)
        await server.serve(sockets=[sock])
    finally:
        await db.dispose()
