"""Operator signatures through the app and a real database (guarantee 8).

Ana (water) and Carla (roads) register their keys in the channel's log, sign what they
say, and the other side checks it from the log as served: against the keys the log
registers, or against keys it pinned out of band. A retried send is a repeat only if it is
signed as the logged one was.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import Connection

from client.protocol import note
from client.protocol.schemas import DecisionRequest, NoticeDraft
from client.protocol.signatures import check_signatures, sign_decision, sign_draft
from client.protocol.vocabulary import Decision
from client.sdk import HotlineClient
from server.domain.model import Policy
from server.service import admin, demo
from server.store.db import Database
from server.store.migrate import alembic_config
from tests.integration.conftest import Api

CHANNEL = demo.CHANNEL
STRICT = "water-roads-signed"
ANA_SIGNER, ANA_KEY = note.generate_key("ana")
CARLA_SIGNER, CARLA_KEY = note.generate_key("carla")


def keys_path(channel: str = CHANNEL) -> str:
    return f"/api/v1/channels/{channel}/keys"


async def register(api: Api, operator: str, key: str, channel: str = CHANNEL) -> httpx.Response:
    return await api.post(operator, keys_path(channel), {"verifier_key": key})


def signed_draft(signer: str = ANA_SIGNER, channel: str = CHANNEL, **fields: Any) -> NoticeDraft:
    draft = NoticeDraft(id=uuid.uuid4(), subject="Water main renewal, Mill Lane", **fields)
    return sign_draft(draft, channel=channel, party="water", signer=signer)


async def send(api: Api, draft: NoticeDraft, channel: str = CHANNEL) -> httpx.Response:
    body = draft.model_dump(mode="json", exclude_none=True)
    return await api.post("ana", f"/api/v1/channels/{channel}/notices", body)


async def decide(
    api: Api, notice_id: str, request: DecisionRequest, channel: str = CHANNEL
) -> httpx.Response:
    path = f"/api/v1/channels/{channel}/notices/{notice_id}/decision"
    return await api.post("carla", path, request.model_dump(mode="json", exclude_none=True))


def signed_ack(notice_id: str, channel: str = CHANNEL) -> DecisionRequest:
    request = DecisionRequest(decision=Decision.ACKNOWLEDGED)
    return sign_decision(
        request, channel=channel, party="roads", notice=uuid.UUID(notice_id), signer=CARLA_SIGNER
    )


async def log_of(api: Api, channel: str) -> list[dict[str, Any]]:
    response = await api.get("carla", f"/api/v1/channels/{channel}/events")
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


@pytest.fixture
async def strict(db: Database, api: Api) -> str:
    """A second channel between the demo's parties whose policy requires signatures."""
    policy = Policy(require_signatures=True)
    await admin.create_channel(db, STRICT, parties=("water", "roads"), policy=policy)
    return STRICT


# -- registering keys -----------------------------------------------------------------------


async def test_a_registered_key_is_an_event_in_the_channels_log(api: Api) -> None:
    response = await register(api, "ana", ANA_KEY)

    assert response.status_code == 201, response.text
    registered = response.json()
    assert registered["operator"] == "ana"
    assert registered["verifier_key"] == ANA_KEY
    (event,) = await api.log("carla")
    assert event["seq"] == registered["seq"] == 1
    assert event["type"] == "operator.key_registered"
    assert event["actor"] == {"party": "water", "operator": "ana"}
    assert event["data"] == {"operator": "ana", "verifier_key": ANA_KEY}
    assert event["at"] == registered["registered_at"]


async def test_registering_the_key_in_force_again_changes_nothing(api: Api) -> None:
    first = await register(api, "ana", ANA_KEY)
    again = await register(api, "ana", ANA_KEY)

    assert again.status_code == 200
    assert again.json() == first.json()
    assert len(await api.log()) == 1


