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
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from uuid import UUID

import httpx
from pydantic import TypeAdapter

from client.attachments import AttachmentCalls
from client.audit import LogTampered, decode_hashes
from client.backoff import Backoff
from client.calls import Answer
from client.calls import channel_path as _path
from client.checks import CheckCalls
from client.drafts import NoticeId, build_decision, build_draft, to_uuid
from client.errors import ApiError, HotlineError, Unreachable
from client.live import (
    Connector,
    PresenceCallback,
    Subscription,
    default_connect,
    ws_url,
)
from client.mail import MailCalls
from client.policy import PolicyCalls
from client.protocol.log import CompactRange, event_hash
from client.protocol.note import Signer
from client.protocol.proofs import (
    CheckpointOut,
    ConsistencyProofOut,
    InclusionProofOut,
    LogKeyOut,
)
from client.protocol.schemas import (
    ActivityWindow,
    Attachment,
    Channel,
    Event,
    EventPage,
    KeyOut,
    Me,
    NoticeDetail,
    NoticeOut,
    NoticePage,
)
from client.protocol.vocabulary import Decision, Priority, Status
from client.webhooks import WebhookCalls

__all__ = ["HotlineClient"]

log = logging.getLogger(__name__)

_RETRY_STATUSES = frozenset({502, 503, 504})
_PROBLEM_LIMIT = 1 << 20
"""Bytes of a refusal read at most: a problem document is small, whatever follows it."""
_channel_list: TypeAdapter[list[Channel]] = TypeAdapter(list[Channel])


