"""The async Python client: REST calls as typed methods, live events as a subscription.

::

    async with HotlineClient("http://127.0.0.1:8000", token) as hotline:
        notice = await hotline.send("water-roads", subject="Water main renewal, Mill Lane")
        async with hotline.subscribe(["water-roads"], resume_file=Path("seen.json")) as live:
            async for event in live:
                print(event.seq, event.type, event.data["notice"])

Every REST method returns the models of ``client.protocol.schemas`` and raises the
exceptions of ``client.errors``. A :class:`Subscription` keeps one WebSocket open,
reconnects by itself with jittered exponential back-off, and resumes from the last
sequence number it has, so that its events arrive once each, in order, with nothing
missed (the server's guarantees 3 and 4 in DESIGN.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import quote
from uuid import UUID, uuid4

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError
from websockets.asyncio.client import connect as websockets_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from client.errors import ApiError, Closed, ConnectionLost, HotlineError, Unreachable
from client.protocol import messages
from client.protocol.schemas import (
    ActivityWindow,
    Channel,
    Event,
    EventPage,
    Me,
    NoticeDetail,
    NoticeDraft,
    NoticeOut,
    NoticePage,
)
from client.protocol.times import format_time, utc_now
from client.protocol.vocabulary import Decision, EventType, Priority, Status

__all__ = [
    "Backoff",
    "Connector",
    "HotlineClient",
    "NoticeId",
    "PresenceCallback",
    "Subscription",
    "WebSocketLike",
]

log = logging.getLogger(__name__)

NoticeId = UUID | str
"""A notice's id, as a ``UUID`` or its string."""

_FINAL_CLOSE_CODES = frozenset({messages.CloseCode.UNAUTHENTICATED})
"""Close codes after which reconnecting cannot help; every other close is retried."""

_RETRY_STATUSES = frozenset({502, 503, 504})
_SETTLING = frozenset(  # after these a receipt is moot: the notice was received or closed
    {
        EventType.NOTICE_RECEIVED,
        EventType.NOTICE_ACKNOWLEDGED,
        EventType.NOTICE_OBJECTED,
        EventType.NOTICE_CANCELLED,
    }
)
_channel_list: TypeAdapter[list[Channel]] = TypeAdapter(list[Channel])


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait before trying again: exponential, capped, with full jitter.

    Full jitter (a uniform draw between zero and the exponential delay) keeps a crowd of
    clients that lost the same server from all coming back at the same instant.
    """

    base: float = 0.1
    """The delay bound, in seconds, after the first failure."""
    cap: float = 5.0
    """The largest delay bound, in seconds."""
    factor: float = 2.0
    """How much the bound grows after each further failure."""

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (counting from 0)."""
        bound = min(self.cap, self.base * self.factor ** min(attempt, 64))
        return random.uniform(0, bound)  # noqa: S311 - spreading retries, not a secret


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


def _notice_id(notice_id: NoticeId) -> UUID:
    return notice_id if isinstance(notice_id, UUID) else UUID(notice_id)