async def test_a_new_key_is_logged_and_takes_over(api: Api) -> None:
    new_signer, new_key = note.generate_key("ana")
    await register(api, "ana", ANA_KEY)
    await register(api, "ana", new_key)

    old = await send(api, signed_draft(ANA_SIGNER))
    new = await send(api, signed_draft(new_signer))

    assert old.status_code == 422
    assert old.json()["code"] == "bad-signature"
    assert new.status_code == 201
    assert check_signatures(await api.log()).keys == {"ana": [ANA_KEY, new_key]}


async def test_a_key_named_after_another_operator_is_refused(api: Api) -> None:
    response = await register(api, "ana", CARLA_KEY)

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "bad-key"
    assert problem["errors"] == [{"field": "verifier_key", "message": problem["detail"]}]
    assert await api.log() == []


@pytest.mark.parametrize("key", ["ana", "ana+00000000+AAAA", ANA_SIGNER, ""])
async def test_a_malformed_key_is_refused_and_nothing_is_logged(api: Api, key: str) -> None:
    response = await register(api, "ana", key)

    assert response.status_code == 422
    assert response.json()["code"] == "bad-key"
    assert ANA_SIGNER not in response.text  # a secret key sent by mistake is not echoed
    assert await api.log() == []


async def test_a_key_cannot_be_registered_on_another_partys_channel(api: Api, db: Database) -> None:
    await admin.create_party(db, "parks", name="Parks")
    await admin.create_channel(db, "roads-parks", parties=("roads", "parks"))

    response = await register(api, "ana", ANA_KEY, channel="roads-parks")

    assert response.status_code == 404


# -- signed notices and decisions -----------------------------------------------------------


async def test_a_signed_notice_is_accepted_and_its_signature_is_in_the_log(api: Api) -> None:
    await register(api, "ana", ANA_KEY)
    draft = signed_draft(body="One lane closed.", area="Mill Lane", priority="important")

    response = await send(api, draft)

    assert response.status_code == 201, response.text
    sent = (await api.log())[-1]
    assert sent["type"] == "notice.sent"
    assert sent["data"]["signature"] == draft.signature


async def test_a_forged_signature_is_refused_and_nothing_is_logged(api: Api) -> None:
    await register(api, "ana", ANA_KEY)
    mallory, _ = note.generate_key("ana")  # a key with ana's name that is not hers
    forged = signed_draft(mallory)

    response = await send(api, forged)

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "bad-signature"
    assert problem["errors"][0]["field"] == "signature"
    assert [e["type"] for e in await api.log()] == ["operator.key_registered"]
    missing = await api.get("ana", f"/api/v1/channels/{CHANNEL}/notices/{forged.id}")
    assert missing.status_code == 404


async def test_a_signature_of_other_content_is_refused(api: Api) -> None:
    await register(api, "ana", ANA_KEY)
    signed = signed_draft()
    altered = signed.model_copy(update={"subject": "Water main renewal, Mill Road"})

    response = await send(api, altered)

    assert response.status_code == 422
    assert response.json()["code"] == "bad-signature"


async def test_a_signature_from_an_operator_without_a_key_is_refused(api: Api) -> None:
    response = await send(api, signed_draft())

    assert response.status_code == 422
    assert "registered no key" in response.json()["detail"]
    assert await api.log() == []


async def test_a_signed_acknowledgement_is_accepted_and_kept(api: Api) -> None:
    await register(api, "ana", ANA_KEY)
    await register(api, "carla", CARLA_KEY)
    notice_id = (await send(api, signed_draft())).json()["id"]
    request = signed_ack(notice_id)

    response = await decide(api, notice_id, request)

    assert response.status_code == 200, response.text
    decided = (await api.log())[-1]
    assert decided["type"] == "notice.acknowledged"
    assert decided["data"]["signature"] == request.signature


