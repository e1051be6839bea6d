"""The Python SDK against hand-written fakes: REST over ``httpx.MockTransport``, live events
over a real socket to a small protocol fake served on 127.0.0.1 by ``websockets``.

No server package is imported: the fakes speak the wire protocol of ``client.protocol``,
which is all the SDK may rely on.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import json
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Response
from websockets.protocol import State

from client import (
    ApiError,
    Backoff,
    Closed,
    Conflict,
    ConnectionLost,
    Forbidden,
    HotlineClient,
    HotlineError,
    Invalid,
    NotFound,
    Subscription,
    Unauthenticated,
    Unreachable,
)
from client.audit import LogTampered, SplitView
from client.live import Connector, WebSocketLike
from client.protocol import merkle
from client.protocol.checkpoint import Checkpoint, sign_checkpoint
from client.protocol.log import event_hash, origin
from client.protocol.note import generate_key
from client.protocol.schemas import Event, NoticeOut
from client.protocol.vocabulary import Decision, Priority, Status

URL = "http://hotline.test"
CHANNEL = "water-roads"
FAST = Backoff(base=0.001, cap=0.01)
"""Back-off for tests: retries come at once, but still through the real code path."""
WAIT = 5.0
"""Seconds any one wait in a test may take before the test fails."""

# -- builders ------------------------------------------------------------------------------


def notice_json(
    notice_id: UUID | None = None,
    *,
    sender: str = "water",
    status: Status = Status.SENT,
    seq: int = 1,
) -> dict[str, Any]:
    """A notice as the server serves it."""
    return {
        "id": str(notice_id or uuid4()),
        "channel": CHANNEL,
        "sender": {"party": sender, "operator": "ana" if sender == "water" else "carla"},
        "subject": "Water main renewal, Mill Lane",
        "body": "",
        "priority": "routine",
        "activity": None,
        "area": None,
        "ack_required": True,
        "refers_to": None,
        "status": status.value,
        "seq": seq,
        "sent_at": "2026-11-21T09:30:00.000Z",
        "client_time": None,
        "ack_due_at": "2026-11-24T09:30:00.000Z",
        "receipt": None,
        "decision": None,
        "cancellation": None,
        "overdue_at": None,
    }


def event_json(
    seq: int, kind: str = "notice.sent", *, notice: UUID | None = None, party: str = "water"
) -> dict[str, Any]:
    """One event of the demo channel's log."""
    operator = "ana" if party == "water" else "carla"
    return {
        "channel": CHANNEL,
        "seq": seq,
        "type": kind,
        "at": "2026-11-21T09:30:00.000Z",
        "actor": {"party": party, "operator": operator},
        "data": {"notice": str(notice or uuid4())},
    }


def check_json(check_id: UUID | None = None, *, answered: bool = False) -> dict[str, Any]:
    """A liveness check asking roads, as the server serves it."""
    return {
        "id": str(check_id or uuid4()),
        "channel": CHANNEL,
        "party": "roads",
        "seq": 4,
        "due_at": "2026-11-21T09:00:00.000Z",
        "requested_at": "2026-11-21T09:00:00.012Z",
        "answer_by": "2026-11-21T09:05:00.012Z",
        "answered_at": "2026-11-21T09:00:01.246Z" if answered else None,
        "answered_by": "carla" if answered else None,
        "missed_at": None,
        "status": "answered" if answered else "pending",
        "answered_in_ms": 1234 if answered else None,
    }


def check_event_json(seq: int, kind: str, check: UUID, *, party: str = "roads") -> dict[str, Any]:
    """An event of a liveness check: requested, answered or missed."""
    at = "2026-11-21T09:00:00.000Z"
    data: dict[str, Any] = {"check": str(check), "party": party}
    actor = None
    if kind == "check.requested":
        data.update(due_at=at, answer_by="2026-11-21T09:05:00.000Z")
    elif kind == "check.answered":
        operator = "carla" if party == "roads" else "ana"
        actor = {"party": party, "operator": operator}
        data.update(requested_at=at, answered_in_ms=1234)
    else:
        data.update(due_at="2026-11-21T09:05:00.000Z", to=["dev"])
    return {"channel": CHANNEL, "seq": seq, "type": kind, "at": at, "actor": actor, "data": data}


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def problem(status: int, code: str, detail: str, **extra: Any) -> httpx.Response:
    """A problem-details response."""
    body = {"type": f"urn:hotline:problem:{code}", "title": "t", "status": status}
    return httpx.Response(
        status,
        json={**body, "detail": detail, "code": code, **extra},
        headers={"content-type": "application/problem+json"},
    )


# -- REST ------------------------------------------------------------------------------------