def _draft(
    *,
    subject: str,
    body: str,
    priority: Priority,
    activity: ActivityWindow | None,
    area: str | None,
    ack_required: bool,
    refers_to: NoticeId | None,
    notice_id: NoticeId | None,
) -> NoticeDraft:
    nid = uuid4() if notice_id is None else _notice_id(notice_id)
    try:
        return NoticeDraft(
            id=nid,
            subject=subject,
            body=body,
            priority=priority,
            activity=activity,
            area=area,
            ack_required=ack_required,
            refers_to=None if refers_to is None else _notice_id(refers_to),
            client_time=utc_now(),  # a claim kept beside the server's time, not its identity
        )
    except ValidationError as exc:
        # Refused here as the server would refuse it, so callers handle one exception.
        found = [
            {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
            for error in exc.errors()
        ]
        problem = {"status": 422, "code": "invalid-request", "errors": found}
        detail = "; ".join(f"{error['field']}: {error['message']}" for error in found)
        raise ApiError.from_problem({**problem, "detail": detail}, notice_id=nid) from None


class HotlineClient:
    """An operator's connection to a Hotline server.

    Args:
        base_url: the server, such as ``https://hotline.example.org``.
        token: the operator's bearer token. It is sent in a header (REST) or in the
            first socket message, never in a URL, and never shown by ``repr``.
        transport: an httpx transport to use instead of the network (tests pass
            ``httpx.MockTransport``).
        timeout: seconds any one request, socket handshake or socket command may take.
        ws_connect: opens WebSockets instead of ``websockets.connect`` (for tests).
        retries: how many times a request that is safe to repeat (a read, a send with
            its id, a receipt) is tried again after a network failure or a 502/503/504.
        backoff: the delays between those tries, and the default for subscriptions.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        ws_connect: Connector | None = None,
        retries: int = 2,
        backoff: Backoff | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token = token
        self._retries = retries
        self._backoff = backoff or Backoff()
        self._connect = ws_connect or _default_connect(timeout)
        self._me: Me | None = None
        self._http = httpx.AsyncClient(
            base_url=f"{self.base_url}/api/v1",
            headers={"Authorization": f"Bearer {token}", "User-Agent": "hotline-python"},
            transport=transport,
            timeout=timeout,
        )

    def __repr__(self) -> str:
        return f"HotlineClient({self.base_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    # -- REST ----------------------------------------------------------------------------

    async def healthy(self) -> bool:
        """Whether the server answers its liveness check; never raises."""
        try:
            response = await self._http.get(f"{self.base_url}/healthz")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def me(self) -> Me:
        """The operator the token belongs to, its role and its party."""
        self._me = Me.model_validate(await self._request("GET", "/me", retry=True))
        return self._me

    async def channels(self) -> list[Channel]:
        """The channels of the operator's party, with their policies and heads."""
        return _channel_list.validate_python(await self._request("GET", "/channels", retry=True))

    async def channel(self, channel: str) -> Channel:
        """One channel of the operator's party."""
        return Channel.model_validate(await self._request("GET", _path(channel), retry=True))

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
    ) -> NoticeOut:
        """Send a notice to the other party of ``channel``.

        Args:
            channel: the channel's id.
            subject: one line, 1 to 200 characters.
            body: free text.
            priority: sets the acknowledgement deadline and the minimum advance notice.
            activity: when the announced activity takes place, if it has a time.
            area: where.
            ack_required: whether the other party must acknowledge or object.
            refers_to: an earlier notice of the channel that this one updates.
            notice_id: the notice's id; a fresh UUID when omitted. Sending again with the
                same id and content is safe: the server answers with the original.

        Returns:
            The notice as the server recorded it.

        Raises:
            Invalid: the notice breaks the schema or the channel policy.
            Conflict: ``notice_id`` was used before for other content.
            Unreachable: no answer; ``error.notice_id`` is the id to retry with.
        """
        draft = _draft(
            subject=subject,
            body=body,
            priority=priority,
            activity=activity,
            area=area,
            ack_required=ack_required,
            refers_to=refers_to,
            notice_id=notice_id,
        )
        found = await self._request(
            "POST",
            f"{_path(channel)}/notices",
            json=draft.model_dump(mode="json", exclude_none=True),
            notice_id=draft.id,
            retry=True,
        )
        return NoticeOut.model_validate(found)

    async def receipt(self, channel: str, notice_id: NoticeId) -> NoticeOut:
        """Confirm that the operator's party has the notice (the first one counts)."""
        nid = _notice_id(notice_id)
        found = await self._request("POST", _notice_path(channel, nid, "receipt"), retry=True)
        return NoticeOut.model_validate(found)

    async def acknowledge(self, channel: str, notice_id: NoticeId) -> NoticeOut:
        """Acknowledge a notice for the operator's party.

        Raises:
            Conflict: the notice was decided already; ``error.decision`` is the first.
            Forbidden: the operator's party sent it, or its role may not decide.
        """
        return await self._decide(channel, notice_id, Decision.ACKNOWLEDGED, None)

    async def object(self, channel: str, notice_id: NoticeId, reason: str) -> NoticeOut:
        """Object to a notice, saying why.

        Raises:
            Conflict: the notice was decided already; ``error.decision`` is the first.
            Invalid: the reason is empty.
        """
        return await self._decide(channel, notice_id, Decision.OBJECTED, reason)

    async def _decide(
        self, channel: str, notice_id: NoticeId, decision: Decision, reason: str | None
    ) -> NoticeOut:
        nid = _notice_id(notice_id)
        request = {"decision": decision.value, "client_time": format_time(utc_now())}
        if reason is not None:
            request["reason"] = reason
        found = await self._request(
            "POST", _notice_path(channel, nid, "decision"), json=request, notice_id=nid
        )
        return NoticeOut.model_validate(found)

    async def cancel(
        self, channel: str, notice_id: NoticeId, reason: str | None = None
    ) -> NoticeOut:
        """Withdraw a notice the operator's party sent, while it awaits a decision."""
        nid = _notice_id(notice_id)
        request = {} if reason is None else {"reason": reason}
        found = await self._request(
            "POST", _notice_path(channel, nid, "cancellation"), json=request, notice_id=nid
        )
        return NoticeOut.model_validate(found)

    async def notice(self, channel: str, notice_id: NoticeId) -> NoticeDetail:
        """One notice with its own events from the log."""
        nid = _notice_id(notice_id)
        found = await self._request("GET", _notice_path(channel, nid), notice_id=nid, retry=True)
        return NoticeDetail.model_validate(found)

    async def notices(
        self,
        channel: str,
        *,
        status: Status | None = None,
        priority: Priority | None = None,
        sent_by: str | None = None,
        awaiting_decision: bool = False,
        page_size: int = 100,
    ) -> AsyncIterator[NoticeOut]:
        """Every notice of ``channel`` that matches, newest first, fetched a page at a time.

        Args:
            channel: the channel's id.
            status: only notices in this state.
            priority: only this priority.
            sent_by: only notices sent by this party.
            awaiting_decision: only notices still waiting for an acknowledgement.
            page_size: notices per request (at most 200).
        """
        params: dict[str, str | int] = {"limit": page_size}
        for name, value in (("status", status), ("priority", priority), ("sent_by", sent_by)):
            if value is not None:
                params[name] = str(value)
        if awaiting_decision:
            params["awaiting_decision"] = "true"
        while True:
            found = await self._request(
                "GET", f"{_path(channel)}/notices", params=params, retry=True
            )
            page = NoticePage.model_validate(found)
            for notice in page.items:
                yield notice
            if page.next_cursor is None:
                return
            params["cursor"] = page.next_cursor

    async def inbox(self, channel: str) -> list[NoticeOut]:
        """Notices from the other party that still wait for this party's decision."""
        mine = (self._me or await self.me()).party.id
        return [
            notice
            async for notice in self.notices(channel, awaiting_decision=True)
            if notice.sender.party != mine
        ]

    async def log(self, channel: str, after: int = 0) -> AsyncIterator[Event]:
        """The channel's events after sequence number ``after``, in order, up to its head."""
        while True:
            found = await self._request(
                "GET",
                f"{_path(channel)}/events",
                params={"after": after, "limit": 1000},
                retry=True,
            )
            page = EventPage.model_validate(found)
            for event in page.events:
                yield event
            if not page.events or page.events[-1].seq >= page.head:
                return
            after = page.events[-1].seq

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        notice_id: UUID | None = None,
        retry: bool = False,
    ) -> Any:
        attempts = 1 + (self._retries if retry else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self._http.request(method, path, json=json, params=params)
            except httpx.TransportError as exc:
                if last:
                    raise Unreachable(
                        f"cannot reach {self.base_url}: {exc or type(exc).__name__}",
                        notice_id=notice_id,
                    ) from exc
            else:
                if response.status_code < 400:
                    return response.json()
                if last or response.status_code not in _RETRY_STATUSES:
                    raise _refusal(response, notice_id)
            await asyncio.sleep(self._backoff.delay(attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")

    # -- live ----------------------------------------------------------------------------

    def subscribe(
        self,
        channels: Sequence[str],
        *,
        after: int | Mapping[str, int] = 0,
        resume_file: Path | None = None,
        confirm_receipts: bool = True,
        backoff: Backoff | None = None,
        on_presence: PresenceCallback | None = None,
    ) -> Subscription:
        """Events of ``channels`` as they happen, over a socket that heals itself.

        Use the result in ``async with``, and iterate over it for events.

        Args:
            channels: the channels' ids.
            after: the last sequence number already seen, for all channels or by channel;
                0 replays each log from its start.
            resume_file: a JSON file of sequence numbers, read at the start (it wins over
                ``after``) and rewritten atomically after each event, so that a program
                that restarts carries on where it stopped.
            confirm_receipts: confirm receipt of each notice from the other party, once.
            backoff: reconnection delays; the client's own when omitted.
            on_presence: called whenever the operators online on a channel change.
        """
        return Subscription(
            url=_ws_url(self.base_url),
            token=self._token,
            connect=self._connect,
            channels=channels,
            after=after,
            resume_file=resume_file,
            confirm_receipts=confirm_receipts,
            backoff=backoff or self._backoff,
            on_presence=on_presence,
            timeout=self.timeout,
        )


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
    ) -> None:
        if not channels or isinstance(channels, str):
            raise ValueError("subscribe to a list of one or more channel ids")
        self.channels = tuple(dict.fromkeys(channels))
        self.presence: dict[str, dict[str, list[str]]] = {}
        self.welcome: messages.WelcomeMessage | None = None
        self._url = url
        self._token = token
        self._connect = connect
        self._backoff = backoff
        self._timeout = timeout
        self._confirm_receipts = confirm_receipts
        self._on_presence = on_presence
        self._resume_file = resume_file
        self._saved = _load_positions(resume_file) if resume_file is not None else {}
        start = {c: after if isinstance(after, int) else after.get(c, 0) for c in self.channels}
        start.update({c: self._saved[c] for c in self.channels if c in self._saved})
        self._received = dict(start)  # the last seq taken off the socket, per channel
        self._handled = dict(start)  # the last seq the consumer is done with
        self._current: Event | None = None
        self._queue: asyncio.Queue[Event | _End] = asyncio.Queue()
        self._heads: dict[str, int] = {}
        self._owed: dict[UUID, str] = {}  # receipts to send: notice id -> channel
        self._asked: dict[str, UUID] = {}  # receipts sent on this connection, by ref
        self._pending: dict[str, tuple[asyncio.Future[NoticeOut], UUID]] = {}
        self._refs = itertools.count(1)
        self._ws: WebSocketLike | None = None
        self._live = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

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
        if exc_type is None:
            self._settle()
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
        self._settle()
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
    ) -> NoticeOut:
        """Send a notice over the socket; see :meth:`HotlineClient.send`."""
        draft = _draft(
            subject=subject,
            body=body,
            priority=priority,
            activity=activity,
            area=area,
            ack_required=ack_required,
            refers_to=refers_to,
            notice_id=notice_id,
        )
        return await self._command(
            lambda ref: messages.SendMessage(ref=ref, channel=channel, notice=draft), draft.id
        )

    async def receipt(self, channel: str, notice_id: NoticeId) -> NoticeOut:
        """Confirm receipt of a notice over the socket."""
        nid = _notice_id(notice_id)
        return await self._command(
            lambda ref: messages.ReceiptMessage(ref=ref, channel=channel, notice=nid), nid
        )

    async def acknowledge(self, channel: str, notice_id: NoticeId) -> NoticeOut:
        """Acknowledge a notice over the socket; see :meth:`HotlineClient.acknowledge`."""
        return await self._decide(channel, _notice_id(notice_id), Decision.ACKNOWLEDGED, None)

    async def object(self, channel: str, notice_id: NoticeId, reason: str) -> NoticeOut:
        """Object to a notice over the socket; see :meth:`HotlineClient.object`."""
        return await self._decide(channel, _notice_id(notice_id), Decision.OBJECTED, reason)

    async def cancel(
        self, channel: str, notice_id: NoticeId, reason: str | None = None
    ) -> NoticeOut:
        """Cancel a notice over the socket; see :meth:`HotlineClient.cancel`."""
        nid = _notice_id(notice_id)
        return await self._command(
            lambda ref: messages.CancelMessage(ref=ref, channel=channel, notice=nid, reason=reason),
            nid,
        )

    async def _decide(
        self, channel: str, nid: UUID, decision: Decision, reason: str | None
    ) -> NoticeOut:
        return await self._command(
            lambda ref: messages.DecideMessage(
                ref=ref,
                channel=channel,
                notice=nid,
                decision=decision,
                reason=reason,
                client_time=utc_now(),
            ),
            nid,
        )

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
        """Say hello, subscribe, and read until the socket closes; True if welcomed."""
        welcomed = False
        try:
            await ws.send(messages.HelloMessage(token=self._token).model_dump_json())
            async with asyncio.timeout(self._timeout):
                first = messages.parse_server_message(await ws.recv())
            if not isinstance(first, messages.WelcomeMessage):
                raise Closed(f"expected a welcome, got {first.type}", code=1002)
            self.welcome, welcomed = first, True
            self._heads.clear()
            for channel in self.channels:
                after = self._received[channel]
                subscribe = messages.SubscribeMessage(channel=channel, after=after)
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
        except (OSError, TimeoutError, ValidationError) as exc:
            log.warning("the socket failed (%s); reconnecting", exc or type(exc).__name__)
        finally:
            self._ws = None
            self._live.clear()
            self._asked.clear()
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
            case messages.EventMessage(event=event):
                self._on_event(event)
                await self._send_receipts(ws, event.channel)
            case messages.SubscribedMessage(channel=channel, head=head):
                if self._received.get(channel, 0) > head:
                    raise HotlineError(
                        f"channel {channel} ends at {head}, yet this client has seen "
                        f"{self._received[channel]}: not the log it was reading before"
                    )
                self._heads[channel] = head
                await self._send_receipts(ws, channel)
            case messages.PresenceMessage(channel=channel, online=online):
                self.presence[channel] = online
                if self._on_presence is not None:
                    self._on_presence(channel, online)
            case messages.ResultMessage(ref=ref, notice=notice):
                self._answered(ref)
                if ref in self._pending and not self._pending[ref][0].done():
                    self._pending[ref][0].set_result(notice)
            case messages.ErrorMessage(ref=ref):
                problem = message.model_dump(exclude_none=True)
                if ref is None:
                    # A refused subscription: nothing reconnecting could fix.
                    raise ApiError.from_problem(problem)
                if self._answered(ref):
                    log.info("a receipt was refused: %s", message.detail)
                if ref in self._pending and not self._pending[ref][0].done():
                    answer, nid = self._pending[ref]
                    answer.set_exception(ApiError.from_problem(problem, notice_id=nid))
            case messages.WelcomeMessage():
                pass

    def _on_event(self, event: Event) -> None:
        channel = event.channel
        if channel not in self._received or event.seq <= self._received[channel]:
            return  # not ours, or a duplicate
        self._received[channel] = event.seq
        self._queue.put_nowait(event)
        if not self._confirm_receipts or self.welcome is None:
            return
        notice = event.data.get("notice")
        if not isinstance(notice, str):
            return
        nid = UUID(notice)
        if event.type is EventType.NOTICE_SENT:
            if event.actor is not None and event.actor.party != self.welcome.party.id:
                self._owed[nid] = channel
        elif event.type in _SETTLING:
            self._owed.pop(nid, None)

    async def _send_receipts(self, ws: WebSocketLike, channel: str) -> None:
        # Only once caught up: a notice replayed from the log may have been received
        # long ago, which a later event of the replay will show.
        if channel not in self._heads or self._received[channel] < self._heads[channel]:
            return
        asked = set(self._asked.values())
        for nid, where in list(self._owed.items()):
            if where == channel and nid not in asked:
                ref = f"r{next(self._refs)}"
                self._asked[ref] = nid
                receipt = messages.ReceiptMessage(ref=ref, channel=channel, notice=nid)
                await ws.send(receipt.model_dump_json())

    def _answered(self, ref: str) -> bool:
        nid = self._asked.pop(ref, None)
        if nid is None:
            return False
        self._owed.pop(nid, None)
        return True

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

    def _settle(self) -> None:
        event, self._current = self._current, None
        if event is None:
            return
        self._handled[event.channel] = event.seq
        if self._resume_file is not None:
            self._saved[event.channel] = event.seq
            _save_positions(self._resume_file, self._saved)


# -- helpers -------------------------------------------------------------------------------


def _path(channel: str) -> str:
    return f"/channels/{quote(channel, safe='')}"


def _notice_path(channel: str, nid: UUID, action: str | None = None) -> str:
    path = f"{_path(channel)}/notices/{nid}"
    return path if action is None else f"{path}/{action}"


def _refusal(response: httpx.Response, notice_id: UUID | None) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"detail": response.reason_phrase or "the server refused"}
    return ApiError.from_problem(body, status=response.status_code, notice_id=notice_id)


def _ws_url(base_url: str) -> str:
    scheme, _, rest = base_url.partition("://")
    ws_scheme = {"http": "ws", "https": "wss"}.get(scheme.lower(), scheme)
    return f"{ws_scheme}://{rest}/api/v1/ws"


def _default_connect(timeout: float) -> Connector:
    async def connect(url: str) -> WebSocketLike:
        return await websockets_connect(
            url, open_timeout=timeout, user_agent_header="hotline-python"
        )

    return connect


def _load_positions(path: Path) -> dict[str, int]:
    """Read a resume file; a missing one means nothing seen yet."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise HotlineError(f"cannot read the resume file {path}: {exc}") from exc
    after = found.get("after") if isinstance(found, dict) else None
    if not isinstance(after, dict) or not all(
        isinstance(seq, int) and seq >= 0 for seq in after.values()
    ):
        raise HotlineError(f"{path} is not a resume file this client wrote")
    return {str(channel): seq for channel, seq in after.items()}


def _save_positions(path: Path, positions: Mapping[str, int]) -> None:
    """Rewrite a resume file atomically: a crash leaves the old file or the new, never half."""
    text = json.dumps({"after": dict(sorted(positions.items()))}, indent=2) + "\n"
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
