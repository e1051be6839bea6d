"""Live events: one WebSocket that heals itself, resumes, and drops duplicates.

A :class:`Subscription` keeps one socket open, reconnects by itself with jittered
exponential back-off, and resumes from the last sequence number it has (kept in a file if
asked), so that its events arrive once each, in order, with nothing missed: the server's
guarantees 3 and 4 in DESIGN.md, seen from the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self
from uuid import UUID

from pydantic import BaseModel, ValidationError
from websockets.asyncio.client import connect as websockets_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from client.audit import ChannelAuditor, LogReader, audit_state, start_auditors
from client.backoff import Backoff
from client.drafts import NoticeId, build_decision, build_draft, to_uuid
from client.duties import Duties
from client.errors import ApiError, Closed, ConnectionLost, HotlineError, Unreachable
from client.protocol import messages
from client.protocol.note import Signer
from client.protocol.schemas import (
    ActivityWindow,
    Attachment,
    Event,
    NoticeOut,
)
from client.protocol.vocabulary import Decision, Priority
from client.resume import ResumeFile

__all__ = [
    "Backoff",  # defined in client.backoff; kept here, where the package imports it from
    "Connector",
    "PresenceCallback",
    "Subscription",
    "WebSocketLike",
    "default_connect",
    "ws_url",
]

log = logging.getLogger(__name__)

_FINAL_CLOSE_CODES = frozenset({messages.CloseCode.UNAUTHENTICATED})
"""Close codes after which reconnecting cannot help; every other close is retried."""


class WebSocketLike(Protocol):
    """What a subscription needs of a WebSocket connection (websockets' ``ClientConnection``)."""

    async def send(self, message: str, /) -> None:
        """Send one text message."""

    async def recv(self) -> str | bytes:
        """Wait for the next message; raises ``websockets.ConnectionClosed`` when closed."""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection."""


Connector = Callable[[str], Awaitable[WebSocketLike]]
"""Opens a WebSocket to a ``ws://`` or ``wss://`` URL; tests may pass their own."""

PresenceCallback = Callable[[str, dict[str, list[str]]], None]
"""Called with a channel id and, by party id, the operators connected to it now."""


class _End:
    """Put in the event queue when the subscription stops, so that waiting readers wake."""


class Subscription:
    """Live events of some channels: an async context manager and an async iterator.

    Each event is yielded once, in log order per channel. An event counts as handled when
    the next one is asked for (or the ``async with`` block ends without an exception);
    only then does the resume file move past it, so a program that crashes while handling
    an event sees it again after a restart.

    Events wait in an unbounded queue until taken: the socket reader must never wait for
    the consumer, or a command's answer could be stuck behind events nobody takes. The
    server bounds the rest (a client that falls far behind is closed with 4429, and this
    one reconnects and resumes).

    Attributes:
        channels: the subscribed channels' ids.
        presence: by channel, by party id, the operators connected now.
        welcome: the server's ``welcome`` on the current or last connection.
    """

    def __init__(
        self,
        *,
        url: str,
        token: str,
        connect: Connector,
        channels: Sequence[str],
        after: int | Mapping[str, int],
        resume_file: Path | None,
        confirm_receipts: bool,
        backoff: Backoff,
        on_presence: PresenceCallback | None,
        timeout: float,
        verify_with: LogReader | None = None,
        log_key: str | None = None,
        signer: Signer | None = None,
        answer_checks: bool = False,
    ) -> None:
        if not channels or isinstance(channels, str):
            raise ValueError("subscribe to a list of one or more channel ids")
        for channel in channels:
            _check_channel(channel)
        self.channels = tuple(dict.fromkeys(channels))
        self.presence: dict[str, dict[str, list[str]]] = {}
        self.welcome: messages.WelcomeMessage | None = None
        self._url = url
        self._token = token
        self._connect = connect
        self._backoff = backoff
        self._timeout = timeout
        self._duties = Duties(receipts=confirm_receipts, checks=answer_checks)
        self._on_presence = on_presence
        self._signer = signer  # signs notices and decisions sent over this socket
        self._resume = None if resume_file is None else ResumeFile(resume_file)
        self._saved = {} if self._resume is None else self._resume.load()
        start = {c: after if isinstance(after, int) else after.get(c, 0) for c in self.channels}
        start.update({c: self._saved[c] for c in self.channels if c in self._saved})
        self._received = dict(start)  # the last seq taken off the socket, per channel
        self._handled = dict(start)  # the last seq the consumer is done with
        self._current: Event | None = None
        self._queue: asyncio.Queue[Event | _End] = asyncio.Queue()
        self._heads: dict[str, int] = {}
        self._subscribing: dict[str, str] = {}  # subscribes sent on this connection: ref -> channel
        self._pending: dict[str, tuple[asyncio.Future[NoticeOut], UUID]] = {}
        self._refs = itertools.count(1)
        self._ws: WebSocketLike | None = None
        self._live = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._verify_with = verify_with
        self._log_key = log_key
        self._audit_saved = {} if self._resume is None else self._resume.load_audit()
        self._auditors: dict[str, ChannelAuditor] = {}

    @property
    def positions(self) -> dict[str, int]:
        """By channel, the last sequence number handled (what the resume file holds)."""
        return dict(self._handled)

    @property
    def connected(self) -> bool:
        """Whether a socket is open and subscribed right now."""
        return self._ws is not None

    async def __aenter__(self) -> Self:
        if self._runner is not None:
            raise RuntimeError("a subscription runs once; make a new one")
        self._runner = asyncio.create_task(self._run(), name="hotline-subscription")
        self._runner.add_done_callback(self._stopped)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await self._settle()
        finally:
            await self._stop()

    async def _stop(self) -> None:
        runner = self._runner
        if runner is None:
            return
        runner.cancel()
        await asyncio.wait({runner})  # without raising what ended it: the block is over
        if not runner.cancelled():
            runner.exception()  # retrieved, so asyncio does not report it as lost

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        await self._settle()
        if self._runner is None:
            raise RuntimeError("use the subscription in `async with` before iterating")
        item = await self._queue.get()
        if isinstance(item, _End):
            self._queue.put_nowait(item)  # for the next reader too
            self._raise_ended()
            raise StopAsyncIteration
        self._current = item
        return item

    async def wait_connected(self) -> messages.WelcomeMessage:
        """Wait until a socket is open and subscribed; returns the server's welcome.

        Raises:
            Closed: the server refused this client for good (such as 4401).
        """
        await self._until_live()
        assert self.welcome is not None
        return self.welcome

    # -- commands over the socket --------------------------------------------------------

    async def send(
        self,
        channel: str,
        *,
        subject: str,
        body: str = "",
        priority: Priority = Priority.ROUTINE,
        activity: ActivityWindow | None = None,
        area: str | None = None,
        ack_required: bool = True,
        refers_to: NoticeId | None = None,
        notice_id: NoticeId | None = None,
        bbox: Sequence[float] | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> NoticeOut:
        """Send a notice over the socket; see :meth:`HotlineClient.send`."""
        draft = build_draft(
            subject=subject,
            body=body,
            priority=priority,
            activity=activity,
            area=area,
            ack_required=ack_required,
            refers_to=refers_to,
            notice_id=notice_id,
            bbox=bbox,
            attachments=attachments,
            channel=channel,
            signer=self._signer,
            party=await self._signing_party(),
        )
        return await self._command(
            lambda ref: messages.SendMessage(ref=ref, channel=channel, notice=draft), draft.id
        )

    async def receipt(self, channel: str, notice_id: NoticeId) -> NoticeOut:
        """Confirm receipt of a notice over the socket."""
        nid = to_uuid(notice_id)
        return await self._command(
            lambda ref: messages.ReceiptMessage(ref=ref, channel=channel, notice=nid), nid
        )

    async def acknowledge(self, channel: str, notice_id: NoticeId) -> NoticeOut:
        """Acknowledge a notice over the socket; see :meth:`HotlineClient.acknowledge`."""
        return await self._decide(channel, to_uuid(notice_id), Decision.ACKNOWLEDGED, None)

    async def object(self, channel: str, notice_id: NoticeId, reason: str) -> NoticeOut:
        """Object to a notice over the socket; see :meth:`HotlineClient.object`."""
        return await self._decide(channel, to_uuid(notice_id), Decision.OBJECTED, reason)

    async def cancel(
        self, channel: str, notice_id: NoticeId, reason: str | None = None
    ) -> NoticeOut:
        """Cancel a notice over the socket; see :meth:`HotlineClient.cancel`."""
        nid = to_uuid(notice_id)
        return await self._command(
            lambda ref: messages.CancelMessage(ref=ref, channel=channel, notice=nid, reason=reason),
            nid,
        )

    async def _decide(
        self, channel: str, nid: UUID, decision: Decision, reason: str | None
    ) -> NoticeOut:
        request = build_decision(
            decision=decision,
            reason=reason,
            channel=channel,
            notice_id=nid,
            signer=self._signer,
            party=await self._signing_party(),
        )
        return await self._command(
            lambda ref: messages.DecideMessage(
                ref=ref, channel=channel, notice=nid, **request.model_dump()
            ),
            nid,
        )

    async def _signing_party(self) -> str | None:
        """The party this operator signs for (the server's welcome says), if it signs."""
        if self._signer is None:
            return None
        return (await self.wait_connected()).party.id

    async def _command(self, build: Callable[[str], BaseModel], nid: UUID) -> NoticeOut:
        """Send a command with a fresh ``ref`` and wait for its ``result`` or ``error``.

        Raises:
            ApiError: the server refused it (the subclass for its status).
            ConnectionLost: the socket dropped before the answer; the outcome is unknown.
            TimeoutError: no answer within the client's timeout.
        """
        ref = f"c{next(self._refs)}"
        text = build(ref).model_dump_json(exclude_none=True)
        answer: asyncio.Future[NoticeOut] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(self._timeout):
                ws = await self._until_live()
                self._pending[ref] = (answer, nid)
                try:
                    await ws.send(text)
                except ConnectionClosed as exc:
                    raise ConnectionLost("the socket closed", notice_id=nid) from exc
                return await answer
        finally:
            self._pending.pop(ref, None)

    async def _until_live(self) -> WebSocketLike:
        if self._runner is None:
            raise RuntimeError("use the subscription in `async with` first")
        while self._ws is None:
            if self._runner.done():
                self._raise_ended()
                raise Closed("the subscription has stopped")
            live = asyncio.ensure_future(self._live.wait())
            try:
                await asyncio.wait({live, self._runner}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                live.cancel()
        return self._ws

    # -- the connection loop -------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                ws = await self._connect(self._url)
            except InvalidStatus as exc:
                status = exc.response.status_code
                if 400 <= status < 500 and status not in (408, 429):
                    raise Closed(
                        f"the server refused the WebSocket handshake with HTTP {status}",
                        code=status,
                    ) from exc
                log.warning("WebSocket handshake refused with HTTP %s; retrying", status)
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                log.warning("cannot open the WebSocket (%s); retrying", exc or type(exc).__name__)
            else:
                if await self._session(ws):
                    attempt = 0
            delay = self._backoff.delay(attempt)
            attempt += 1
            await asyncio.sleep(delay)

    async def _session(self, ws: WebSocketLike) -> bool:
        """Say hello, subscribe, and read until the socket closes; True if welcomed.

        Only what the network or the server did is retried: a failure of this client's
        own making (a bug, a message it cannot build) would only happen again, so it
        ends the subscription and reaches the reader.
        """
        welcomed = False
        try:
            await ws.send(messages.HelloMessage(token=self._token).model_dump_json())
            async with asyncio.timeout(self._timeout):
                raw = await ws.recv()
            try:
                first = messages.parse_server_message(raw)
            except ValidationError as exc:
                log.warning("the server's first message is garbled (%s); reconnecting", exc)
                return False
            if not isinstance(first, messages.WelcomeMessage):
                raise Closed(f"expected a welcome, got {first.type}", code=1002)
            self.welcome, welcomed = first, True
            await self._prepare_audit()
            self._heads.clear()
            self._subscribing.clear()
            for number, channel in enumerate(self.channels, start=1):
                # Short refs: a ref of at most 64 characters could not hold a channel id.
                ref = f"s{number}"
                after = self._received[channel]
                subscribe = messages.SubscribeMessage(ref=ref, channel=channel, after=after)
                self._subscribing[ref] = channel
                await ws.send(subscribe.model_dump_json())
            self._ws = ws
            self._live.set()
            while True:
                await self._on_message(ws, await ws.recv())
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            reason = exc.rcvd.reason if exc.rcvd is not None else ""
            if code in _FINAL_CLOSE_CODES:
                raise Closed(f"the server closed the socket: {code} {reason}", code=code) from exc
            log.warning("the socket closed (%s %s); reconnecting", code, reason)
        except (OSError, TimeoutError) as exc:
            log.warning("the socket failed (%s); reconnecting", exc or type(exc).__name__)
        except (Unreachable, ApiError) as exc:
            # A REST read for verification (a proof, the key) failed while the server was
            # restarting, say. Refusals of this client's own making stay fatal.
            if isinstance(exc, ApiError) and exc.status < 500:
                raise
            log.warning("a verification read failed (%s); reconnecting", exc)
        finally:
            self._ws = None
            self._live.clear()
            self._duties.disconnected()
            self._fail_pending(None)
            with contextlib.suppress(Exception):
                await ws.close()
        return welcomed

    async def _on_message(self, ws: WebSocketLike, raw: str | bytes) -> None:
        try:
            message = messages.parse_server_message(raw)
        except ValidationError as exc:
            # A newer server may say things this client does not know yet.
            log.warning("ignoring a message this client does not understand: %s", exc)
            return
        match message:
            case messages.EventMessage(event=event, checkpoint=checkpoint):
                channel = event.channel
                if channel not in self._received or event.seq <= self._received[channel]:
                    return  # not ours, or a duplicate
                self._received[channel] = event.seq
                auditor = self._auditors.get(channel)
                if auditor is None:
                    self._on_event(event)
                else:
                    # Checked against the bytes received, not against a re-serialised model.
                    as_received = json.loads(raw)["event"]
                    for verified in await auditor.add(as_received, event, checkpoint):
                        self._on_event(verified)
                await self._send_duties(ws, channel)
            case messages.SubscribedMessage(channel=channel, head=head, checkpoint=checkpoint):
                if channel in self._auditors:
                    if checkpoint is None:
                        raise HotlineError(
                            f"the server sends no checkpoints for {channel}, so its log cannot "
                            "be verified (subscribe with verify=False to read it unchecked)"
                        )
                    await self._auditors[channel].check_checkpoint(checkpoint)
                if self._received.get(channel, 0) > head:
                    raise HotlineError(
                        f"channel {channel} ends at {head}, yet this client has seen "
                        f"{self._received[channel]}: not the log it was reading before"
                    )
                self._heads[channel] = head
                await self._send_duties(ws, channel)
            case messages.PresenceMessage(channel=channel, online=online):
                self.presence[channel] = online
                if self._on_presence is not None:
                    self._on_presence(channel, online)
            case messages.ResultMessage(ref=ref, notice=notice):
                self._duties.answered(ref)
                if ref in self._pending and not self._pending[ref][0].done():
                    if notice is None:
                        error = HotlineError(f"the server's result for {ref} has no notice")
                        self._pending[ref][0].set_exception(error)
                    else:
                        self._pending[ref][0].set_result(notice)
            case messages.ErrorMessage(ref=ref):
                problem = message.model_dump(exclude_none=True)
                if ref in self._subscribing:
                    # A refused subscription: nothing reconnecting could fix.
                    refused = ApiError.from_problem(problem)
                    refused.add_note(f"subscribing to the channel {self._subscribing[ref]!r}")
                    raise refused
                if ref is None:
                    log.warning("the server refused a message: %s", message.detail)
                    return
                self._duties.refused(ref, message.status, message.detail)
                if ref in self._pending and not self._pending[ref][0].done():
                    answer, nid = self._pending[ref]
                    answer.set_exception(ApiError.from_problem(problem, notice_id=nid))
            case messages.WelcomeMessage():
                pass

    def _on_event(self, event: Event) -> None:
        self._queue.put_nowait(event)
        if self.welcome is not None:
            self._duties.on_event(event, self.welcome.party.id)

    async def _send_duties(self, ws: WebSocketLike, channel: str) -> None:
        """Send the receipts and check answers owed on ``channel``, once it is caught up."""
        # Only once caught up: a request replayed from the log may have been settled long
        # ago, which a later event of the replay will show.
        if channel not in self._heads or self._received[channel] < self._heads[channel]:
            return
        for message in self._duties.due(channel):
            await ws.send(message.model_dump_json())

    # -- ending --------------------------------------------------------------------------

    def _fail_pending(self, final: BaseException | None) -> None:
        """Fail the commands still waiting: the socket dropped, or the subscription ended."""
        code = final.code if isinstance(final, ConnectionLost) else None
        for answer, nid in self._pending.values():
            if answer.done():
                continue
            if final is None:
                error: ConnectionLost = ConnectionLost(
                    "the socket closed before the answer came", notice_id=nid
                )
            else:
                error = Closed(f"the subscription has stopped: {final}", code=code, notice_id=nid)
            answer.set_exception(error)

    def _stopped(self, runner: asyncio.Task[None]) -> None:
        error = None if runner.cancelled() else runner.exception()
        self._fail_pending(error or asyncio.CancelledError())
        self._queue.put_nowait(_End())

    def _raise_ended(self) -> None:
        runner = self._runner
        if runner is not None and runner.done() and not runner.cancelled():
            error = runner.exception()
            if error is not None:
                raise error

    async def _settle(self) -> None:
        """Count the event last yielded as handled, and save that before going on."""
        event, self._current = self._current, None
        if event is None:
            return
        self._handled[event.channel] = event.seq
        auditor = self._auditors.get(event.channel)
        if auditor is not None:
            auditor.mark_handled(event.seq)
        if self._resume is not None:
            self._saved[event.channel] = event.seq
            await self._resume.save(self._saved, self._audit_state())

    # -- verification --------------------------------------------------------------------

    async def _prepare_audit(self) -> None:
        """Set up each channel's auditor once: the log key, and where checking starts."""
        if self._verify_with is None or self._auditors:
            return
        self._log_key, self._auditors = await start_auditors(
            self._verify_with, self._handled, self._audit_saved, log_key=self._log_key
        )

    def _audit_state(self) -> dict[str, Any] | None:
        if not self._auditors or self._log_key is None:
            return None
        return audit_state(self._log_key, self._auditors)


# -- helpers -------------------------------------------------------------------------------


def ws_url(base_url: str) -> str:
    scheme, _, rest = base_url.partition("://")
    ws_scheme = {"http": "ws", "https": "wss"}.get(scheme.lower(), scheme)
    return f"{ws_scheme}://{rest}/api/v1/ws"


def default_connect(timeout: float) -> Connector:
    async def connect(url: str) -> WebSocketLike:
        return await websockets_connect(
            url, open_timeout=timeout, user_agent_header="hotline-python"
        )

    return connect


def _check_channel(channel: str) -> None:
    """Refuse at once a channel id that no subscribe message can carry."""
    try:
        messages.SubscribeMessage(channel=channel)
    except ValidationError as exc:
        raise ValueError(f"{channel!r} is not a channel id: {exc.errors()[0]['msg']}") from None
