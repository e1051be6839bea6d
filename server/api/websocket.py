"""The WebSocket endpoint: live events in order, nothing missed, commands as over REST.

Each connection runs two tasks (the python-websockets pattern): a reader that parses what
the client says and acts on it, and a writer that is the only one to send. They meet in a
bounded queue. The hub puts events into that queue without waiting; if it is full, the
client is too slow, and the connection closes with ``4429`` so that the client resumes
from the last sequence number it has, without slowing anyone else down. The hub also
tells a connection when the token it authenticated with has been revoked (see
``_watch_revocations`` in ``server/app.py``); it then acts on nothing more it reads and
closes with ``4401``.

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
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from client.protocol import messages, schemas
from client.protocol.messages import CloseCode
from server.api import wire
from server.api.problems import refusal_extensions, refusal_status
from server.config import Settings
from server.domain import rules
from server.domain.errors import Refusal
from server.fanout import Fanout, encode_event
from server.metrics import Metrics
from server.service import access, commands, queries
from server.service import log as log_service
from server.store.db import Database
from server.store.repository import Identity

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter()

CATCH_UP_PAGE = 500
CLOSE_TIMEOUT = 5.0  # seconds to wait for a close frame to be written


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


class Connection:
    """One authenticated socket: its queue, its subscriptions and its two tasks."""

    def __init__(
        self,
        websocket: WebSocket,
        identity: Identity,
        *,
        db: Database,
        fanout: Fanout,
        settings: Settings,
    ) -> None:
        self.websocket = websocket
        self.identity = identity
        self.party = identity.actor.party
        self.operator = identity.actor.operator
        self.token_id = identity.token_id
        self.db = db
        self.fanout = fanout
        self.settings = settings
        self.queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=settings.ws_queue_size)
        self.sent_up_to: dict[str, int] = {}
        self.ending = asyncio.Event()
        """Set once the connection must close, with ``close_code`` and ``close_reason``."""
        self.close_code = CloseCode.NORMAL
        self.close_reason = ""
        self.metrics: Metrics = websocket.app.state.metrics

    # -- what the hub calls (never waits) ------------------------------------------------

    def offer_event(self, event: schemas.Event, text: str) -> None:
        """Queue an event for the writer; a full queue marks the client too slow."""
        self._offer(_Event(event, text))

    def offer_presence(self, text: str) -> None:
        """Queue a presence message for the writer."""
        self._offer(_Text(text))

    def token_revoked(self) -> None:
        """Close as unauthenticated: the token this socket said hello with is revoked."""
        self._end(CloseCode.UNAUTHENTICATED, "token revoked")

    def _offer(self, item: _Item) -> None:
        if self.ending.is_set():
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self._end(CloseCode.TOO_SLOW, "too slow: resume from your last seq")

    def _end(self, code: CloseCode, reason: str) -> None:
        if self.ending.is_set():
            return  # the first reason to close is the one the client is told
        self.close_code, self.close_reason = code, reason
        self.ending.set()

    # -- the session ---------------------------------------------------------------------

    async def run(self) -> None:
        """Read and write until the client leaves, falls behind, is revoked, or the server stops."""
        reader = asyncio.create_task(self._read(), name="ws-read")
        writer = asyncio.create_task(self._write(), name="ws-write")
        self.metrics.connections.inc()
        # Registered a moment after its token was checked: a revocation committed in
        # between is found by the revocation watch's next look, which asks about the token
        # of every connection registered by then.
        self.fanout.hub.connect(self)
        ending = asyncio.create_task(self.ending.wait(), name="ws-ending")
        try:
            done, _ = await asyncio.wait(
                {reader, writer, ending}, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (reader, writer, ending):
                task.cancel()
            try:
                # Wait for them to finish unwinding, so that nothing outlives the connection.
                await asyncio.gather(reader, writer, ending, return_exceptions=True)
            finally:  # even if cancelled again meanwhile (the server stopping)
                for channel in list(self.sent_up_to):
                    self.fanout.hub.unsubscribe(channel, self)
                self.fanout.hub.disconnect(self)
                self.metrics.connections.dec()
        if ending in done:
            self._log_end()
            await _close(self.websocket, self.close_code, self.close_reason)
            return
        for finished in done:
            error = finished.exception()
            if error is not None and not isinstance(error, WebSocketDisconnect):
                raise error

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
            await self._handle(message)

    async def _handle(self, message: messages.ClientMessage) -> None:
        actor = self.identity.actor
        match message:
            case messages.HelloMessage():
                self._error(None, 409, "already-authenticated", "this socket said hello already")
            case messages.SubscribeMessage(ref=ref, channel=channel, after=after):
                try:
                    head = (await queries.channel(self.db, actor, channel)).head
                except Refusal as refusal:
                    self._refused(ref, refusal)
                    return
                if after > head:
                    # The client holds events this log never had: another server's, or a
                    # history since rewritten. Carrying on would silently skip events.
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
            case _:
                await self._command(message)

    async def _command(
        self,
        message: messages.SendMessage
        | messages.ReceiptMessage
        | messages.DecideMessage
        | messages.CancelMessage,
    ) -> None:
        if self.ending.is_set():
            # Closing, perhaps for a revoked token: act on nothing more. An in-memory check,
            # free; the token is not read from the database for each command.
            return
        try:
            command = _command_of(message)
            outcome = await commands.execute(
                self.db,
                command,
                channel_id=message.channel,
                actor=self.identity.actor,
                fanout=self.fanout,
            )
        except Refusal as refusal:
            self._refused(message.ref, refusal)
            return
        result = messages.ResultMessage(
            ref=message.ref,
            notice=wire.notice_out(outcome.notice, outcome.seq),
            created=outcome.changed,
        )
        self._offer(_Text(result.model_dump_json()))

    async def _write(self) -> None:
        while True:
            item = await self.queue.get()
            match item:
                case _Text(text):
                    await self.websocket.send_text(text)
                case _Subscribe(channel, after):
                    await self._start(channel, after)
                case _Event(event, text):
                    sent = self.sent_up_to.get(event.channel)
                    if sent is None or event.seq <= sent:
                        continue  # not subscribed (yet), or a duplicate
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
                self.metrics.events_pushed.inc()

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


def _command_of(
    message: messages.SendMessage
    | messages.ReceiptMessage
    | messages.DecideMessage
    | messages.CancelMessage,
) -> rules.Command:
    match message:
        case messages.SendMessage(notice=draft):
            return wire.send_command(draft)
        case messages.ReceiptMessage(notice=notice_id):
            return rules.RecordReceipt(notice_id)
        case messages.DecideMessage():
            return wire.decide_command(message.notice, message)
        case messages.CancelMessage(notice=notice_id, reason=reason):
            return rules.Cancel(notice_id, reason=reason)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    # The peer may be gone already, or (too slow) never read its close frame.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await websocket.close(code=code, reason=reason)


async def _hello(websocket: WebSocket, db: Database, *, within: float) -> Identity | None:
    """Wait for ``hello`` and check its token; ``None`` means close without a word."""
    try:
        async with asyncio.timeout(within):
            frame = await websocket.receive()
    except TimeoutError:
        await _close(websocket, CloseCode.HELLO_TIMEOUT, "no hello")
        return None
    raw = frame.get("text") or frame.get("bytes")
    identity = None
    if raw is not None and len(raw) <= 4096:
        with contextlib.suppress(ValidationError):
            message = messages.parse_client_message(raw)
            if isinstance(message, messages.HelloMessage):
                identity = await access.authenticate(db, message.token)
    if identity is None and frame["type"] != "websocket.disconnect":
        await _close(websocket, CloseCode.UNAUTHENTICATED, "unauthenticated")
    return identity


@router.websocket("/ws")
async def socket(websocket: WebSocket) -> None:
    """The live channel: see client/protocol/messages.py and the AsyncAPI document."""
    app = websocket.app
    db: Database = app.state.db
    settings: Settings = app.state.settings
    await websocket.accept()
    identity = await _hello(websocket, db, within=settings.ws_hello_timeout)
    if identity is None:
        return
    welcome = messages.WelcomeMessage(**wire.me(identity).model_dump())
    await websocket.send_text(welcome.model_dump_json())
    connection = Connection(websocket, identity, db=db, fanout=app.state.fanout, settings=settings)
    await connection.run()