async def test_a_forged_objection_is_refused_and_the_notice_stays_undecided(api: Api) -> None:
    await register(api, "carla", CARLA_KEY)
    notice_id = (await api.send("ana")).json()["id"]
    mallory, _ = note.generate_key("carla")
    objection = DecisionRequest(decision=Decision.OBJECTED, reason="Resurfacing that week.")
    forged = sign_decision(
        objection, channel=CHANNEL, party="roads", notice=uuid.UUID(notice_id), signer=mallory
    )

    response = await decide(api, notice_id, forged)

    assert response.status_code == 422
    assert response.json()["code"] == "bad-signature"
    notice = await api.get("carla", f"/api/v1/channels/{CHANNEL}/notices/{notice_id}")
    assert notice.json()["decision"] is None
    assert [e["type"] for e in await api.log()] == ["operator.key_registered", "notice.sent"]


# -- retries --------------------------------------------------------------------------------


async def test_a_signed_retry_of_an_unsigned_send_is_a_conflict(api: Api) -> None:
    await register(api, "ana", ANA_KEY)
    signed = signed_draft()
    unsigned = signed.model_copy(update={"signature": None})
    first = await send(api, unsigned)

    retry = await send(api, signed)

    assert first.status_code == 201, first.text
    assert retry.status_code == 409
    assert retry.json()["code"] == "notice-id-conflict"
    assert "signature" not in (await api.log())[-1]["data"]


async def test_an_unsigned_retry_of_a_signed_send_is_a_conflict(api: Api) -> None:
    await register(api, "ana", ANA_KEY)
    signed = signed_draft()
    await send(api, signed)

    retry = await send(api, signed.model_copy(update={"signature": None}))

    assert retry.status_code == 409
    assert retry.json()["code"] == "notice-id-conflict"


async def test_a_signed_retry_is_a_repeat_even_after_the_operator_registered_a_new_key(
    api: Api,
) -> None:
    _, new_key = note.generate_key("ana")
    await register(api, "ana", ANA_KEY)
    signed = signed_draft()
    first = await send(api, signed)
    await register(api, "ana", new_key)

    retry = await send(api, signed)

    assert retry.status_code == 200, retry.text
    assert retry.json() == first.json()
    notices = [e for e in await api.log() if e["type"] == "notice.sent"]
    assert [e["data"]["signature"] for e in notices] == [signed.signature]


async def test_a_repeated_signed_decision_is_told_the_first_stands_after_a_new_key(
    api: Api,
) -> None:
    _, new_key = note.generate_key("carla")
    await register(api, "carla", CARLA_KEY)
    notice_id = (await api.send("ana")).json()["id"]
    request = signed_ack(notice_id)
    await decide(api, notice_id, request)
    await register(api, "carla", new_key)

    again = await decide(api, notice_id, request)

    assert again.status_code == 409
    assert again.json()["code"] == "already-decided"


# -- the policy -----------------------------------------------------------------------------


async def test_a_channels_policy_says_whether_it_requires_signatures(api: Api, strict: str) -> None:
    channels = {c["id"]: c for c in (await api.get("ana", "/api/v1/channels")).json()}

    assert channels[CHANNEL]["policy"]["require_signatures"] is False
    assert channels[strict]["policy"]["require_signatures"] is True


async def test_a_channel_requiring_signatures_refuses_an_unsigned_notice(
    api: Api, strict: str
) -> None:
    response = await api.send("ana", channel=strict)

    assert response.status_code == 422
    assert response.json()["code"] == "signature-required"
    assert await log_of(api, strict) == []


async def test_a_channel_requiring_signatures_refuses_an_unsigned_decision(
    api: Api, strict: str
) -> None:
    await register(api, "ana", ANA_KEY, channel=strict)
    notice_id = (await send(api, signed_draft(channel=strict), channel=strict)).json()["id"]

    unsigned = await decide(api, notice_id, DecisionRequest(decision=Decision.ACKNOWLEDGED), strict)
    await register(api, "carla", CARLA_KEY, channel=strict)
    signed = await decide(api, notice_id, signed_ack(notice_id, channel=strict), strict)

    assert unsigned.status_code == 422
    assert unsigned.json()["code"] == "signature-required"
    assert signed.status_code == 200, signed.text


