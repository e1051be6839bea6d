"""The WebSocket endpoint: live events in order, nothing missed, commands as over REST.

Each connection reads in the task uvicorn gave it, and keeps reading whatever the client
sends, so that pings are answered however long its commands take. What it reads goes into
one of two bounded lanes, each served in order by a task that exists only while its lane
has work (an idle socket holds no task but the reader's):

- **commands** (and subscriptions), carried out one after another, so that their answers
  come back in the order they were sent. A client with too many waiting is refused at once
  with ``429 too-many-commands``; the socket stays open.
- **the outbox**, served by the writer, the only one to send: answers, presence, events.
  The hub puts events into it without waiting; if it is full, the client is too slow, and
  the connection closes with ``4429`` so that the client resumes from the last sequence
  number it has, without slowing anyone else down.

A revoked token is refused on the socket as it is over REST, from the next command on:
before carrying out each command the lane asks ``Database.identities`` whether the token
(by its hash, all the connection keeps of it) still stands, as every REST request does,
and closes with ``4401`` instead. A socket that sends nothing learns of it from the hub,
which the revocation watch tells (``_watch_revocations`` in ``server/app.py``); either way
it acts on nothing more it reads.

The writer keeps, per subscribed channel, the last sequence number it sent. An event at or
below it is a duplicate and is dropped; one beyond the next is preceded by the missing
events, read from the log. So each connection sees each event exactly once, in order,
whatever order concurrent commits happened to publish in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.routing import Match, WebSocketRoute
from starlette.types import Receive, Scope, Send

from client.protocol import messages, schemas
from client.protocol.messages import CloseCode
from server.api import wire
from server.api.problems import refusal_extensions, refusal_status
from server.config import Settings
from server.domain import rules
from server.domain.errors import Refusal
from server.fanout import Fanout, encode_event
from server.metrics import Metrics
from server.service import access, checks, commands, queries
from server.service import log as log_service
from server.store.db import Database
from server.store.repository import Identity

__all__ = ["Shortcut", "router", "socket"]

log = logging.getLogger(__name__)
router = APIRouter()

CATCH_UP_PAGE = 500

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Text:
    text: str


@dataclass(frozen=True, slots=True)
class _Event:
    event: schemas.Event
    text: str


@dataclass(frozen=True, slots=True)
class _Subscribe:
    channel: str
    after: int


_Item = _Text | _Event | _Subscribe
_NoticeCommand = (
    messages.SendMessage | messages.ReceiptMessage | messages.DecideMessage | messages.CancelMessage
)
_Command = messages.SubscribeMessage | _NoticeCommand | messages.AnswerCheckMessage


class _Lane(Generic[T]):
    """A bounded queue served in order, one item at a time, by a task of its own.

    The task is started by the first item and ends when the lane is empty, so that a
    connection with nothing to do costs no task. If serving an item raises, ``failed`` is
    told; then, as once stopped, the lane takes nothing more.

    Args:
        serve: what to do with each item.
        limit: items that may wait; :meth:`put` refuses more.
        failed: called with what serving raised.
        name: the task's name.
    """

    __slots__ = ("_failed", "_items", "_limit", "_name", "_serve", "_stopped", "_task")

    def __init__(
        self,
        serve: Callable[[T], Awaitable[None]],
        *,
        limit: int,
        failed: Callable[[BaseException], None],
        name: str,
    ) -> None:
        self._serve = serve
        self._limit = limit
        self._failed = failed
        self._name = name
        self._items: deque[T] | None = None  # only while there is work: idle costs nothing
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    def put(self, item: T) -> bool:
        """Queue ``item`` without waiting; ``False`` if the lane is full.

        Once the lane has stopped, ``item`` is dropped: the connection is ending.
        """
        if self._stopped:
            return True
        if self._items is None:
            self._items = deque()
        if len(self._items) >= self._limit:
            return False
        self._items.append(item)
        if self._task is None:
            self._task = asyncio.create_task(self._drain(self._items), name=self._name)
        return True

    async def _drain(self, items: deque[T]) -> None:
        try:
            while items:
                await self._serve(items.popleft())
        except Exception as error:  # handed to whoever owns the lane
            self._stopped = True
            self._items = None
            self._failed(error)
        else:
            # Empty: the next item starts a new task, with a new queue.
            self._items = self._task = None

    async def stop(self) -> None:
        """Cancel the task, if any, wait for it to unwind, and drop what is left."""
        self._stopped = True
        self._items = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


class Connection:
    """One authenticated socket: its subscriptions, its two lanes and its reader."""

    __slots__ = (
        "_reading",
        "close_code",
        "close_reason",
        "commands",
        "db",
        "failure",
        "fanout",
        "identity",
        "metrics",
        "operator",
        "outbox",
        "party",
        "sent_up_to",
        "settings",
        "token_hash",
        "token_id",
        "websocket",
    )

    def __init__(
        self,
        websocket: WebSocket,
        identity: Identity,
        *,
        token_hash: str,
        db: Database,
        fanout: Fanout,
        settings: Settings,
    ) -> None:
        self.websocket = websocket
        self.identity = identity
        self.party = identity.actor.party
        self.operator = identity.actor.operator
        self.token_id = identity.token_id
        self.token_hash = token_hash
        """The SHA-256 of the token it said hello with, to check it again (never the token)."""
        self.db = db
        self.fanout = fanout
        self.settings = settings
        self.metrics: Metrics = websocket.app.state.metrics
        self.sent_up_to: dict[str, int] = {}
        self.outbox: _Lane[_Item] = _Lane(
            self._write, limit=settings.ws_queue_size, failed=self._failed, name="ws-write"
        )
        self.commands: _Lane[_Command] = _Lane(
            self._carry_out,
            limit=settings.ws_command_queue_size,
            failed=self._failed,
            name="ws-commands",
        )
        self.close_code: CloseCode | None = None
        """Set once the connection must close, with ``close_reason``."""
        self.close_reason = ""
        self.failure: BaseException | None = None
        """What a lane raised, to be raised again once the connection has wound up."""
        self._reading: asyncio.Timeout | None = None

    # -- what the hub calls (never waits) ------------------------------------------------

    def offer_event(self, event: schemas.Event, text: str) -> None:
        """Queue an event for the writer; a full outbox marks the client too slow."""
        self._offer(_Event(event, text))

    def offer_presence(self, text: str) -> None:
        """Queue a presence message for the writer."""
        self._offer(_Text(text))

    def token_revoked(self) -> None:
        """Close as unauthenticated: the token this socket said hello with is revoked."""
        self._end(CloseCode.UNAUTHENTICATED, "token revoked")

    def _offer(self, item: _Item) -> None:
        if self.close_code is None and not self.outbox.put(item):
            self._end(CloseCode.TOO_SLOW, "too slow: resume from your last seq")

    def _end(self, code: CloseCode, reason: str) -> None:
        if self.close_code is not None:
            return  # the first reason to close is the one the client is told
        self.close_code, self.close_reason = code, reason
        self._stop_reading()

    def _failed(self, error: BaseException) -> None:
        if self.failure is None:
            self.failure = error
        self._stop_reading()

    def _stop_reading(self) -> None:
        # The reader waits for the client's next message inside a deadline of "never";
        # moving it to now cancels that wait the way any timeout does, and asyncio tells
        # this cancellation apart from the server's own (see ``run``).
        if self._reading is not None and self._reading.when() is None:
            self._reading.reschedule(asyncio.get_running_loop().time())

    # -- the session ---------------------------------------------------------------------

    async def run(self) -> None:
        """Read until the client leaves, falls behind, is revoked, or the server stops."""
        self.metrics.connections.inc()
        try:
            async with asyncio.timeout(None) as self._reading:
                # Registered a moment after its token was checked: a revocation committed
                # in between is found by the revocation watch's next look, which asks
                # about the token of every connection registered by then.
                self.fanout.hub.connect(self)
                await self._read()
        except TimeoutError:
            pass  # stopped by _end or _failed: close_code or failure says why
        finally:
            self._reading = None
            try:
                # Wait for the lanes to unwind, so that nothing outlives the connection.
                await asyncio.gather(self.commands.stop(), self.outbox.stop())
            finally:  # even if cancelled again meanwhile (the server stopping)
                for channel in list(self.sent_up_to):
                    self.fanout.hub.unsubscribe(channel, self)
                self.fanout.hub.disconnect(self)
                self.metrics.connections.dec()
        failure = self.failure
        if failure is not None and not isinstance(failure, WebSocketDisconnect):
            raise failure
        if self.close_code is not None:
            self._log_end()
            await _close(
                self.websocket,
                self.close_code,
                self.close_reason,
                within=self.settings.ws_close_timeout_seconds,
            )

    def _log_end(self) -> None:
        if self.close_code is CloseCode.TOO_SLOW:
            self.metrics.too_slow_closes.inc()
            log.info("closing a socket that fell behind", extra={"operator": self.operator})
        elif self.close_code is CloseCode.UNAUTHENTICATED:
            self.metrics.revoked_closes.inc()
            log.info(
                "closing a socket whose token was revoked",
                extra={"operator": self.operator, "token_id": str(self.token_id)},
            )

    async def _read(self) -> None:
        limit = self.settings.ws_max_message_bytes
        while True:
            frame = await self.websocket.receive()
            if frame["type"] == "websocket.disconnect":
                return
            raw: str | bytes = frame.get("text") or frame.get("bytes") or b""
            size = len(raw.encode()) if isinstance(raw, str) else len(raw)
            if size > limit:
                detail = f"messages are limited to {limit} bytes"
                self._error(None, 413, "message-too-large", detail)  # too big to look into
                continue
            try:
                message = messages.parse_client_message(raw)
            except ValidationError as exc:
                self._invalid(_ref_of(raw), exc)
                continue
            if isinstance(message, messages.HelloMessage):
                self._error(None, 409, "already-authenticated", "this socket said hello already")
            elif self.close_code is not None:
                continue  # closing, perhaps for a revoked token: act on nothing more
            elif not self.commands.put(message):
                waiting = self.settings.ws_command_queue_size
                detail = f"{waiting} commands are waiting already: wait for their answers"
                self._error(message.ref, 429, "too-many-commands", detail)

    # -- the command lane: one command at a time, answered in order ----------------------

    async def _carry_out(self, message: _Command) -> None:
        if self.close_code is not None:
            return
        # The token is checked again, as REST checks it on every request: once REST
        # refuses it, so does the socket. Reading the access counter is all it costs while
        # nothing changed (see server/store/identities.py); the revocation watch alone
        # would let commands through for up to ``revocation_check_seconds``.
        identity = await self.db.identities.identity(self.token_hash)
        if identity is None:
            self.token_revoked()
            return
        self.identity = identity  # as REST would see it now (a role may have changed)
        if isinstance(message, messages.SubscribeMessage):
            await self._subscribe(message)
            return
        try:
            result = await self._result_of(message)
        except Refusal as refusal:
            self._refused(message.ref, refusal)
            return
        self._offer(_Text(result.model_dump_json()))

    async def _result_of(
        self, message: _NoticeCommand | messages.AnswerCheckMessage
    ) -> messages.ResultMessage:
        actor = self.identity.actor
        if isinstance(message, messages.AnswerCheckMessage):
            answered = await checks.answer(
                self.db, message.check, channel_id=message.channel, actor=actor, fanout=self.fanout
            )
            return messages.ResultMessage(
                ref=message.ref, check=answered.check, created=answered.changed
            )
        outcome = await commands.execute(
            self.db,
            _command_of(message),
            channel_id=message.channel,
            actor=actor,
            fanout=self.fanout,
        )
        return messages.ResultMessage(
            ref=message.ref,
            notice=wire.notice_out(outcome.notice, outcome.seq),
            created=outcome.changed,
        )

    async def _subscribe(self, message: messages.SubscribeMessage) -> None:
        ref, channel, after = message.ref, message.channel, message.after
        try:
            head = (await queries.channel(self.db, self.identity.actor, channel)).head
        except Refusal as refusal:
            self._refused(ref, refusal)
            return
        if after > head:
            # The client holds events this log never had: another server's, or a history
            # since rewritten. Carrying on would silently skip events.
            self._error(
                ref,
                409,
                "ahead-of-log",
                f"channel {channel} has {head} events; you claim to have seen {after}",
            )
            return
        if channel in self.sent_up_to:
            self._error(ref, 409, "already-subscribed", f"already subscribed to {channel}")
            return
        self.sent_up_to[channel] = after  # claimed now, so a repeat is refused at once
        self._offer(_Subscribe(channel, after))

    # -- the outbox: the only place that writes to the socket ----------------------------

    async def _write(self, item: _Item) -> None:
        match item:
            case _Text(text):
                await self.websocket.send_text(text)
            case _Subscribe(channel, after):
                await self._start(channel, after)
            case _Event(event, text):
                sent = self.sent_up_to.get(event.channel)
                if sent is None or event.seq <= sent:
                    return  # not subscribed (yet), or a duplicate
                if event.seq > sent + 1:
                    await self._catch_up(event.channel, upto=event.seq - 1)
                await self.websocket.send_text(text)
                self.sent_up_to[event.channel] = event.seq
                self.metrics.pushed_live(event)

    async def _start(self, channel: str, after: int) -> None:
        # Join the hub first, then read the log: an event committed in between arrives
        # both ways, and the duplicate is dropped above. Nothing can fall between.
        self.fanout.hub.subscribe(channel, self)
        latest = await log_service.latest_checkpoint(
            self.db, self.fanout.hub.checkpoints, self.identity.actor, channel
        )
        head = latest.checkpoint.size
        subscribed = messages.SubscribedMessage(channel=channel, head=head, checkpoint=latest.note)
        await self.websocket.send_text(subscribed.model_dump_json())
        await self._catch_up(channel, upto=head)

    async def _catch_up(self, channel: str, *, upto: int) -> None:
        while self.sent_up_to[channel] < upto:
            page = await queries.read_log(
                self.db,
                self.identity.actor,
                channel,
                after=self.sent_up_to[channel],
                limit=min(CATCH_UP_PAGE, upto - self.sent_up_to[channel]),
            )
            if not page.events:
                return
            # The page's last event carries the checkpoint that vouches for the page.
            last = page.events[-1].seq
            signed = await log_service.checkpoint_at(
                self.db, self.fanout.hub.checkpoints, channel, last
            )
            for event in page.events:
                checkpoint = signed.note if event.seq == last else None
                await self.websocket.send_text(encode_event(event, checkpoint))
                self.sent_up_to[channel] = event.seq
            self.metrics.events_pushed.inc(len(page.events))  # once a page: a lock each

    # -- errors (typed messages; the socket stays open) ----------------------------------

    def _error(self, ref: str | None, status: int, code: str, detail: str, **extra: Any) -> None:
        error = messages.ErrorMessage(ref=ref, status=status, code=code, detail=detail, **extra)
        self._offer(_Text(error.model_dump_json(exclude_none=True)))

    def _refused(self, ref: str | None, refusal: Refusal) -> None:
        self._error(
            ref,
            refusal_status(refusal),
            refusal.code,
            refusal.message,
            **refusal_extensions(refusal),
        )

    def _invalid(self, ref: str | None, exc: ValidationError) -> None:
        found = [
            {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
            for error in exc.errors()
        ]
        self._error(
            ref, 422, "invalid-message", "the message does not match the protocol", errors=found
        )


def _ref_of(raw: str | bytes) -> str | None:
    """The ``ref`` of a message refused as a whole, if it can be read, to answer it by."""
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to read
        return None
    ref = parsed.get("ref") if isinstance(parsed, dict) else None
    return ref if isinstance(ref, str) and 0 < len(ref) <= 64 else None


def _command_of(message: _NoticeCommand) -> rules.Command:
    match message:
        case messages.SendMessage(notice=draft):
            return wire.send_command(draft)
        case messages.ReceiptMessage(notice=notice_id):
            return rules.RecordReceipt(notice_id)
        case messages.DecideMessage():
            return wire.decide_command(message.notice, message)
        case messages.CancelMessage(notice=notice_id, reason=reason):
            return rules.Cancel(notice_id, reason=reason)


async def _close(websocket: WebSocket, code: int, reason: str, *, within: float) -> None:
    # The peer may be gone already, or (too slow) not reading: then the close frame cannot
    # even be written. After ``within`` seconds the endpoint returns, and the protocol
    # resets the connection if it is still open ``within`` seconds later
    # (server/socket_protocol.py).
    with contextlib.suppress(Exception):
        async with asyncio.timeout(within):
            await websocket.close(code=code, reason=reason)


async def _hello(
    websocket: WebSocket, db: Database, settings: Settings
) -> tuple[Identity, str] | None:
    """Wait for ``hello`` and check its token: who it is, and the token's hash.

    ``None`` means the socket is closed (or gone) and there is nothing more to do.
    """
    close_within = settings.ws_close_timeout_seconds
    try:
        async with asyncio.timeout(settings.ws_hello_timeout):
            frame = await websocket.receive()
    except TimeoutError:
        await _close(websocket, CloseCode.HELLO_TIMEOUT, "no hello", within=close_within)
        return None
    raw = frame.get("text") or frame.get("bytes")
    if raw is not None and len(raw) <= 4096:
        with contextlib.suppress(ValidationError):
            message = messages.parse_client_message(raw)
            if isinstance(message, messages.HelloMessage):
                identity = await access.authenticate(db, message.token)
                if identity is not None:
                    return identity, access.hash_token(message.token)
    if frame["type"] != "websocket.disconnect":
        await _close(websocket, CloseCode.UNAUTHENTICATED, "unauthenticated", within=close_within)
    return None


async def socket(websocket: WebSocket) -> None:
    """The live channel: see client/protocol/messages.py and the AsyncAPI document."""
    state = websocket.app.state
    await websocket.accept()
    hello = await _hello(websocket, state.db, state.settings)
    if hello is None:
        return
    identity, token_hash = hello
    await websocket.send_text(
        messages.WelcomeMessage(**wire.me(identity).model_dump()).model_dump_json()
    )
    connection = Connection(
        websocket,
        identity,
        token_hash=token_hash,
        db=state.db,
        fanout=state.fanout,
        settings=state.settings,
    )
    await connection.run()


# A plain Starlette route rather than ``@router.websocket``: the endpoint needs no
# dependencies, and FastAPI's wrapper would keep three exit stacks and its frames alive for
# as long as each socket is open (see "Idle sockets" in docs/reference/benchmarks-live.md).
router.add_websocket_route("/ws", socket)


class Shortcut:
    """An ASGI app that hands the socket endpoint its connections past ``app``'s stack.

    Everything else goes to ``app``. The middleware and the router in between do nothing
    for a WebSocket (CORS, the request log, body limits and problem details are all about
    HTTP), yet each would keep a coroutine frame alive for as long as the socket is open:
    about a quarter of what an idle connection costs. The server runs ``Shortcut(app)``;
    ``app`` alone serves the same endpoint the long way, as the tests' in-process apps do.

    Args:
        app: the application, whose routes include :func:`socket` under its own name.
    """

    def __init__(self, app: Starlette) -> None:
        self.app = app
        # Where the app mounted the endpoint (under /api/v1), found by its route's name.
        self.route = WebSocketRoute(app.url_path_for(socket.__name__), socket)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        if scope["type"] == "websocket":
            match, child = self.route.matches(scope)
            if match is Match.FULL:
                scope.update(child, app=self.app)  # as the app's router would
                await socket(WebSocket(scope, receive, send))
                return
        await self.app(scope, receive, send)
