"""Operator signatures: what is signed, by whom, and how a log's signatures are checked.

The bytes an operator signs are computed three ways (the client from its draft, the
server from the domain event it is about to log, an auditor from the served event); the
tests check that the three agree, and that a tampered, forged, misattributed or unknown
signature is told apart from a good one. A checker that pinned an operator's key out of
band catches a key the log registers behind the operator's back.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from client.drafts import build_draft
from client.protocol import note, signatures
from client.protocol.schemas import ActivityWindow, DecisionRequest, NoticeDraft
from client.protocol.signatures import (
    SignatureError,
    check_signatures,
    decision_content,
    event_content,
    notice_content,
    sign,
    sign_decision,
    sign_draft,
    verify,
)
from client.protocol.vocabulary import Decision, Priority, Role, Status
from server.domain import rules
from server.domain.events import NoticeDecided, NoticeSent
from server.domain.model import ActivityWindow as DomainWindow
from server.domain.model import Actor, Channel, Notice, NoticeContent

CHANNEL = "water-roads"
NOTICE = UUID("6f1c3c1e-8a51-4a8e-9a57-3f0d2c4b9e10")
NOW = datetime(2026, 11, 21, 9, 30, 0, 123000, tzinfo=UTC)
ANA_SIGNER, ANA_VERIFIER = note.generate_key("ana")
CARLA_SIGNER, CARLA_VERIFIER = note.generate_key("carla")
MALLORY_SIGNER, _ = note.generate_key("ana")  # another key that claims ana's name


def draft(**changes: Any) -> NoticeDraft:
    fields: dict[str, Any] = {
        "id": NOTICE,
        "subject": "Water main renewal, Mill Lane",
        "body": "Open trench on the north lane.",
        "priority": Priority.IMPORTANT,
        # Another zone and finer digits than the wire keeps: the schema normalises both.
        "activity": ActivityWindow(
            starts_at=datetime.fromisoformat("2026-12-07T08:00:00.123456+01:00"),
            ends_at=datetime.fromisoformat("2026-12-11T17:00:00Z"),
        ),
        "area": "Mill Lane, numbers 2-40",
        "ack_required": True,
        "client_time": datetime.fromisoformat("2026-11-21T10:29:59.9999+01:00"),
        **changes,
    }
    return NoticeDraft(**fields)


def registration(seq: int, operator: str, key: str, *, party: str = "water") -> dict[str, Any]:
    return {
        "channel": CHANNEL,
        "seq": seq,
        "type": "operator.key_registered",
        "at": "2026-11-21T09:00:00.000Z",
        "actor": {"party": party, "operator": operator},
        "data": {"operator": operator, "verifier_key": key},
    }


def served(
    event: NoticeSent | NoticeDecided, seq: int, operator: str, party: str
) -> dict[str, Any]:
    """A domain event as the API serves it: its data goes through JSON, as in the store."""
    return {
        "channel": CHANNEL,
        "seq": seq,
        "type": str(event.type),
        "at": "2026-11-21T09:30:00.123Z",
        "actor": {"party": party, "operator": operator},
        "data": json.loads(json.dumps(event.data())),
    }


def sent_event(
    signed: NoticeDraft, *, operator: str = "ana", key: str = ANA_VERIFIER, seq: int = 2
) -> dict[str, Any]:
    """What the server logs for ``signed``: built by the domain, as the service builds it."""
    channel = Channel(id=CHANNEL, parties=("water", "roads"))
    command = rules.SendNotice(
        signed.id,
        NoticeContent(
            subject=signed.subject,
            body=signed.body,
            priority=signed.priority,
            activity=None
            if signed.activity is None
            else DomainWindow(signed.activity.starts_at, signed.activity.ends_at),
            area=signed.area,
            ack_required=signed.ack_required,
            refers_to=signed.refers_to,
        ),
        client_time=signed.client_time,
        signature=signed.signature,
    )
    actor = Actor(party="water", operator=operator, role=Role.OPERATOR)
    (event,) = rules.decide(command, channel=channel, actor=actor, notice=None, now=NOW, key=key)
    assert isinstance(event, NoticeSent)
    return served(event, seq, operator, "water")


def decided_event(request: DecisionRequest, *, seq: int = 3) -> dict[str, Any]:
    event = NoticeDecided(
        NOTICE,
        NOW,
        "roads",
        "carla",
        request.decision,
        reason=request.reason,
        client_time=request.client_time,
        signature=request.signature,
    )
    return served(event, seq, "carla", "roads")


def signed_log() -> list[dict[str, Any]]:
    """ana registers, signs a notice; carla registers, signs an acknowledgement."""
    request = DecisionRequest(decision=Decision.ACKNOWLEDGED, client_time=NOW)
    return [
        registration(1, "ana", ANA_VERIFIER),
        sent_event(sign_draft(draft(), channel=CHANNEL, party="water", signer=ANA_SIGNER)),
        registration(3, "carla", CARLA_VERIFIER, party="roads"),
        decided_event(
            sign_decision(
                request, channel=CHANNEL, party="roads", notice=NOTICE, signer=CARLA_SIGNER
            ),
            seq=4,
        ),
    ]


# -- what is signed -------------------------------------------------------------------------


def test_a_signature_made_by_the_client_verifies_with_the_operators_key() -> None:
    content = notice_content(draft(), channel=CHANNEL, party="water", operator="ana")
    verify(ANA_VERIFIER, content, sign(ANA_SIGNER, content))


def test_the_signed_bytes_are_canonical_json_of_the_clients_own_fields() -> None:
    content = json.loads(notice_content(draft(), channel=CHANNEL, party="water", operator="ana"))
    assert content == {
        "channel": CHANNEL,
        "type": "notice.sent",
        "party": "water",
        "operator": "ana",
        "notice": str(NOTICE),
        "subject": "Water main renewal, Mill Lane",
        "body": "Open trench on the north lane.",
        "priority": "important",
        "activity": {
            "starts_at": "2026-12-07T07:00:00.123Z",
            "ends_at": "2026-12-11T17:00:00.000Z",
        },
        "area": "Mill Lane, numbers 2-40",
        "ack_required": True,
        "refers_to": None,
        "client_time": "2026-11-21T09:29:59.999Z",
    }


def test_client_server_and_auditor_compute_the_same_bytes_for_a_notice() -> None:
    signed = sign_draft(draft(), channel=CHANNEL, party="water", signer=ANA_SIGNER)
    by_client = notice_content(signed, channel=CHANNEL, party="water", operator="ana")
    event = sent_event(signed)  # the server refuses unless its own bytes verify
    assert event_content(event) == by_client
    assert event["data"]["signature"] == signed.signature


def test_client_and_auditor_compute_the_same_bytes_for_a_decision() -> None:
    request = DecisionRequest(decision=Decision.OBJECTED, reason="Resurfacing that week.")
    signed = sign_decision(
        request, channel=CHANNEL, party="roads", notice=NOTICE, signer=CARLA_SIGNER
    )
    by_client = decision_content(
        signed, channel=CHANNEL, party="roads", notice=NOTICE, operator="carla"
    )
    assert event_content(decided_event(signed)) == by_client


def test_an_acknowledgement_signature_cannot_pass_for_an_objection() -> None:
    ack = DecisionRequest(decision=Decision.ACKNOWLEDGED, reason="Fine.")
    signed = sign_decision(ack, channel=CHANNEL, party="roads", notice=NOTICE, signer=CARLA_SIGNER)
    objection = DecisionRequest(decision=Decision.OBJECTED, reason="Fine.")
    as_objection = decision_content(
        objection, channel=CHANNEL, party="roads", notice=NOTICE, operator="carla"
    )
    assert signed.signature is not None
    with pytest.raises(SignatureError, match="bad signature"):
        verify(CARLA_VERIFIER, as_objection, signed.signature)


def test_server_chosen_fields_are_not_signed() -> None:
    event = sent_event(sign_draft(draft(), channel=CHANNEL, party="water", signer=ANA_SIGNER))
    later = copy.deepcopy(event)
    later["at"], later["seq"] = "2030-01-01T00:00:00.000Z", 99
    later["data"]["ack_due_at"] = "2030-01-02T00:00:00.000Z"
    assert event_content(later) == event_content(event)


def test_receipts_and_cancellations_are_not_signed() -> None:
    with pytest.raises(ValueError, match="not signed"):
        signatures.signed_content(
            channel=CHANNEL, event_type="notice.received", party="roads", operator="carla", data={}
        )


@pytest.mark.parametrize(
    "signature",
    ["", "not base64!", "AAAA", "QUJD" * 23, "QUJD" * 22 + "QQ=="],
    ids=["empty", "not-base64", "too-short", "too-long", "wrong-length"],
)
def test_a_malformed_signature_is_refused_as_malformed(signature: str) -> None:
    content = notice_content(draft(), channel=CHANNEL, party="water", operator="ana")
    with pytest.raises(SignatureError, match="malformed"):
        verify(ANA_VERIFIER, content, signature)


def test_a_signature_by_another_key_is_refused_as_an_unknown_key() -> None:
    content = notice_content(draft(), channel=CHANNEL, party="water", operator="ana")
    with pytest.raises(SignatureError, match="unknown key"):
        verify(ANA_VERIFIER, content, sign(MALLORY_SIGNER, content))


def test_signing_never_shows_the_secret_key() -> None:
    # PRIVATE+KEY+name+keyid+base64: the base64 may itself hold a "+", so split from the left
    secret = ANA_SIGNER.split("+", 4)[4]
    signer = note.Signer.parse(ANA_SIGNER)
    assert secret not in repr(signer)
    signed = sign_draft(draft(), channel=CHANNEL, party="water", signer=signer)
    assert secret not in signed.model_dump_json()


# -- checking a log -------------------------------------------------------------------------


def test_a_log_of_good_signatures_checks_out() -> None:
    report = check_signatures(signed_log())
    assert (report.signed, report.unsigned, report.failures) == (2, 0, [])
    assert report.keys == {"ana": [ANA_VERIFIER], "carla": [CARLA_VERIFIER]}
    assert report.registrations == [(1, "ana", ANA_VERIFIER), (3, "carla", CARLA_VERIFIER)]
    assert report.ok
    assert [check.status for check in report.checks] == ["valid", "valid"]


def test_unsigned_events_are_counted_not_failed() -> None:
    log = signed_log()
    del log[1]["data"]["signature"]
    report = check_signatures(log)
    assert (report.signed, report.unsigned, report.failures) == (1, 1, [])


def test_events_of_other_types_are_neither_signed_nor_unsigned() -> None:
    receipt = {
        "channel": CHANNEL,
        "seq": 5,
        "type": "notice.received",
        "at": "2026-11-21T09:31:00.000Z",
        "actor": {"party": "roads", "operator": "carla"},
        "data": {"notice": str(NOTICE)},
    }
    overdue = {**receipt, "seq": 6, "type": "notice.overdue", "actor": None}
    report = check_signatures([*signed_log(), receipt, overdue])
    assert (report.signed, report.unsigned, report.failures) == (2, 0, [])


@pytest.mark.parametrize(
    ("field", "value"),
    [("subject", "Water main renewal, Mill Road"), ("priority", "urgent"), ("client_time", None)],
)
def test_tampered_content_is_flagged_as_a_bad_signature(field: str, value: Any) -> None:
    log = signed_log()
    log[1]["data"][field] = value
    report = check_signatures(log)
    assert report.failures == [(2, "bad signature: it does not match the signed content")]
    assert report.signed == 1


def test_a_notice_attributed_to_another_operator_is_flagged() -> None:
    log = signed_log()
    log[1]["actor"]["operator"] = "carla"  # carla has no key yet at seq 2
    report = check_signatures(log)
    assert report.failures == [(2, "unknown key: operator carla had registered no key")]


def test_a_forged_signature_is_flagged() -> None:
    log = signed_log()
    forged = sign(MALLORY_SIGNER, event_content(log[1]))  # right name, wrong key
    log[1]["data"]["signature"] = forged
    (failure,) = check_signatures(log).failures
    assert failure[0] == 2
    assert failure[1].startswith("unknown key: signed with key")


def test_a_signature_before_any_key_is_registered_is_flagged() -> None:
    log = signed_log()
    log[0], log[1] = {**log[1], "seq": 1}, {**log[0], "seq": 2}
    report = check_signatures(log)
    assert report.failures == [(1, "unknown key: operator ana had registered no key")]


def test_a_key_not_named_after_its_operator_is_flagged_and_not_learnt() -> None:
    log = signed_log()
    log[0] = registration(1, "ana", CARLA_VERIFIER)
    report = check_signatures(log)
    assert report.failures == [
        (1, "key name carla is not the registering operator ana"),
        (2, "unknown key: operator ana had registered no key"),
    ]
    assert "ana" not in report.keys


def test_a_malformed_key_registration_is_flagged() -> None:
    log = signed_log()
    log[0] = registration(1, "ana", "ana+00000000+nonsense")
    assert check_signatures(log).failures[0][0] == 1
    assert check_signatures(log).failures[0][1].startswith("malformed key")


def test_a_new_key_does_not_invalidate_signatures_made_before_it() -> None:
    new_signer, new_verifier = note.generate_key("ana")
    later = sign_draft(draft(id=UUID(int=7)), channel=CHANNEL, party="water", signer=new_signer)
    log = [
        *signed_log(),
        registration(5, "ana", new_verifier),
        sent_event(later, key=new_verifier, seq=6),
    ]
    report = check_signatures(log)
    assert (report.signed, report.failures) == (3, [])
    assert report.keys["ana"] == [ANA_VERIFIER, new_verifier]


def test_after_a_new_key_the_old_one_no_longer_counts() -> None:
    _, new_verifier = note.generate_key("ana")
    old = sign_draft(draft(id=UUID(int=8)), channel=CHANNEL, party="water", signer=ANA_SIGNER)
    # A server that let the old key through anyway: the auditor still catches it.
    log = [*signed_log(), registration(5, "ana", new_verifier), sent_event(old, seq=6)]
    (failure,) = check_signatures(log).failures
    assert failure[0] == 6
    assert failure[1].startswith("unknown key")


def test_a_key_registered_again_later_changes_nothing_before_it() -> None:
    log = [*signed_log(), registration(5, "ana", ANA_VERIFIER)]
    report = check_signatures(log)
    assert (report.signed, report.failures) == (2, [])
    assert report.keys["ana"] == [ANA_VERIFIER, ANA_VERIFIER]


def test_a_notice_with_only_a_subject_verifies_its_nulls_and_defaults_too() -> None:
    notice = Notice(
        id=NOTICE,
        channel=CHANNEL,
        sender_party="water",
        sender_operator="ana",
        content=NoticeContent(subject="Short"),
        status=Status.SENT,
        sent_at=NOW,
        ack_due_at=NOW + timedelta(days=3),
    )
    content = signatures.signed_content(
        channel=CHANNEL,
        event_type="notice.sent",
        party="water",
        operator="ana",
        data=NoticeSent(notice).data(),
    )
    event = served(NoticeSent(notice, signature=sign(ANA_SIGNER, content)), 2, "ana", "water")
    report = check_signatures([registration(1, "ana", ANA_VERIFIER), event])
    assert (report.signed, report.failures) == (1, [])


def test_every_key_registration_is_listed_in_log_order_for_a_person_to_review() -> None:
    _, new_verifier = note.generate_key("ana")
    log = [*signed_log(), registration(5, "ana", new_verifier)]
    assert check_signatures(log).registrations == [
        (1, "ana", ANA_VERIFIER),
        (3, "carla", CARLA_VERIFIER),
        (5, "ana", new_verifier),
    ]


# -- party binding --------------------------------------------------------------------------


def test_the_signed_bytes_name_the_party_so_one_partys_signature_cannot_pass_for_the_others() -> (
    None
):
    as_water = notice_content(draft(), channel=CHANNEL, party="water", operator="ana")
    as_roads = notice_content(draft(), channel=CHANNEL, party="roads", operator="ana")
    with pytest.raises(SignatureError, match="bad signature"):
        verify(ANA_VERIFIER, as_roads, sign(ANA_SIGNER, as_water))


def test_a_notice_logged_for_another_party_than_its_operators_key_is_flagged() -> None:
    log = signed_log()
    log[1]["actor"]["party"] = "roads"  # ana's words, attributed to the other party
    report = check_signatures(log)
    assert report.failures == [(2, "key of ana was registered for party water, not roads")]
    assert report.signed == 1


def test_a_notice_signed_for_another_party_fails_even_under_a_matching_registration() -> None:
    # A server that also logged ana's key as the roads party's: the signature still says water.
    log = signed_log()
    log[0] = registration(1, "ana", ANA_VERIFIER, party="roads")
    log[1]["actor"]["party"] = "roads"
    report = check_signatures(log)
    assert report.failures == [(2, "bad signature: it does not match the signed content")]


def test_a_key_registration_that_names_no_party_is_flagged_and_not_learnt() -> None:
    log = signed_log()
    log[0]["actor"] = {"party": None, "operator": "ana"}
    report = check_signatures(log)
    assert report.failures == [
        (1, "the registration of a key of ana names no party"),
        (2, "unknown key: operator ana had registered no key"),
    ]


# -- pinned keys ----------------------------------------------------------------------------


def test_a_log_whose_keys_are_the_pinned_ones_checks_out() -> None:
    pinned = {"ana": [ANA_VERIFIER], "carla": [CARLA_VERIFIER]}
    report = check_signatures(signed_log(), pinned=pinned)
    assert (report.signed, report.failures) == (2, [])


def test_a_key_the_log_registers_behind_a_pinned_operators_back_is_flagged_with_its_events() -> (
    None
):
    server_signer, server_verifier = note.generate_key("ana")  # the server's own "ana" key
    forged = sign_draft(draft(id=UUID(int=9)), channel=CHANNEL, party="water", signer=server_signer)
    log = [
        *signed_log(),
        registration(5, "ana", server_verifier),
        sent_event(forged, key=server_verifier, seq=6),
    ]
    report = check_signatures(log, pinned={"ana": [ANA_VERIFIER]})
    assert report.failures == [
        (5, f"the log registers a key for ana that you did not pin: {server_verifier}"),
        (6, "unpinned key: the key of ana in force is not one you pinned"),
    ]
    assert report.signed == 2
    assert report.registrations[-1] == (5, "ana", server_verifier)


def test_without_a_pin_the_same_log_checks_out_so_only_a_pin_catches_a_server_made_key() -> None:
    server_signer, server_verifier = note.generate_key("ana")
    forged = sign_draft(draft(id=UUID(int=9)), channel=CHANNEL, party="water", signer=server_signer)
    log = [
        *signed_log(),
        registration(5, "ana", server_verifier),
        sent_event(forged, key=server_verifier, seq=6),
    ]
    assert check_signatures(log).failures == []


def test_every_pinned_key_of_an_operator_is_accepted_so_a_rotation_can_be_pinned() -> None:
    new_signer, new_verifier = note.generate_key("ana")
    later = sign_draft(draft(id=UUID(int=7)), channel=CHANNEL, party="water", signer=new_signer)
    log = [
        *signed_log(),
        registration(5, "ana", new_verifier),
        sent_event(later, key=new_verifier, seq=6),
    ]
    report = check_signatures(log, pinned={"ana": [ANA_VERIFIER, new_verifier]})
    assert (report.signed, report.failures) == (3, [])


def test_operators_without_a_pin_are_checked_against_the_log_alone() -> None:
    report = check_signatures(signed_log(), pinned={"ana": [ANA_VERIFIER]})
    assert (report.signed, report.failures) == (2, [])


def test_a_pinned_key_named_after_another_operator_is_refused() -> None:
    with pytest.raises(ValueError, match="pinned for ana, but named carla"):
        check_signatures(signed_log(), pinned={"ana": [CARLA_VERIFIER]})


def test_a_malformed_pinned_key_is_refused() -> None:
    with pytest.raises(note.NoteError):
        check_signatures(signed_log(), pinned={"ana": ["ana+00000000+nonsense"]})


def test_a_client_cannot_sign_without_the_party_it_speaks_for() -> None:
    signer = note.Signer.parse(ANA_SIGNER)
    with pytest.raises(ValueError, match="party"):
        build_draft(
            subject="Short",
            body="",
            priority=Priority.ROUTINE,
            activity=None,
            area=None,
            ack_required=True,
            refers_to=None,
            notice_id=NOTICE,
            channel=CHANNEL,
            signer=signer,
        )