class HotlineClient(PolicyCalls, CheckCalls, AttachmentCalls, WebhookCalls, MailCalls):
    """An operator's connection to a Hotline server.

    Besides the calls defined here, it has those of the channel's policy
    (:class:`~client.policy.PolicyCalls`), of its checks, availability and conflicts
    (:class:`~client.checks.CheckCalls`), of notices' files
    (:class:`~client.attachments.AttachmentCalls`), of webhooks and the delivery log
    (:class:`~client.webhooks.WebhookCalls`) and of operators' e-mail
    (:class:`~client.mail.MailCalls`).

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
        signing_key: the operator's signer key (``PRIVATE+KEY+<operator id>+…``, as
            ``hotline keygen`` writes it): notices and decisions, over REST and the
            socket, are then signed with it. It never leaves the client.

    Raises:
        NoteError: ``signing_key`` is not a well-formed signer key.
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
        signing_key: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._signer = None if signing_key is None else Signer.parse(signing_key)
        self.timeout = timeout
        self._token = token
        self._retries = retries
        self._backoff = backoff or Backoff()
        self._connect = ws_connect or default_connect(timeout)
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

    async def _signing_party(self) -> str | None:
        """The party this operator signs for (it is signed); asked once, and only to sign."""
        if self._signer is None:
            return None
        return (self._me or await self.me()).party.id

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
        bbox: Sequence[float] | None = None,
        attachments: Sequence[Attachment] = (),
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
            bbox: where, more precisely than ``area`` (which it needs): ``(west, south,
                east, north)`` in degrees, as GeoJSON's bbox. Two notices whose boxes do
                not intersect do not conflict, whatever their areas say.
            attachments: files uploaded first (``upload_attachment``), at most 10; the
                ``notice.sent`` event lists each (hash, size, type, name), and a signature
                covers them.

        Returns:
            The notice as the server recorded it; sending it may log ``conflict.detected``.

        Raises:
            Invalid: the notice breaks the schema or the channel policy; 422
                ``attachment-unknown``: an attachment not uploaded by this party here.
            Conflict: ``notice_id`` was used before for other content.
            Unreachable: no answer; ``error.notice_id`` is the id to retry with.
        """
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
        nid = to_uuid(notice_id)
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
        nid = to_uuid(notice_id)
        request = build_decision(
            decision=decision,
            reason=reason,
            channel=channel,
            notice_id=nid,
            signer=self._signer,
            party=await self._signing_party(),
        )
        found = await self._request(
            "POST",
            _notice_path(channel, nid, "decision"),
            json=request.model_dump(mode="json", exclude_none=True),
            notice_id=nid,
        )
        return NoticeOut.model_validate(found)

    async def register_key(self, channel: str, verifier_key: str | None = None) -> KeyOut:
        """Register the operator's public key on ``channel``, to check its signatures.

        Args:
            channel: the channel's id.
            verifier_key: the key to register; by default, the one of the client's
                ``signing_key``.

        Returns:
            The registration in force; registering the same key again changes nothing.

        Raises:
            Invalid: the key is malformed, or not named after the operator.
            ValueError: no key given, and the client has no signing key.
        """
        if verifier_key is None:
            if self._signer is None:
                raise ValueError("give a verifier key, or make the client with a signing key")
            verifier_key = str(self._signer.verifier())
        found = await self._request(
            "POST", f"{_path(channel)}/keys", json={"verifier_key": verifier_key}, retry=True
        )
        return KeyOut.model_validate(found)

    async def cancel(
        self, channel: str, notice_id: NoticeId, reason: str | None = None
    ) -> NoticeOut:
        """Withdraw a notice the operator's party sent, while it awaits a decision."""
        nid = to_uuid(notice_id)
        request = {} if reason is None else {"reason": reason}
        found = await self._request(
            "POST", _notice_path(channel, nid, "cancellation"), json=request, notice_id=nid
        )
        return NoticeOut.model_validate(found)

    async def notice(self, channel: str, notice_id: NoticeId) -> NoticeDetail:
        """One notice with its own events from the log."""
        nid = to_uuid(notice_id)
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

    # -- the verifiable log --------------------------------------------------------------

    async def log_key(self) -> str:
        """The verifier key the server signs checkpoints with (compare it out of band)."""
        found = LogKeyOut.model_validate(await self._request("GET", "/log/key", retry=True))
        return found.verifier_key

    async def checkpoint(self, channel: str) -> CheckpointOut:
        """The channel's latest signed checkpoint (not yet verified: see client.audit)."""
        found = await self._request("GET", f"{_path(channel)}/checkpoint", retry=True)
        return CheckpointOut.model_validate(found)

    async def inclusion_proof(self, channel: str, seq: int, size: int) -> list[bytes]:
        """The server's proof that event ``seq`` is in the tree of the first ``size`` events."""
        found = await self._request(
            "GET",
            f"{_path(channel)}/proofs/inclusion",
            params={"seq": seq, "size": size},
            retry=True,
        )
        return decode_hashes(InclusionProofOut.model_validate(found).hashes)

    async def consistency_proof(self, channel: str, old_size: int, size: int) -> list[bytes]:
        """The server's proof that the tree of ``size`` events extends that of ``old_size``."""
        found = await self._request(
            "GET",
            f"{_path(channel)}/proofs/consistency",
            params={"old_size": old_size, "size": size},
            retry=True,
        )
        return decode_hashes(ConsistencyProofOut.model_validate(found).hashes)

    async def raw_events(self, channel: str, *, after: int, limit: int) -> list[dict[str, Any]]:
        """One page of the log as the server served it: JSON objects, for hashing."""
        found = await self._request(
            "GET",
            f"{_path(channel)}/events",
            params={"after": after, "limit": limit},
            retry=True,
        )
        events = found.get("events") if isinstance(found, dict) else None
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise HotlineError(f"{channel}: the server's answer is not a page of events")
        return events

    async def compact_range(self, channel: str, size: int) -> CompactRange:
        """The range of the first ``size`` events, to start checking a log from its middle.

        Built from event ``size`` and the inclusion proof of it in the tree of ``size``
        events; it is only a claim until the first signed root is rebuilt from it.
        """
        if size == 0:
            return CompactRange()
        events = await self.raw_events(channel, after=size - 1, limit=1)
        if not events or events[0].get("seq") != size:
            raise LogTampered(f"{channel}: event {size} is missing", channel=channel, seq=size)
        proof = await self.inclusion_proof(channel, size, size)
        try:
            return CompactRange.from_inclusion_proof(size, proof, event_hash(events[0]))
        except ValueError as exc:
            raise LogTampered(f"{channel}: a malformed proof ({exc})", channel=channel) from exc

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
        answer = await self._exchange(
            method, path, json=json, params=params, notice_id=notice_id, retry=retry
        )
        return answer.json()

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        notice_id: UUID | None = None,
        retry: bool = False,
        limit: int | None = None,
    ) -> Answer:
        """One request, tried again as ``retry`` allows; the answer read whole, or refused.

        Args:
            limit: read at most this many bytes of the body and one more, then stop: the
                caller can tell a body too long without the client holding all of it.

        Raises:
            ApiError: the server refused (4xx, 5xx).
            Unreachable: no answer, or one broken off.
        """
        attempts = 1 + (self._retries if retry else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            request = self._http.build_request(
                method, path, json=json, content=content, headers=headers, params=params
            )
            try:
                response = await self._http.send(request, stream=True)
                try:
                    ok = response.status_code < 400
                    body = await _read(response, limit if ok else _PROBLEM_LIMIT)
                finally:
                    await response.aclose()
            except httpx.TransportError as exc:
                if last:
                    raise Unreachable(
                        f"cannot reach {self.base_url}: {exc or type(exc).__name__}",
                        notice_id=notice_id,
                    ) from exc
            else:
                if ok:
                    return Answer(response.status_code, response.headers, body)
                if last or response.status_code not in _RETRY_STATUSES:
                    raise _refusal(response, body, notice_id)
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
        verify: bool = True,
        log_key: str | None = None,
        answer_checks: bool = False,
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
            verify: check every event against the server's signed checkpoints before it
                is yielded, and each new checkpoint against the last (the default). A
                rewritten log raises ``LogTampered`` or ``SplitView`` from the iterator.
            log_key: the server's verifier key, as got from its operator. Without it the
                key the server serves is trusted on first use (and kept in the resume
                file, so a later change of key is noticed).
            answer_checks: answer every liveness check that asks the operator's party
                (``check.requested``), once caught up with the log, at least once; a
                refused answer (too late, say) is logged by ``client.live``, not raised.
        """
        return Subscription(
            url=ws_url(self.base_url),
            token=self._token,
            connect=self._connect,
            channels=channels,
            after=after,
            resume_file=resume_file,
            confirm_receipts=confirm_receipts,
            backoff=backoff or self._backoff,
            on_presence=on_presence,
            timeout=self.timeout,
            verify_with=self if verify else None,
            log_key=log_key,
            signer=self._signer,
            answer_checks=answer_checks,
        )


def _notice_path(channel: str, nid: UUID, action: str | None = None) -> str:
    path = f"{_path(channel)}/notices/{nid}"
    return path if action is None else f"{path}/{action}"


async def _read(response: httpx.Response, limit: int | None) -> bytes:
    """The body, or its first ``limit + 1`` bytes: enough to know it is too long."""
    if limit is None:
        return await response.aread()
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            break
    return bytes(body[: limit + 1])


def _refusal(response: httpx.Response, body: bytes, notice_id: UUID | None) -> ApiError:
    try:
        problem = json.loads(body)
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {"detail": response.reason_phrase or "the server refused"}
    return ApiError.from_problem(problem, status=response.status_code, notice_id=notice_id)