async def test_receipts_and_cancellations_need_no_signature_on_a_strict_channel(
    api: Api, strict: str
) -> None:
    await register(api, "ana", ANA_KEY, channel=strict)
    notice_id = (await send(api, signed_draft(channel=strict), channel=strict)).json()["id"]
    base = f"/api/v1/channels/{strict}/notices/{notice_id}"

    receipt = await api.post("carla", f"{base}/receipt")
    cancel = await api.post("ana", f"{base}/cancellation", {"reason": "Postponed."})

    assert (receipt.status_code, cancel.status_code) == (200, 200)


async def test_a_key_registered_on_one_channel_does_not_sign_on_another(
    api: Api, strict: str
) -> None:
    await register(api, "ana", ANA_KEY, channel=CHANNEL)

    response = await send(api, signed_draft(channel=strict), channel=strict)

    assert response.status_code == 422
    assert response.json()["code"] == "bad-signature"


# -- what the other party checks ------------------------------------------------------------


async def test_the_other_party_verifies_every_signature_from_the_served_log(api: Api) -> None:
    await register(api, "ana", ANA_KEY)
    await register(api, "carla", CARLA_KEY)
    signed = (await send(api, signed_draft())).json()["id"]
    await decide(api, signed, signed_ack(signed))
    await api.send("ana")  # unsigned, on a channel that allows it
    await api.act("carla", signed, "receipt")

    report = check_signatures(await api.log("carla"))

    assert (report.signed, report.unsigned, report.failures) == (2, 1, [])
    assert report.keys == {"ana": [ANA_KEY], "carla": [CARLA_KEY]}
    assert [(operator, key) for _, operator, key in report.registrations] == [
        ("ana", ANA_KEY),
        ("carla", CARLA_KEY),
    ]


async def test_the_other_party_pinning_the_senders_key_verifies_the_served_log(api: Api) -> None:
    await register(api, "ana", ANA_KEY)
    await send(api, signed_draft())

    report = check_signatures(await api.log("carla"), pinned={"ana": [ANA_KEY]})

    assert (report.signed, report.failures) == (1, [])


async def test_a_served_log_whose_key_the_other_party_did_not_pin_fails(api: Api) -> None:
    other_signer, other_key = note.generate_key("ana")
    await register(api, "ana", other_key)
    await send(api, signed_draft(other_signer))

    report = check_signatures(await api.log("carla"), pinned={"ana": [ANA_KEY]})

    assert [seq for seq, _ in report.failures] == [1, 2]
    assert report.failures[0][1].startswith("the log registers a key for ana that you did not pin")


async def test_the_sdk_signs_registers_and_decides_with_its_signing_key(api: Api) -> None:
    transport = api.client._transport  # the app itself, in process
    base = str(api.client.base_url)
    async with (
        HotlineClient(base, api.tokens["ana"], transport=transport, signing_key=ANA_SIGNER) as ana,
        HotlineClient(
            base, api.tokens["carla"], transport=transport, signing_key=CARLA_SIGNER
        ) as carla,
    ):
        registered = await ana.register_key(CHANNEL)
        await carla.register_key(CHANNEL)
        notice = await ana.send(CHANNEL, subject="Water main renewal, Mill Lane", area="Mill Lane")
        await carla.object(CHANNEL, notice.id, "Resurfacing that week.")
        events = [event.model_dump(mode="json") async for event in carla.log(CHANNEL)]

    assert registered.verifier_key == ANA_KEY
    report = check_signatures(events)
    assert (report.signed, report.unsigned, report.failures) == (2, 0, [])


async def test_notices_signed_before_the_signature_column_existed_still_repeat(
    api: Api, db: Database
) -> None:
    await register(api, "ana", ANA_KEY)
    signed = signed_draft()
    await send(api, signed)

    def back_and_forth(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), "0003")  # drops notices.signature
        command.upgrade(alembic_config(connection), "head")  # fills it in from the log

    async with db.engine.begin() as connection:
        await connection.run_sync(back_and_forth)
    retry = await send(api, signed)

    assert retry.status_code == 200, retry.text
