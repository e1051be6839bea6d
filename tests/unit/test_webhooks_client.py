"""The SDK's webhook and e-mail calls against a hand-written fake over ``httpx.MockTransport``:
the request each makes, what is tried again and what is not, the delivery log read a page
at a time; and the line ``hotline listen`` prints for ``webhook.disabled``.

Against the real server, the same calls are tested in
``tests/integration/test_webhooks_client.py`` and the commands in
``tests/e2e/test_webhooks_cli.py``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest

from client import Backoff, HotlineClient, Invalid, NotFound
from client.errors import ApiError
from client.event_lines import event_line
from client.protocol.schemas import Event
from client.protocol.times import parse_time
from client.protocol.vocabulary import EventType

URL = "http://hotline.test"
CHANNEL = "water-roads"
HOOKS = f"/api/v1/channels/{CHANNEL}/webhooks"
HOOK = "3f2a9c1e-7b4d-4e8f-9a10-6c5d4e3f2a1b"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwJk0sJm1Y0VE="
AT = "2026-11-21T09:00:00.000Z"
FAST = Backoff(base=0.001, cap=0.002)

WEBHOOK = {
    "id": HOOK,
    "channel": CHANNEL,
    "party": "water",
    "url": "https://ops.water.example/hotline",
    "types": ["notice.sent"],
    "enabled": True,
    "failures": 0,
    "disabled_reason": None,
    "previous_secret_until": None,
    "created_at": AT,
    "created_by": "wilma",
}
ME = {
    "operator": {"id": "wilma", "name": "Wilma Banks"},
    "role": "admin",
    "party": {"id": "water", "name": "Riverside Water"},
    "email": None,
}


def delivery(seq: int, status: str = "delivered") -> dict[str, Any]:
    return {
        "id": f"00000000-0000-4000-8000-{seq:012d}",
        "kind": "webhook",
        "channel": CHANNEL,
        "seq": seq,
        "event_type": "notice.sent",
        "target": HOOK,
        "status": status,
        "next_attempt_at": AT,
        "created_at": AT,
        "finished_at": AT,
        "last_error": None,
        "attempts": [{"at": AT, "ok": True, "status_code": 204, "error": None, "duration_ms": 12}],
    }


def problem(status: int, code: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"status": status, "code": code, "title": code, "detail": f"refused: {code}"},
        headers={"content-type": "application/problem+json"},
    )


@dataclass
class FakeApi:
    """Answers each (method, path) from its queue in turn, the last one for ever."""

    answers: dict[tuple[str, str], list[httpx.Response | Exception]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: httpx.Response | Exception) -> None:
        self.answers.setdefault((method, path), []).extend(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queued = self.answers.get((request.method, request.url.path))
        if not queued:
            return problem(404, "not-found")
        answer = queued.pop(0) if len(queued) > 1 else queued[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def asked(self) -> list[str]:
        return [
            f"{r.method} {r.url.path}{'?' if r.url.query else ''}{r.url.query.decode()}"
            for r in self.requests
        ]

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


async def test_adding_a_webhook_posts_its_url_and_types_and_answers_its_secret(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on("POST", HOOKS, httpx.Response(201, json={**WEBHOOK, "secret": SECRET}))

    made = await client.add_webhook(CHANNEL, WEBHOOK["url"], types=["notice.sent"])

    assert made.secret == SECRET
    assert str(made.id) == HOOK
    assert api.body() == {"url": WEBHOOK["url"], "types": ["notice.sent"]}


async def test_adding_and_rotating_are_not_tried_again_after_a_lost_answer(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on("POST", HOOKS, problem(503, "unavailable"))
    api.on("POST", f"{HOOKS}/{HOOK}/rotate", problem(503, "unavailable"))

    with pytest.raises(ApiError):
        await client.add_webhook(CHANNEL, WEBHOOK["url"])
    with pytest.raises(ApiError):
        await client.rotate_webhook_secret(CHANNEL, HOOK)

    assert api.asked() == [f"POST {HOOKS}", f"POST {HOOKS}/{HOOK}/rotate"]
    assert api.body(0) == {"url": WEBHOOK["url"], "types": []}
    assert api.body(1) == {"overlap_seconds": 86400}


async def test_a_refused_address_is_an_invalid_with_its_code(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on("POST", HOOKS, problem(422, "webhook-address-refused"))

    with pytest.raises(Invalid) as refused:
        await client.add_webhook(CHANNEL, "http://10.0.0.7/hook")

    assert refused.value.code == "webhook-address-refused"


async def test_rotating_sends_the_overlap_in_seconds_and_answers_the_new_secret(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on(
        "POST",
        f"{HOOKS}/{HOOK}/rotate",
        httpx.Response(200, json={"secret": SECRET, "previous_secret_until": None}),
    )

    rotated = await client.rotate_webhook_secret(CHANNEL, HOOK, overlap=timedelta(0))

    assert rotated.secret == SECRET
    assert rotated.previous_secret_until is None
    assert api.body() == {"overlap_seconds": 0}


async def test_updating_sends_only_what_changes_and_is_tried_again(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on(
        "PATCH",
        f"{HOOKS}/{HOOK}",
        problem(502, "bad-gateway"),
        httpx.Response(200, json={**WEBHOOK, "enabled": False}),
    )

    changed = await client.update_webhook(CHANNEL, HOOK, enabled=False)

    assert changed.enabled is False
    assert api.asked() == [f"PATCH {HOOKS}/{HOOK}", f"PATCH {HOOKS}/{HOOK}"]
    assert api.body() == {"enabled": False}


async def test_the_reads_list_show_and_a_removal_reads_its_empty_answer(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on("GET", HOOKS, httpx.TransportError("reset"), httpx.Response(200, json=[WEBHOOK]))
    api.on("GET", f"{HOOKS}/{HOOK}", httpx.Response(200, json=WEBHOOK))
    api.on("DELETE", f"{HOOKS}/{HOOK}", httpx.Response(204))

    listed = await client.webhooks(CHANNEL)
    shown = await client.webhook(CHANNEL, HOOK.upper())
    await client.remove_webhook(CHANNEL, HOOK)

    assert [str(w.id) for w in listed] == [HOOK]
    assert shown.url == WEBHOOK["url"]
    assert api.asked() == [
        f"GET {HOOKS}",
        f"GET {HOOKS}",
        f"GET {HOOKS}/{HOOK}",
        f"DELETE {HOOKS}/{HOOK}",
    ]


async def test_a_removal_is_not_tried_again(api: FakeApi, client: HotlineClient) -> None:
    api.on("DELETE", f"{HOOKS}/{HOOK}", problem(503, "unavailable"), problem(404, "not-found"))

    with pytest.raises(ApiError):
        await client.remove_webhook(CHANNEL, HOOK)

    assert len(api.requests) == 1


async def test_a_webhook_id_that_is_not_a_uuid_is_refused_before_anything_is_sent(
    api: FakeApi, client: HotlineClient
) -> None:
    with pytest.raises(ValueError, match="UUID"):
        await client.webhook(CHANNEL, "../deliveries")

    assert api.requests == []


async def test_the_delivery_log_is_read_a_page_at_a_time_following_next_before(
    api: FakeApi, client: HotlineClient
) -> None:
    pages = [
        {"items": [delivery(9), delivery(8)], "next_before": "c-8"},
        {"items": [delivery(7, "failed")], "next_before": None},
    ]
    api.on(
        "GET",
        f"{HOOKS}/{HOOK}/deliveries",
        *(httpx.Response(200, json=page) for page in pages),
    )

    found = [d async for d in client.webhook_deliveries(CHANNEL, HOOK, page_size=2)]

    assert [(d.seq, d.status) for d in found] == [(9, "delivered"), (8, "delivered"), (7, "failed")]
    assert found[0].attempts[0].status_code == 204
    assert api.asked() == [
        f"GET {HOOKS}/{HOOK}/deliveries?limit=2",
        f"GET {HOOKS}/{HOOK}/deliveries?limit=2&before=c-8",
    ]


async def test_the_channels_deliveries_may_be_only_mail(
    api: FakeApi, client: HotlineClient
) -> None:
    mail = {**delivery(3), "kind": "mail", "target": "operator:wilma"}
    api.on(
        "GET",
        f"/api/v1/channels/{CHANNEL}/deliveries",
        httpx.Response(200, json={"items": [mail], "next_before": None}),
    )

    found = [d async for d in client.deliveries(CHANNEL, kind="mail")]

    assert [(d.kind, d.target) for d in found] == [("mail", "operator:wilma")]
    assert api.asked() == [f"GET /api/v1/channels/{CHANNEL}/deliveries?kind=mail&limit=50"]


async def test_set_email_puts_the_signed_in_operators_address_and_clear_deletes_it(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on("GET", "/api/v1/me", httpx.Response(200, json=ME))
    api.on(
        "PUT",
        "/api/v1/operators/wilma/email",
        httpx.Response(200, json={"operator": "wilma", "email": "wilma@water.example"}),
    )
    api.on("DELETE", "/api/v1/operators/wilma/email", httpx.Response(204))

    set_ = await client.set_email("wilma@water.example")
    cleared = await client.clear_email()

    assert set_.email == "wilma@water.example"
    assert cleared.email is None
    assert api.asked() == [
        "GET /api/v1/me",
        "PUT /api/v1/operators/wilma/email",
        "GET /api/v1/me",
        "DELETE /api/v1/operators/wilma/email",
    ]
    assert api.body(1) == {"email": "wilma@water.example"}


async def test_an_admin_sets_another_operators_address_tried_again_after_a_failure(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on(
        "PUT",
        "/api/v1/operators/ben/email",
        httpx.TransportError("reset"),
        httpx.Response(200, json={"operator": "ben", "email": "ben@water.example"}),
    )

    found = await client.set_operator_email("ben", "ben@water.example")

    assert found.email == "ben@water.example"
    assert len(api.requests) == 2


async def test_an_operator_of_another_party_is_not_found(
    api: FakeApi, client: HotlineClient
) -> None:
    api.on("PUT", "/api/v1/operators/carla/email", problem(404, "not-found"))

    with pytest.raises(NotFound):
        await client.set_operator_email("carla", "carla@roads.example")


async def test_an_address_too_long_is_refused_before_it_is_sent(
    api: FakeApi, client: HotlineClient
) -> None:
    with pytest.raises(ApiError) as refused:
        await client.set_operator_email("ben", "b" * 250 + "@water.example")

    assert refused.value.status == 422
    assert api.requests == []


def test_a_disabled_webhook_is_one_line_naming_it_its_party_and_why() -> None:
    event = Event(
        channel=CHANNEL,
        seq=42,
        type=EventType.WEBHOOK_DISABLED,
        at=parse_time(AT),
        actor=None,
        data={"webhook": HOOK, "party": "water", "failures": 10, "reason": "503 ten times"},
    )

    assert event_line(event) == (
        f"#42 {AT} webhook.disabled by server  webhook {HOOK}  of water disabled after 10 "
        "given up in a row: 503 ten times"
    )