@dataclass
class FakeApi:
    """Answers requests from a table of (method, path) -> response, and records them."""

    answers: dict[tuple[str, str], list[httpx.Response | Exception]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: httpx.Response | Exception) -> None:
        self.answers.setdefault((method, path), []).extend(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queued = self.answers.get((request.method, request.url.path))
        if not queued:
            return problem(404, "not-found", f"no route {request.url.path} in the fake")
        answer = queued.pop(0) if len(queued) > 1 else queued[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
async def client(api: FakeApi) -> AsyncIterator[HotlineClient]:
    async with HotlineClient(
        URL, "hl_secret", transport=httpx.MockTransport(api), backoff=FAST
    ) as hotline:
        yield hotline


ME = {
    "operator": {"id": "carla", "name": "Carla Rossi"},
    "role": "operator",
    "party": {"id": "roads", "name": "City Roads Department"},
}
NOTICES = f"/api/v1/channels/{CHANNEL}/notices"


async def test_requests_go_under_api_v1_with_the_bearer_token(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on("GET", "/api/v1/me", httpx.Response(200, json=ME))

    me = await client.me()

    assert me.operator.id == "carla"
    assert me.party.id == "roads"
    assert api.requests[0].url == "http://hotline.test/api/v1/me"
    assert api.requests[0].headers["authorization"] == "Bearer hl_secret"


def test_the_client_repr_does_not_show_the_token() -> None:
    assert "hl_secret" not in repr(HotlineClient(URL, "hl_secret"))


async def test_send_posts_a_draft_with_a_fresh_uuid_and_returns_the_notice(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on("POST", NOTICES, httpx.Response(201, json=notice_json()))

    notice = await client.send(CHANNEL, subject="Water main renewal", priority=Priority.URGENT)

    sent = api.body()
    assert UUID(sent["id"]).version == 4
    assert sent["subject"] == "Water main renewal"
    assert sent["priority"] == "urgent"
    assert sent["ack_required"] is True
    assert sent["client_time"].endswith("Z")
    assert isinstance(notice, NoticeOut)


async def test_sending_again_with_the_same_id_sends_the_same_notice(
    api: FakeApi, client: HotlineClient
) -> None:
    nid = uuid4()
    api.on("POST", NOTICES, httpx.Response(201, json=notice_json(nid)))
    api.on("POST", NOTICES, httpx.Response(200, json=notice_json(nid)))

    first = await client.send(CHANNEL, subject="Mill Lane", notice_id=nid)
    again = await client.send(CHANNEL, subject="Mill Lane", notice_id=str(nid))

    assert first.id == again.id == nid
    bodies = [api.body(0), api.body(1)]
    assert [b["id"] for b in bodies] == [str(nid), str(nid)]
    assert [b["subject"] for b in bodies] == ["Mill Lane", "Mill Lane"]


async def test_a_send_lost_on_the_network_is_retried_with_the_same_id(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on(
        "POST",
        NOTICES,
        httpx.ConnectError("connection reset"),
        httpx.Response(503),
        httpx.Response(201, json=notice_json()),
    )

    await client.send(CHANNEL, subject="Mill Lane")

    assert len(api.requests) == 3
    assert len({api.body(i)["id"] for i in range(3)}) == 1


async def test_an_unreachable_server_names_the_notice_id_to_retry_with(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on("POST", NOTICES, httpx.ConnectError("connection refused"))

    with pytest.raises(Unreachable) as raised:
        await client.send(CHANNEL, subject="Mill Lane")

    assert raised.value.notice_id == UUID(api.body()["id"])
    assert len(api.requests) == 3  # the first try and two retries


async def test_a_decision_is_not_retried_after_a_network_failure(
    api: FakeApi, client: HotlineClient
) -> None:
    nid = uuid4()
    api.on("POST", f"{NOTICES}/{nid}/decision", httpx.ConnectError("connection reset"))

    with pytest.raises(Unreachable):
        await client.acknowledge(CHANNEL, nid)

    assert len(api.requests) == 1


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, "unauthenticated", Unauthenticated),
        (403, "forbidden", Forbidden),
        (404, "not-found", NotFound),
        (409, "notice-id-conflict", Conflict),
        (413, "content-too-large", Invalid),
        (422, "invalid", Invalid),
        (500, "internal-error", ApiError),
    ],
)
async def test_a_problem_response_raises_the_exception_for_its_status(
    api: FakeApi, client: HotlineClient, status: int, code: str, kind: type[ApiError]
) -> None:
    nid = uuid4()
    api.on("GET", f"{NOTICES}/{nid}", problem(status, code, "refused for a reason"))

    with pytest.raises(kind) as raised:
        await client.notice(CHANNEL, nid)

    error = raised.value
    assert type(error) is kind
    assert isinstance(error, HotlineError)
    assert (error.status, error.code, error.detail) == (status, code, "refused for a reason")
    assert error.problem["type"] == f"urn:hotline:problem:{code}"
    assert error.notice_id == nid


async def test_a_response_that_is_not_a_problem_still_raises_an_api_error(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on("GET", "/api/v1/channels", httpx.Response(502, text="<html>Bad gateway</html>"))

    with pytest.raises(ApiError) as raised:
        await client.channels()

    assert (raised.value.status, raised.value.code) == (502, "http-502")


async def test_a_second_decision_raises_a_conflict_carrying_the_first(
    api: FakeApi, client: HotlineClient
) -> None:
    nid = uuid4()
    first = {
        "decision": "objected",
        "reason": "Resurfacing ends on 9 Dec.",
        "at": "2026-11-21T10:00:00.000Z",
        "operator": "dev",
    }
    api.on(
        "POST",
        f"{NOTICES}/{nid}/decision",
        problem(409, "already-decided", "already decided", decision=first),
    )

    with pytest.raises(Conflict) as raised:
        await client.acknowledge(CHANNEL, nid)

    assert raised.value.decision is not None
    assert raised.value.decision.decision is Decision.OBJECTED
    assert raised.value.decision.operator == "dev"


async def test_acknowledge_object_and_cancel_post_to_the_notices_actions(
    api: FakeApi, client: HotlineClient
) -> None:
    nid = uuid4()
    for action in ("decision", "cancellation", "receipt"):
        api.on("POST", f"{NOTICES}/{nid}/{action}", httpx.Response(200, json=notice_json(nid)))

    await client.acknowledge(CHANNEL, nid)
    await client.object(CHANNEL, nid, "Resurfacing ends on 9 Dec.")
    await client.cancel(CHANNEL, nid, "postponed")
    await client.cancel(CHANNEL, nid)
    await client.receipt(CHANNEL, nid)

    assert [r.url.path.rsplit("/", 1)[1] for r in api.requests] == [
        "decision",
        "decision",
        "cancellation",
        "cancellation",
        "receipt",
    ]
    assert api.body(0)["decision"] == "acknowledged"
    assert (api.body(1)["decision"], api.body(1)["reason"]) == (
        "objected",
        "Resurfacing ends on 9 Dec.",
    )
    assert api.body(2) == {"reason": "postponed"}
    assert api.body(3) == {}


async def test_notices_follows_the_cursors_across_pages_with_the_filters(
    api: FakeApi, client: HotlineClient
) -> None:
    pages = [
        httpx.Response(200, json={"items": [notice_json(seq=3)], "next_cursor": "c1"}),
        httpx.Response(200, json={"items": [notice_json(seq=2)], "next_cursor": "c2"}),
        httpx.Response(200, json={"items": [notice_json(seq=1)], "next_cursor": None}),
    ]
    api.on("GET", NOTICES, *pages)

    found = [
        n.seq
        async for n in client.notices(
            CHANNEL, status=Status.SENT, priority=Priority.URGENT, sent_by="water", page_size=1
        )
    ]

    assert found == [3, 2, 1]
    params = [dict(r.url.params) for r in api.requests]
    assert [p.get("cursor") for p in params] == [None, "c1", "c2"]
    assert params[0] == {"status": "sent", "priority": "urgent", "sent_by": "water", "limit": "1"}


async def test_the_inbox_holds_only_the_other_partys_notices_awaiting_a_decision(
    api: FakeApi, client: HotlineClient
) -> None:
    theirs, ours = notice_json(sender="water"), notice_json(sender="roads")
    api.on("GET", "/api/v1/me", httpx.Response(200, json=ME))
    api.on("GET", NOTICES, httpx.Response(200, json={"items": [theirs, ours], "next_cursor": None}))

    inbox = await client.inbox(CHANNEL)

    assert [str(n.id) for n in inbox] == [theirs["id"]]
    assert api.requests[-1].url.params["awaiting_decision"] == "true"


async def test_the_log_is_read_a_page_at_a_time_up_to_its_head(
    api: FakeApi, client: HotlineClient
) -> None:
    events = "/api/v1/channels/water-roads/events"
    api.on(
        "GET",
        events,
        httpx.Response(200, json={"events": [event_json(3), event_json(4)], "head": 5}),
        httpx.Response(200, json={"events": [event_json(5)], "head": 5}),
    )

    seqs = [e.seq async for e in client.log(CHANNEL, after=2)]

    assert seqs == [3, 4, 5]
    assert [r.url.params["after"] for r in api.requests] == ["2", "4"]


async def test_a_notice_the_schema_refuses_is_refused_before_it_is_sent(
    api: FakeApi, client: HotlineClient
) -> None:
    with pytest.raises(Invalid) as raised:
        await client.send(CHANNEL, subject="")

    assert raised.value.errors[0]["field"] == "subject"
    assert raised.value.notice_id is not None
    assert api.requests == []


async def test_channel_ids_are_quoted_in_paths(api: FakeApi, client: HotlineClient) -> None:
    with pytest.raises(NotFound):
        await client.channel("a/b")

    assert api.requests[0].url.raw_path == b"/api/v1/channels/a%2Fb"


def test_sending_over_rest_and_over_the_socket_take_the_same_arguments() -> None:
    assert inspect.signature(Subscription.send) == inspect.signature(HotlineClient.send)


def test_back_off_grows_exponentially_up_to_its_cap_with_full_jitter() -> None:
    backoff = Backoff(base=0.1, cap=1.0)

    for attempt, bound in [(0, 0.1), (1, 0.2), (3, 0.8), (4, 1.0), (100, 1.0)]:
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= bound for d in delays)
        assert max(delays) > bound / 2  # jittered across the range, not pinned at zero


# -- the socket: a protocol fake on 127.0.0.1 -------------------------------------------------

TOKENS = {"tok-carla": ("carla", "roads"), "tok-ana": ("ana", "water")}


@dataclass
class Session:
    """One connection to the fake, and what its client said."""

    ws: ServerConnection
    party: str
    subscribed: dict[str, int] = field(default_factory=dict)


class FakeHotline:
    """Speaks the Hotline socket protocol from a log in memory; commands are recorded."""

    def __init__(self) -> None:
        self.log: list[dict[str, Any]] = []
        self.signer_key, self.log_key = generate_key("fake.test")
        self.tree: list[dict[str, Any]] | None = None
        """What the fake's Merkle tree holds, when a test makes it differ from the log."""
        self.sessions: list[Session] = []
        self.subscriptions: asyncio.Queue[tuple[Session, str, int]] = asyncio.Queue()
        self.receipts: list[str] = []
        self.check_answers: list[str] = []
        self.commands: list[dict[str, Any]] = []
        self.subscribe_refs: list[str | None] = []
        self.hellos = 0
        self.answer: Callable[[dict[str, Any]], dict[str, Any] | None] = self.succeed
        self.receipt_answer: Callable[[dict[str, Any]], dict[str, Any] | None] = self.succeed
        self.check_answer: Callable[[dict[str, Any]], dict[str, Any] | None] = self.answered
        self.url = ""

    @staticmethod
    def succeed(command: dict[str, Any]) -> dict[str, Any] | None:
        notice = command["notice"]
        nid = UUID(notice["id"] if isinstance(notice, dict) else notice)
        return {
            "type": "result",
            "ref": command["ref"],
            "notice": notice_json(nid),
            "created": True,
        }

    @staticmethod
    def answered(command: dict[str, Any]) -> dict[str, Any]:
        check = check_json(UUID(command["check"]), answered=True)
        return {"type": "result", "ref": command["ref"], "check": check, "created": True}

    async def handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        assert ws.request.path == "/api/v1/ws"
        hello = json.loads(await ws.recv())
        self.hellos += 1
        if hello.get("type") != "hello" or hello.get("token") not in TOKENS:
            await ws.close(4401, "unauthenticated")
            return
        operator, party = TOKENS[hello["token"]]
        session = Session(ws, party)
        self.sessions.append(session)
        welcome = {
            "type": "welcome",
            "operator": {"id": operator, "name": operator.title()},
            "role": "operator",
            "party": {"id": party, "name": party.title()},
        }
        await ws.send(json.dumps(welcome))
        with contextlib.suppress(ConnectionClosed):  # the tests drop connections on purpose
            async for raw in ws:
                await self.on_message(session, json.loads(raw))

    async def on_message(self, session: Session, message: dict[str, Any]) -> None:
        match message["type"]:
            case "subscribe":
                self.subscribe_refs.append(message.get("ref"))
                await self.subscribe(
                    session, message["channel"], message["after"], ref=message.get("ref")
                )
            case "receipt":
                self.receipts.append(message["notice"])
                await session.ws.send(json.dumps(self.receipt_answer(message)))
            case "answer_check":
                self.check_answers.append(message["check"])
                answer = self.check_answer(message)
                if answer is not None:
                    await session.ws.send(json.dumps(answer))
            case _:
                self.commands.append(message)
                answer = self.answer(message)
                if answer is not None:
                    await session.ws.send(json.dumps(answer))

    async def subscribe(
        self, session: Session, channel: str, after: int, *, ref: str | None = None
    ) -> None:
        if channel != CHANNEL:
            error = {
                "type": "error",
                "ref": ref,
                "status": 404,
                "code": "not-found",
                "detail": "no channel",
            }
            await session.ws.send(json.dumps(error))
            return
        session.subscribed[channel] = after
        head = len(self.log)
        subscribed = {
            "type": "subscribed",
            "channel": channel,
            "head": head,
            "checkpoint": self.checkpoint(head),
        }
        await session.ws.send(json.dumps(subscribed))
        for event in self.log[after:]:
            message: dict[str, Any] = {"type": "event", "event": event}
            if event["seq"] == head:  # the last of the catch-up vouches for it all
                message["checkpoint"] = self.checkpoint(head)
            await session.ws.send(json.dumps(message))
        await self.subscriptions.put((session, channel, after))

    def checkpoint(self, size: int) -> str:
        """The fake's signed checkpoint of its first ``size`` events."""
        leaves = [event_hash(e) for e in (self.tree or self.log)[:size]]
        signed = Checkpoint(origin("fake.test", CHANNEL), size, merkle.root_hash(leaves))
        return sign_checkpoint(signed, self.signer_key)

    def rest(self, request: httpx.Request) -> httpx.Response:
        """The REST reads a verifying subscription makes (for ``httpx.MockTransport``)."""
        leaves = [event_hash(e) for e in (self.tree or self.log)]
        query = request.url.params
        path = request.url.path.removeprefix(f"/api/v1/channels/{CHANNEL}")
        if request.url.path == "/api/v1/log/key":
            key = {"name": "fake.test", "verifier_key": self.log_key}
            return httpx.Response(200, json={**key, "previous_verifier_key": None})
        if path == "/events":
            after, limit = int(query["after"]), int(query["limit"])
            page = self.log[after : after + limit]
            return httpx.Response(200, json={"events": page, "head": len(self.log)})
        if path == "/proofs/consistency":
            old, size = int(query["old_size"]), int(query["size"])
            hashes = merkle.consistency_proof(old, leaves[:size])
            body = {"old_size": old, "size": size, "hashes": [b64(h) for h in hashes]}
            return httpx.Response(200, json=body)
        if path == "/proofs/inclusion":
            seq, size = int(query["seq"]), int(query["size"])
            hashes = merkle.inclusion_proof(seq - 1, leaves[:size])
            return httpx.Response(
                200, json={"seq": seq, "size": size, "hashes": [b64(h) for h in hashes]}
            )
        return problem(404, "not-found", f"no {request.url.path}")

    def client(self, who: str = "tok-carla", **options: Any) -> HotlineClient:
        """A client of the fake: its socket for events, its REST reads in memory."""
        transport = httpx.MockTransport(self.rest)
        return HotlineClient(self.url, who, backoff=FAST, transport=transport, **options)

    def append(self, kind: str = "notice.sent", **fields: Any) -> dict[str, Any]:
        """Add an event to the log (not pushed: a subscriber reads it when it catches up)."""
        event = event_json(len(self.log) + 1, kind, **fields)
        self.log.append(event)
        return event

    def append_check(self, kind: str, check: UUID, *, party: str = "roads") -> dict[str, Any]:
        """Add an event of a liveness check (asking ``party``) to the log, not pushed."""
        event = check_event_json(len(self.log) + 1, kind, check, party=party)
        self.log.append(event)
        return event

    async def publish(self, kind: str = "notice.sent", **fields: Any) -> dict[str, Any]:
        """Add an event and push it to every live session."""
        event = self.append(kind, **fields)
        await self.push(event)
        return event

    async def push(self, event: dict[str, Any], session: Session | None = None) -> None:
        """Send an event as is (for duplicates) to one session or all."""
        for target in [session] if session else list(self.sessions):
            if CHANNEL in target.subscribed and target.ws.state is State.OPEN:
                checkpoint = self.checkpoint(event["seq"])
                message = {"type": "event", "event": event, "checkpoint": checkpoint}
                await target.ws.send(json.dumps(message))

    async def subscribed(self) -> tuple[Session, int]:
        """Wait for the next subscription; returns its session and ``after``."""
        async with asyncio.timeout(WAIT):
            session, _, after = await self.subscriptions.get()
        return session, after


@asynccontextmanager
async def fake_hotline() -> AsyncIterator[FakeHotline]:
    fake = FakeHotline()
    async with serve(fake.handle, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        fake.url = f"http://127.0.0.1:{port}"
        yield fake


@pytest.fixture
async def fake() -> AsyncIterator[FakeHotline]:
    async with fake_hotline() as running:
        yield running


def subscription(
    fake: FakeHotline, who: str = "tok-carla", connect: Connector | None = None, **options: Any
) -> Subscription:
    """A subscription to the fake's channel, as carla unless ``who`` names another token."""
    client = fake.client(who, timeout=WAIT, ws_connect=connect)
    return client.subscribe([CHANNEL], **options)


async def take(sub: Subscription, count: int) -> list[Event]:
    """The next ``count`` events, failing the test if they do not come in time."""
    async with asyncio.timeout(WAIT):
        return [await anext(sub) for _ in range(count)]


async def test_events_after_the_given_seq_arrive_in_order_then_live_ones(
    fake: FakeHotline,
) -> None:
    for _ in range(3):
        fake.append()

    async with subscription(fake, after=1) as sub:
        _, after = await fake.subscribed()
        await fake.publish()
        events = await take(sub, 3)

    assert after == 1
    assert [e.seq for e in events] == [2, 3, 4]


@pytest.mark.parametrize("code", [1001, 1011, 1012, 4429, None])
async def test_a_lost_connection_is_resumed_from_the_last_event_received(
    fake: FakeHotline, code: int | None
) -> None:
    fake.append()
    fake.append()

    async with subscription(fake) as sub:
        first, _ = await fake.subscribed()
        assert [e.seq for e in await take(sub, 2)] == [1, 2]
        fake.append()  # committed while the client is away
        if code is None:
            first.ws.transport.abort()  # the network fails: no closing handshake
        else:
            await first.ws.close(code, "going away")
        _, after = await fake.subscribed()
        await fake.publish()
        resumed = await take(sub, 2)

    assert after == 2
    assert [e.seq for e in resumed] == [3, 4]
    assert fake.hellos == 2


async def test_duplicate_and_stale_events_are_dropped(fake: FakeHotline) -> None:
    async with subscription(fake) as sub:
        session, _ = await fake.subscribed()
        one = await fake.publish()
        two = await fake.publish()
        for again in (two, one, two):
            await fake.push(again, session)
        three = await fake.publish()
        events = await take(sub, 3)

    assert [e.seq for e in events] == [1, 2, 3]
    assert events[2].data == three["data"]


async def test_the_resume_file_is_saved_after_each_event_and_read_at_the_start(
    fake: FakeHotline, tmp_path: Path
) -> None:
    resume = tmp_path / "seen.json"
    for _ in range(3):
        fake.append()

    async with subscription(fake, resume_file=resume) as sub:
        await fake.subscribed()
        await take(sub, 2)
        saved_while_handling = json.loads(resume.read_text())
        await take(sub, 1)
    saved_at_exit = json.loads(resume.read_text())

    async with subscription(fake, resume_file=resume, after=0) as again:
        _, after = await fake.subscribed()
        await fake.publish()
        later = await take(again, 1)

    # The second event was being handled: only the first counts as done.
    assert saved_while_handling["after"] == {CHANNEL: 1}
    assert saved_at_exit["after"] == {CHANNEL: 3}
    # Beside it, what was verified: the range of the handled events, the last checkpoint.
    audit = saved_at_exit["audit"]
    assert audit["log_key"] == fake.log_key
    assert audit["channels"][CHANNEL]["range"]["size"] == 3
    assert audit["channels"][CHANNEL]["checkpoint"] == fake.checkpoint(3)
    assert after == 3
    assert [e.seq for e in later] == [4]
    assert names_in(tmp_path) == ["seen.json"]  # no temporary file left behind


async def test_the_resume_file_is_written_off_the_event_loop(
    fake: FakeHotline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsync = os.fsync
    writers: list[threading.Thread] = []

    def recording_fsync(fd: int) -> None:
        writers.append(threading.current_thread())
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    fake.append()
    fake.append()

    async with subscription(fake, resume_file=tmp_path / "seen.json") as sub:
        await take(sub, 2)

    assert len(writers) == 2
    assert threading.main_thread() not in writers


def names_in(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


async def test_a_resume_file_this_client_did_not_write_is_refused(
    fake: FakeHotline, tmp_path: Path
) -> None:
    resume = tmp_path / "seen.json"
    resume.write_text('{"water-roads": "many"}')

    with pytest.raises(HotlineError, match="not a resume file"):
        subscription(fake, resume_file=resume)


async def test_close_4401_is_final_and_raised_to_the_reader(fake: FakeHotline) -> None:
    async with subscription(fake, who="tok-revoked") as sub:
        with pytest.raises(Closed) as raised:
            await take(sub, 1)

    assert raised.value.code == 4401
    assert fake.hellos == 1  # no retry


async def test_a_refused_websocket_handshake_is_final(fake: FakeHotline) -> None:
    attempts: list[str] = []

    async def refused(url: str) -> WebSocketLike:
        attempts.append(url)
        raise InvalidStatus(Response(404, "Not Found", Headers()))

    async with subscription(fake, connect=refused) as sub:
        with pytest.raises(Closed) as raised:
            await take(sub, 1)

    assert raised.value.code == 404
    assert attempts == [fake.url.replace("http://", "ws://") + "/api/v1/ws"]


async def test_a_server_that_cannot_be_reached_is_retried_until_it_answers(
    fake: FakeHotline,
) -> None:
    attempts = 0

    async def flaky(url: str) -> WebSocketLike:
        nonlocal attempts
        attempts += 1
        if attempts < 4:
            raise ConnectionRefusedError("connection refused")
        return await connect(url)

    fake.append()
    async with subscription(fake, connect=flaky) as sub:
        events = await take(sub, 1)

    assert [e.seq for e in events] == [1]
    assert attempts == 4


async def test_receipts_are_confirmed_once_for_each_notice_of_the_other_party(
    fake: FakeHotline,
) -> None:
    theirs, ours, later = uuid4(), uuid4(), uuid4()
    fake.append(notice=theirs, party="water")
    fake.append(notice=ours, party="roads")

    async with subscription(fake) as sub:
        first, _ = await fake.subscribed()
        await take(sub, 2)
        # Answers come in order: once this one is back, so is the receipt's.
        await sub.acknowledge(CHANNEL, theirs)
        await fake.push(fake.log[0], first)  # a duplicate must not be confirmed again
        await first.ws.close(1012, "restart")  # nor replayed after a reconnection
        await fake.subscribed()
        await fake.publish(notice=later, party="water")
        await take(sub, 1)
        # A command's answer comes after everything the client sent before it.
        await sub.acknowledge(CHANNEL, later)

    assert fake.receipts == [str(theirs), str(later)]


async def test_a_receipt_refused_as_too_many_commands_is_sent_again_with_the_next_event(
    fake: FakeHotline,
) -> None:
    theirs, ours = uuid4(), uuid4()
    refused: list[str] = []

    def busy_once(command: dict[str, Any]) -> dict[str, Any] | None:
        if not refused:
            refused.append(command["notice"])
            return {
                "type": "error",
                "ref": command["ref"],
                "status": 429,
                "code": "too-many-commands",
                "detail": "this socket has too many commands waiting",
            }
        return fake.succeed(command)

    fake.receipt_answer = busy_once
    fake.append(notice=theirs, party="water")

    async with subscription(fake) as sub:
        await take(sub, 1)
        # Answers come in order: once this one is back, so is the refusal of the receipt.
        await sub.acknowledge(CHANNEL, theirs)
        await fake.publish(notice=ours, party="roads")  # an event of the channel's: no receipt
        await take(sub, 1)
        await sub.acknowledge(CHANNEL, theirs)

    assert refused == [str(theirs)]
    assert fake.receipts == [str(theirs), str(theirs)]  # refused once, then confirmed


async def test_a_replayed_notice_that_was_received_already_gets_no_receipt(
    fake: FakeHotline,
) -> None:
    received, waiting = uuid4(), uuid4()
    fake.append(notice=received, party="water")
    fake.append("notice.received", notice=received, party="roads")
    fake.append(notice=waiting, party="water")

    async with subscription(fake) as sub:
        await take(sub, 3)
        await sub.acknowledge(CHANNEL, waiting)

    assert fake.receipts == [str(waiting)]


async def test_no_receipts_are_sent_when_not_asked_for(fake: FakeHotline) -> None:
    nid = uuid4()
    fake.append(notice=nid, party="water")

    async with subscription(fake, confirm_receipts=False) as sub:
        await take(sub, 1)
        await sub.acknowledge(CHANNEL, nid)

    assert fake.receipts == []


async def test_socket_commands_return_the_notice_from_their_result(fake: FakeHotline) -> None:
    nid = uuid4()
    async with subscription(fake) as sub:
        acknowledged = await sub.acknowledge(CHANNEL, nid)
        objected = await sub.object(CHANNEL, nid, "too early")
        cancelled = await sub.cancel(CHANNEL, nid, "postponed")
        received = await sub.receipt(CHANNEL, nid)
        sent = await sub.send(CHANNEL, subject="Mill Lane", notice_id=nid)

    assert {n.id for n in (acknowledged, objected, cancelled, received, sent)} == {nid}
    kinds = [(c["type"], c.get("decision"), c.get("reason")) for c in fake.commands]
    assert kinds == [
        ("decide", "acknowledged", None),
        ("decide", "objected", "too early"),
        ("cancel", None, "postponed"),
        ("send", None, None),
    ]
    refs = [c["ref"] for c in fake.commands]
    assert len(set(refs)) == len(refs)
    assert fake.commands[-1]["notice"]["id"] == str(nid)


async def test_a_refused_socket_command_raises_the_same_error_as_over_rest(
    fake: FakeHotline,
) -> None:
    first = {
        "decision": "acknowledged",
        "reason": None,
        "at": "2026-11-21T10:00:00.000Z",
        "operator": "dev",
    }
    fake.answer = lambda command: {
        "type": "error",
        "ref": command["ref"],
        "status": 409,
        "code": "already-decided",
        "detail": "already acknowledged by dev",
        "decision": first,
    }
    nid = uuid4()

    async with subscription(fake) as sub:
        with pytest.raises(Conflict) as raised:
            await sub.acknowledge(CHANNEL, nid)

    assert raised.value.code == "already-decided"
    assert raised.value.notice_id == nid
    assert raised.value.decision is not None
    assert raised.value.decision.operator == "dev"


async def test_a_command_in_flight_when_the_socket_drops_raises_connection_lost(
    fake: FakeHotline,
) -> None:
    arrived = asyncio.Event()

    def never_answer(command: dict[str, Any]) -> None:
        arrived.set()

    fake.answer = never_answer
    nid = uuid4()

    async with subscription(fake) as sub:
        session, _ = await fake.subscribed()
        pending = asyncio.create_task(sub.acknowledge(CHANNEL, nid))
        async with asyncio.timeout(WAIT):
            await arrived.wait()  # the server has the command: now the line drops
        await session.ws.close(1012, "restart")
        with pytest.raises(ConnectionLost) as raised:
            await pending

    assert raised.value.notice_id == nid
    assert not isinstance(raised.value, Closed)


async def test_a_refused_subscription_ends_the_subscription_with_the_error(
    fake: FakeHotline,
) -> None:
    client = fake.client("tok-carla")
    async with client.subscribe(["no-such-channel"]) as sub:
        with pytest.raises(NotFound):
            await take(sub, 1)


async def test_a_subscription_to_a_channel_with_a_64_character_id_is_refused_not_retried(
    fake: FakeHotline,
) -> None:
    unknown = "x" * 64  # as long as a channel id may be: no room for it in a ref
    client = fake.client("tok-carla")

    async with client.subscribe([unknown]) as sub:
        with pytest.raises(NotFound) as raised:
            await take(sub, 1)

    assert fake.hellos == 1
    assert fake.subscribe_refs == ["s1"]
    assert raised.value.__notes__ == [f"subscribing to the channel {unknown!r}"]


async def test_each_channel_gets_its_own_short_ref_and_a_refusal_names_the_channel(
    fake: FakeHotline,
) -> None:
    client = fake.client("tok-carla")
    async with client.subscribe([CHANNEL, "other"]) as sub:
        with pytest.raises(NotFound) as raised:
            await take(sub, 1)

    assert fake.subscribe_refs == ["s1", "s2"]
    assert raised.value.__notes__ == ["subscribing to the channel 'other'"]


def test_a_channel_id_no_subscribe_message_can_carry_is_refused_at_once() -> None:
    client = HotlineClient(URL, "tok-carla")

    with pytest.raises(ValueError, match="is not a channel id"):
        client.subscribe(["x" * 65])


async def test_an_error_of_the_clients_own_making_ends_the_subscription_instead_of_retrying(
    fake: FakeHotline,
) -> None:
    def strict_presence(channel: str, online: dict[str, list[str]]) -> None:
        TypeAdapter(dict[str, int]).validate_python(online)  # a bug: the wrong model

    async with subscription(fake, on_presence=strict_presence) as sub:
        session, _ = await fake.subscribed()
        await session.ws.send(
            json.dumps({"type": "presence", "channel": CHANNEL, "online": {"roads": ["carla"]}})
        )
        with pytest.raises(ValidationError):
            await take(sub, 1)

    assert fake.hellos == 1


class GarbledFirst:
    """A socket whose first message arrives garbled, as from a broken proxy."""

    def __init__(self, ws: WebSocketLike) -> None:
        self.ws = ws
        self.garbled = False

    async def send(self, message: str, /) -> None:
        await self.ws.send(message)

    async def recv(self) -> str | bytes:
        raw = await self.ws.recv()
        if not self.garbled:
            self.garbled = True
            return json.dumps({"type": "welcome", "operator": "?"})
        return raw

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)


async def test_a_garbled_welcome_is_retried_on_a_new_connection(fake: FakeHotline) -> None:
    connections = 0

    async def garbling_once(url: str) -> WebSocketLike:
        nonlocal connections
        connections += 1
        ws = await connect(url)
        return GarbledFirst(ws) if connections == 1 else ws

    fake.append()
    async with subscription(fake, connect=garbling_once) as sub:
        events = await take(sub, 1)

    assert [e.seq for e in events] == [1]
    assert fake.hellos == 2


async def test_an_error_answering_no_command_is_logged_and_the_subscription_goes_on(
    fake: FakeHotline, caplog: pytest.LogCaptureFixture
) -> None:
    async with subscription(fake) as sub:
        session, _ = await fake.subscribed()
        await session.ws.send(
            json.dumps(
                {"type": "error", "status": 422, "code": "invalid-message", "detail": "garbled"}
            )
        )
        await fake.publish()
        (event,) = await take(sub, 1)

    assert event.seq == 1
    assert "garbled" in caplog.text


async def test_presence_is_kept_by_channel_and_reported(fake: FakeHotline) -> None:
    seen: list[tuple[str, dict[str, list[str]]]] = []
    async with subscription(fake, on_presence=lambda c, o: seen.append((c, o))) as sub:
        session, _ = await fake.subscribed()
        online = {"roads": ["carla"], "water": ["ana"]}
        await session.ws.send(
            json.dumps({"type": "presence", "channel": CHANNEL, "online": online})
        )
        await fake.publish()
        await take(sub, 1)

    assert seen == [(CHANNEL, online)]
    assert sub.presence == {CHANNEL: online}


async def test_wait_connected_returns_the_welcome(fake: FakeHotline) -> None:
    async with subscription(fake) as sub:
        async with asyncio.timeout(WAIT):
            welcome = await sub.wait_connected()

        assert (welcome.operator.id, welcome.party.id) == ("carla", "roads")
        assert sub.connected


async def test_a_message_the_client_does_not_know_is_skipped(fake: FakeHotline) -> None:
    async with subscription(fake) as sub:
        session, _ = await fake.subscribed()
        await session.ws.send(json.dumps({"type": "news-from-the-future", "x": 1}))
        await fake.publish()
        events = await take(sub, 1)

    assert [e.seq for e in events] == [1]


async def test_a_resume_position_beyond_the_servers_log_is_refused(fake: FakeHotline) -> None:
    fake.append()

    async with subscription(fake, after=7, verify=False) as sub:
        with pytest.raises(HotlineError, match="not the log it was reading before"):
            await take(sub, 1)


async def test_a_verifying_client_resuming_beyond_the_servers_log_says_the_event_is_missing(
    fake: FakeHotline,
) -> None:
    fake.append()

    async with subscription(fake, after=7) as sub:
        with pytest.raises(LogTampered, match="event 7 is missing") as raised:
            await take(sub, 1)

    assert raised.value.seq == 7


async def test_an_event_that_differs_from_the_signed_log_is_refused_and_named(
    fake: FakeHotline,
) -> None:
    for _ in range(5):
        fake.append()
    fake.tree = list(fake.log)
    fake.log[2] = {**fake.log[2], "data": {"notice": str(uuid4())}}  # served, not signed

    async with subscription(fake) as sub:
        with pytest.raises(LogTampered, match="event 3 is not the event") as raised:
            await take(sub, 1)

    assert raised.value.seq == 3


async def test_a_server_showing_another_history_than_the_remembered_one_is_a_split_view(
    fake: FakeHotline, tmp_path: Path
) -> None:
    resume = tmp_path / "seen.json"
    for _ in range(3):
        fake.append()
    async with subscription(fake, resume_file=resume) as sub:
        await take(sub, 3)
    remembered = fake.checkpoint(3)
    fake.log = [event_json(seq) for seq in range(1, 5)]  # the same key, another history

    async with subscription(fake, resume_file=resume) as again:
        with pytest.raises(SplitView) as raised:
            await take(again, 1)

    assert raised.value.earlier == remembered
    assert raised.value.later == fake.checkpoint(4)


async def test_a_client_pinning_a_rotated_key_keeps_what_it_verified_with_the_old_one(
    fake: FakeHotline, tmp_path: Path
) -> None:
    resume = tmp_path / "seen.json"
    for _ in range(2):
        fake.append()
    async with subscription(fake, resume_file=resume) as sub:
        await take(sub, 2)
    old_key = fake.log_key
    fake.signer_key, fake.log_key = generate_key("fake.test")  # rotated, old file deleted

    async with subscription(fake, resume_file=resume) as unpinned:
        with pytest.raises(LogTampered, match="rotated the key"):
            await take(unpinned, 1)
    async with subscription(fake, resume_file=resume, log_key=fake.log_key) as pinned:
        await fake.subscribed()
        await fake.publish()
        later = await take(pinned, 1)

    assert [e.seq for e in later] == [3]
    assert json.loads(resume.read_text())["audit"]["log_key"] == fake.log_key != old_key


async def test_a_verification_read_failing_while_the_server_restarts_means_reconnecting(
    fake: FakeHotline,
) -> None:
    fake.append()
    answer = fake.rest
    failures = iter(range(4))  # more than the client's own retries of one request

    def restarting(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/log/key") and next(failures, None) is not None:
            return problem(503, "unavailable", "restarting")
        return answer(request)

    fake.rest = restarting  # type: ignore[method-assign]
    async with subscription(fake) as sub:
        events = await take(sub, 1)

    assert [e.seq for e in events] == [1]
    assert fake.hellos >= 2


# -- the policy, checks, availability and conflicts over REST --------------------------------

CHANNEL_PATH = f"/api/v1/channels/{CHANNEL}"
POLICY = {
    "ack_deadline_seconds": {"routine": 259200, "important": 86400, "urgent": 3600},
    "min_advance_notice_seconds": {"routine": 172800, "important": 14400, "urgent": 0},
    "require_signatures": False,
    "escalate_to": {"roads": ["dev"]},
    "checks": {"every_seconds": 3600, "answer_within_seconds": 300},
}


def proposal_json(proposal_id: UUID) -> dict[str, Any]:
    return {
        "id": str(proposal_id),
        "policy": POLICY,
        "party": "water",
        "operator": "ana",
        "proposed_at": "2026-11-21T09:30:00.000Z",
        "lapses_at": "2026-11-23T09:30:00.000Z",
    }


def policy_state_json(pending: UUID | None = None) -> dict[str, Any]:
    return {
        "in_force": POLICY,
        "policy_id": None,
        "since_seq": None,
        "pending": None if pending is None else proposal_json(pending),
    }


async def test_the_policy_in_force_and_the_proposal_waiting_are_read_from_the_channel(
    api: FakeApi, client: HotlineClient
) -> None:
    waiting = uuid4()
    api.on("GET", f"{CHANNEL_PATH}/policy", httpx.Response(200, json=policy_state_json(waiting)))

    state = await client.policy(CHANNEL)

    assert state.in_force.checks is not None
    assert state.in_force.checks.every_seconds == 3600
    assert state.in_force.chase[Priority.URGENT].reminders == 4  # the default, when not named
    assert state.pending is not None
    assert state.pending.id == waiting


async def test_a_proposal_carries_a_fresh_id_the_policy_and_when_it_lapses(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on(
        "POST",
        f"{CHANNEL_PATH}/policy/proposals",
        httpx.Response(201, json=proposal_json(uuid4())),
    )

    await client.propose_policy(CHANNEL, POLICY, lapses_in=timedelta(days=2))

    sent = api.body()
    assert UUID(sent["id"]).version == 4
    assert sent["lapses_in_seconds"] == 172800
    assert sent["policy"]["checks"] == POLICY["checks"]
    assert sent["policy"]["ack_deadline_seconds"] == POLICY["ack_deadline_seconds"]


async def test_a_proposal_lost_on_the_network_is_retried_with_the_same_id(
    api: FakeApi, client: HotlineClient
) -> None:
    pid = uuid4()
    api.on(
        "POST",
        f"{CHANNEL_PATH}/policy/proposals",
        httpx.ConnectError("connection reset"),
        httpx.Response(201, json=proposal_json(pid)),
    )

    proposal = await client.propose_policy(CHANNEL, POLICY, proposal_id=str(pid))

    assert proposal.id == pid
    assert [api.body(i)["id"] for i in range(2)] == [str(pid), str(pid)]


async def test_an_unreachable_server_names_the_proposal_id_to_retry_with(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on("POST", f"{CHANNEL_PATH}/policy/proposals", httpx.ConnectError("connection refused"))

    with pytest.raises(Unreachable) as raised:
        await client.propose_policy(CHANNEL, POLICY)

    assert f"retry with proposal id {api.body()['id']}" in str(raised.value)


async def test_a_policy_the_schema_refuses_is_refused_before_it_is_proposed(
    api: FakeApi, client: HotlineClient
) -> None:
    broken = {**POLICY, "ack_deadline_seconds": {"routine": 3600}}

    with pytest.raises(Invalid) as raised:
        await client.propose_policy(CHANNEL, broken)

    assert raised.value.code == "invalid-request"
    assert raised.value.errors[0]["field"] == "ack_deadline_seconds.important"
    assert api.requests == []


async def test_an_acceptance_is_retried_but_a_withdrawal_is_not(
    api: FakeApi, client: HotlineClient
) -> None:
    pid = uuid4()
    proposal = f"{CHANNEL_PATH}/policy/proposals/{pid}"
    api.on(
        "POST",
        f"{proposal}/accept",
        httpx.ConnectError("connection reset"),
        httpx.Response(200, json=policy_state_json()),
    )
    api.on("POST", f"{proposal}/withdraw", httpx.ConnectError("connection reset"))

    state = await client.accept_policy(CHANNEL, pid)
    with pytest.raises(Unreachable):
        await client.withdraw_policy(CHANNEL, str(pid))

    assert state.pending is None
    # Accepting the policy in force again changes nothing; a second withdrawal is refused.
    assert [r.url.path.rsplit("/", 1)[1] for r in api.requests] == ["accept", "accept", "withdraw"]


async def test_accepting_a_closed_proposal_raises_a_conflict_with_its_code(
    api: FakeApi, client: HotlineClient
) -> None:
    pid = uuid4()
    closed = problem(409, "proposal-closed", f"proposal {pid} lapsed")
    api.on("POST", f"{CHANNEL_PATH}/policy/proposals/{pid}/accept", closed)

    with pytest.raises(Conflict) as raised:
        await client.accept_policy(CHANNEL, pid)

    assert raised.value.code == "proposal-closed"


async def test_checks_follow_the_cursors_across_pages_for_one_party(
    api: FakeApi, client: HotlineClient
) -> None:
    newer, older = check_json(answered=True), check_json()
    api.on(
        "GET",
        f"{CHANNEL_PATH}/checks",
        httpx.Response(200, json={"items": [newer], "next_cursor": "k1"}),
        httpx.Response(200, json={"items": [older], "next_cursor": None}),
    )

    found = [c async for c in client.checks(CHANNEL, party="roads", page_size=1)]

    assert [str(c.id) for c in found] == [newer["id"], older["id"]]
    assert [c.status for c in found] == ["answered", "pending"]
    params = [dict(r.url.params) for r in api.requests]
    assert params == [
        {"party": "roads", "limit": "1"},
        {"party": "roads", "limit": "1", "cursor": "k1"},
    ]


async def test_a_check_answer_lost_on_the_network_is_retried(
    api: FakeApi, client: HotlineClient
) -> None:
    cid = uuid4()
    api.on(
        "POST",
        f"{CHANNEL_PATH}/checks/{cid}/answer",
        httpx.ConnectError("connection reset"),
        httpx.Response(200, json=check_json(cid, answered=True)),
    )

    check = await client.answer_check(CHANNEL, cid)

    assert (check.id, check.status, check.answered_in_ms) == (cid, "answered", 1234)
    assert len(api.requests) == 2


async def test_a_check_answered_too_late_raises_a_conflict_with_its_code(
    api: FakeApi, client: HotlineClient
) -> None:
    cid = uuid4()
    closed = problem(409, "check-closed", "too late")
    api.on("POST", f"{CHANNEL_PATH}/checks/{cid}/answer", closed)

    with pytest.raises(Conflict) as raised:
        await client.answer_check(CHANNEL, cid)

    assert raised.value.code == "check-closed"


async def test_availability_asks_for_the_range_in_utc(api: FakeApi, client: HotlineClient) -> None:
    since, until = "2026-11-01T00:00:00.000Z", "2026-11-21T00:00:00.000Z"
    parties = [
        {"party": p, "requested": 20, "answered": 19, "missed": 1, "pending": 0}
        | {"median_answer_ms": 850}
        for p in ("roads", "water")
    ]
    answer = {"since": since, "until": until, "parties": parties}
    api.on("GET", f"{CHANNEL_PATH}/availability", httpx.Response(200, json=answer))

    found = await client.availability(
        CHANNEL,
        since=datetime(2026, 11, 1, 1, tzinfo=timezone(timedelta(hours=1))),
        until=datetime(2026, 11, 21, tzinfo=UTC),
    )
    everything = await client.availability(CHANNEL)

    assert [p.missed for p in found.parties] == [1, 1]
    assert everything.since == found.since
    assert [dict(r.url.params) for r in api.requests] == [{"since": since, "until": until}, {}]


async def test_conflicts_are_asked_open_only_unless_told_otherwise(
    api: FakeApi, client: HotlineClient
) -> None:
    conflict = {
        "id": str(uuid4()),
        "channel": CHANNEL,
        "notices": [str(uuid4()), str(uuid4())],
        "area": "mill lane",
        "overlap": {"starts_at": "2026-12-07T07:00:00.000Z", "ends_at": "2026-12-08T17:00:00.000Z"},
        "detected_seq": 3,
        "detected_at": "2026-11-21T09:30:00.000Z",
    }
    api.on("GET", f"{CHANNEL_PATH}/conflicts", httpx.Response(200, json=[conflict]))

    (found,) = await client.conflicts(CHANNEL)
    await client.conflicts(CHANNEL, open_only=False, limit=500)

    assert found.area == "mill lane"
    assert found.resolved_at is None
    assert [dict(r.url.params) for r in api.requests] == [
        {"limit": "100", "open": "true"},
        {"limit": "500"},
    ]


async def test_a_notice_with_a_bounding_box_sends_it_and_one_without_sends_none(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on("POST", NOTICES, httpx.Response(201, json=notice_json()))

    await client.send(
        CHANNEL, subject="Mill Lane", area="Mill Lane", bbox=(-1.26, 51.75, -1.25, 51.76)
    )
    await client.send(CHANNEL, subject="Mill Lane", area="Mill Lane")

    assert api.body(0)["bbox"] == [-1.26, 51.75, -1.25, 51.76]
    assert "bbox" not in api.body(1)


async def test_a_bounding_box_south_of_its_south_is_refused_before_it_is_sent(
    api: FakeApi, client: HotlineClient
) -> None:
    with pytest.raises(Invalid):
        await client.send(CHANNEL, subject="Mill Lane", area="Mill Lane", bbox=(0, 10, 1, 5))

    assert api.requests == []


# -- answering liveness checks over the socket ------------------------------------------------


async def test_a_subscription_told_to_answers_each_check_of_its_own_party_once(
    fake: FakeHotline,
) -> None:
    ours, theirs, later = uuid4(), uuid4(), uuid4()
    fake.append_check("check.requested", ours, party="roads")
    fake.append_check("check.requested", theirs, party="water")

    async with subscription(fake, answer_checks=True) as sub:
        session, _ = await fake.subscribed()
        await take(sub, 2)
        await sub.acknowledge(CHANNEL, uuid4())  # answers come in order: a barrier
        await fake.push(fake.log[0], session)  # a duplicate is not answered again
        answered = fake.append_check("check.answered", ours)
        await fake.push(answered)
        event = fake.append_check("check.requested", later)
        await fake.push(event)
        await take(sub, 2)
        await sub.acknowledge(CHANNEL, uuid4())

    assert fake.check_answers == [str(ours), str(later)]


async def test_a_replayed_check_that_was_answered_or_missed_already_is_not_answered(
    fake: FakeHotline,
) -> None:
    answered, missed, waiting = uuid4(), uuid4(), uuid4()
    for check in (answered, missed, waiting):
        fake.append_check("check.requested", check)
    fake.append_check("check.answered", answered)
    fake.append_check("check.missed", missed)

    async with subscription(fake, answer_checks=True) as sub:
        await take(sub, 5)
        await sub.acknowledge(CHANNEL, uuid4())

    assert fake.check_answers == [str(waiting)]


async def test_a_check_answer_without_a_result_is_sent_again_after_a_reconnection(
    fake: FakeHotline,
) -> None:
    check = uuid4()
    arrived = asyncio.Event()

    def never_answer(command: dict[str, Any]) -> None:
        arrived.set()

    fake.check_answer = never_answer
    fake.append_check("check.requested", check)

    async with subscription(fake, answer_checks=True) as sub:
        first, _ = await fake.subscribed()
        await take(sub, 1)
        async with asyncio.timeout(WAIT):
            await arrived.wait()
        first.ws.transport.abort()
        await fake.subscribed()
        fake.check_answer = fake.answered
        await sub.acknowledge(CHANNEL, uuid4())

    assert fake.check_answers == [str(check), str(check)]


async def test_a_refused_check_answer_is_logged_and_the_subscription_goes_on(
    fake: FakeHotline, caplog: pytest.LogCaptureFixture
) -> None:
    check = uuid4()
    fake.check_answer = lambda command: {
        "type": "error",
        "ref": command["ref"],
        "status": 409,
        "code": "check-closed",
        "detail": f"check {check} had to be answered by 09:05",
    }
    fake.append_check("check.requested", check)

    async with subscription(fake, answer_checks=True) as sub:
        await take(sub, 1)
        await sub.acknowledge(CHANNEL, uuid4())
        await fake.publish()
        (event,) = await take(sub, 1)
        await sub.acknowledge(CHANNEL, uuid4())

    assert event.seq == 2
    assert fake.check_answers == [str(check)]  # not tried again: too late is too late
    assert f"could not answer check {check} on {CHANNEL}" in caplog.text


async def test_no_checks_are_answered_unless_asked_for(fake: FakeHotline) -> None:
    fake.append_check("check.requested", uuid4())

    async with subscription(fake) as sub:
        await take(sub, 1)
        await sub.acknowledge(CHANNEL, uuid4())

    assert fake.check_answers == []
