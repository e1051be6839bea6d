"""The rules on signatures: registering keys, checking signed notices and decisions, policy.

The rules are handed the operator's key in force (the service reads it from the log); a
signature they accept is the one an auditor later accepts from the served event. A retried
send is a repeat only if it is signed as the logged one was.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from client.protocol import note
from client.protocol.signatures import check_signatures, sign, signed_content
from client.protocol.vocabulary import Decision, EventType
from server.domain.errors import (
    AlreadyDecided,
    BadKey,
    BadSignature,
    Forbidden,
    IdempotencyConflict,
    SignatureRequired,
)
from server.domain.events import NoticeDecided, NoticeSent, OperatorKeyRegistered, evolve
from server.domain.model import Policy
from server.domain.rules import (
    Cancel,
    Decide,
    RecordReceipt,
    RegisterKey,
    SendNotice,
    decide,
    register_key,
)
from tests.unit.builders import (
    CHANNEL,
    CONTENT,
    NOTICE_ID,
    NOW,
    ROADS_OPERATOR,
    WATER_OBSERVER,
    WATER_OPERATOR,
    sent,
)

ADA_SIGNER, ADA_KEY = note.generate_key("ada")
BEN_SIGNER, BEN_KEY = note.generate_key("ben")
STRICT = replace(CHANNEL, policy=Policy(require_signatures=True))
LATER = NOW + timedelta(hours=1)


def signature_of(event: NoticeSent | NoticeDecided, signer: str, operator: str) -> str:
    """What a client holding ``signer`` sends for ``event``, as an operator of its party."""
    content = signed_content(
        channel=CHANNEL.id,
        event_type=event.type,
        party=str(event.party),
        operator=operator,
        data=event.data(),
    )
    return sign(signer, content)


def signed_send(signer: str = ADA_SIGNER) -> SendNotice:
    unsigned = decide(
        SendNotice(NOTICE_ID, CONTENT), channel=CHANNEL, actor=WATER_OPERATOR, notice=None, now=NOW
    )[0]
    assert isinstance(unsigned, NoticeSent)
    return SendNotice(NOTICE_ID, CONTENT, signature=signature_of(unsigned, signer, "ada"))


def signed_ack(signer: str = BEN_SIGNER) -> Decide:
    unsigned = NoticeDecided(NOTICE_ID, LATER, "roads", "ben", Decision.ACKNOWLEDGED)
    return Decide(NOTICE_ID, Decision.ACKNOWLEDGED, signature=signature_of(unsigned, signer, "ben"))


def served(event: Any, seq: int) -> dict[str, Any]:
    return {
        "channel": CHANNEL.id,
        "seq": seq,
        "type": str(event.type),
        "actor": {"party": event.party, "operator": event.operator},
        "data": json.loads(json.dumps(event.data())),
    }


# -- registering keys -----------------------------------------------------------------------


def test_an_operator_registers_a_key_named_after_itself() -> None:
    (event,) = register_key(
        RegisterKey(ADA_KEY), channel=CHANNEL, actor=WATER_OPERATOR, key=None, now=NOW
    )
    assert event == OperatorKeyRegistered(NOW, "water", "ada", ADA_KEY)
    assert event.type is EventType.OPERATOR_KEY_REGISTERED
    assert event.data() == {"operator": "ada", "verifier_key": ADA_KEY}


def test_registering_the_key_in_force_again_logs_nothing() -> None:
    command = RegisterKey(ADA_KEY)
    assert register_key(command, channel=CHANNEL, actor=WATER_OPERATOR, key=ADA_KEY, now=NOW) == []


def test_a_new_key_replaces_the_one_in_force() -> None:
    _, new_key = note.generate_key("ada")
    command = RegisterKey(new_key)
    events = register_key(command, channel=CHANNEL, actor=WATER_OPERATOR, key=ADA_KEY, now=NOW)
    assert [event.verifier_key for event in events] == [new_key]


def test_a_key_named_after_another_operator_is_refused() -> None:
    with pytest.raises(BadKey, match="named after it"):
        register_key(RegisterKey(BEN_KEY), channel=CHANNEL, actor=WATER_OPERATOR, key=None, now=NOW)


@pytest.mark.parametrize("key", ["", "ada", "ada+00000000+AAAA", ADA_SIGNER])
def test_a_malformed_key_is_refused(key: str) -> None:
    with pytest.raises(BadKey) as refused:
        register_key(RegisterKey(key), channel=CHANNEL, actor=WATER_OPERATOR, key=None, now=NOW)
    assert refused.value.code == "bad-key"
    assert refused.value.field == "verifier_key"


def test_an_observer_cannot_register_a_key() -> None:
    observer_key = note.generate_key(WATER_OBSERVER.operator)[1]
    with pytest.raises(Forbidden):
        register_key(
            RegisterKey(observer_key), channel=CHANNEL, actor=WATER_OBSERVER, key=None, now=NOW
        )


# -- signed notices and decisions -----------------------------------------------------------


def test_a_signed_notice_is_logged_with_its_signature() -> None:
    command = signed_send()
    (event,) = decide(
        command, channel=CHANNEL, actor=WATER_OPERATOR, notice=None, now=NOW, key=ADA_KEY
    )
    assert isinstance(event, NoticeSent)
    assert event.data()["signature"] == command.signature


def test_an_unsigned_notice_has_no_signature_member() -> None:
    (event,) = decide(
        SendNotice(NOTICE_ID, CONTENT), channel=CHANNEL, actor=WATER_OPERATOR, notice=None, now=NOW
    )
    assert "signature" not in event.data()


def test_a_signature_by_a_key_other_than_the_one_in_force_is_refused() -> None:
    _, other_key = note.generate_key("ada")
    with pytest.raises(BadSignature, match="unknown key") as refused:
        decide(
            signed_send(),
            channel=CHANNEL,
            actor=WATER_OPERATOR,
            notice=None,
            now=NOW,
            key=other_key,
        )
    assert refused.value.code == "bad-signature"


def test_a_signature_from_an_operator_with_no_key_is_refused() -> None:
    with pytest.raises(BadSignature, match="registered no key"):
        decide(signed_send(), channel=CHANNEL, actor=WATER_OPERATOR, notice=None, now=NOW)


def test_a_signature_of_other_content_is_refused() -> None:
    command = replace(signed_send(), content=replace(CONTENT, subject="Something else"))
    with pytest.raises(BadSignature, match="bad signature"):
        decide(command, channel=CHANNEL, actor=WATER_OPERATOR, notice=None, now=NOW, key=ADA_KEY)


def test_a_signature_made_for_another_time_of_sending_still_holds() -> None:
    # The server's clock is not signed: a retry a minute later carries the same signature.
    later = NOW + timedelta(minutes=1)
    events = decide(
        signed_send(), channel=CHANNEL, actor=WATER_OPERATOR, notice=None, now=later, key=ADA_KEY
    )
    assert len(events) == 1


def logged(command: SendNotice, key: str = ADA_KEY) -> Any:
    """The notice as the store keeps it once ``command`` was logged."""
    (event,) = decide(command, channel=CHANNEL, actor=WATER_OPERATOR, notice=None, now=NOW, key=key)
    return evolve(None, event)


def test_a_false_signature_is_refused_even_on_a_retry() -> None:
    forged = replace(signed_send(), signature=signed_send(BEN_SIGNER).signature)
    with pytest.raises(BadSignature):
        decide(
            forged,
            channel=CHANNEL,
            actor=WATER_OPERATOR,
            notice=logged(signed_send()),
            now=NOW,
            key=ADA_KEY,
        )


def test_the_stored_notice_keeps_the_senders_signature() -> None:
    command = signed_send()
    assert logged(command).signature == command.signature


def test_a_signed_retry_of_an_unsigned_send_is_a_conflict_not_a_repeat() -> None:
    with pytest.raises(IdempotencyConflict) as refused:
        decide(
            signed_send(),
            channel=CHANNEL,
            actor=WATER_OPERATOR,
            notice=sent(),
            now=NOW,
            key=ADA_KEY,
        )
    assert refused.value.code == "notice-id-conflict"


def test_an_unsigned_retry_of_a_signed_send_is_a_conflict_not_a_repeat() -> None:
    unsigned = SendNotice(NOTICE_ID, CONTENT)
    with pytest.raises(IdempotencyConflict):
        decide(
            unsigned, channel=CHANNEL, actor=WATER_OPERATOR, notice=logged(signed_send()), now=NOW
        )


def test_a_retry_with_the_stored_signature_is_a_repeat_even_after_a_new_key() -> None:
    _, new_key = note.generate_key("ada")
    events = decide(
        signed_send(),
        channel=CHANNEL,
        actor=WATER_OPERATOR,
        notice=logged(signed_send()),
        now=LATER,
        key=new_key,
    )
    assert events == []


def test_a_retry_signed_anew_with_the_key_in_force_is_a_repeat() -> None:
    new_signer, new_key = note.generate_key("ada")
    events = decide(
        signed_send(new_signer),
        channel=CHANNEL,
        actor=WATER_OPERATOR,
        notice=logged(signed_send()),
        now=LATER,
        key=new_key,
    )
    assert events == []


def test_a_signed_acknowledgement_is_logged_with_its_signature() -> None:
    command = signed_ack()
    events = decide(
        command, channel=CHANNEL, actor=ROADS_OPERATOR, notice=sent(), now=LATER, key=BEN_KEY
    )
    assert [event.type for event in events] == [
        EventType.NOTICE_RECEIVED,
        EventType.NOTICE_ACKNOWLEDGED,
    ]
    assert events[1].data()["signature"] == command.signature
    assert "signature" not in events[0].data()  # the implied receipt is the server's word


def test_a_repeated_signed_decision_is_told_the_first_stands_even_after_a_new_key() -> None:
    _, new_key = note.generate_key("ben")
    decided = evolve(
        sent(),
        decide(
            signed_ack(),
            channel=CHANNEL,
            actor=ROADS_OPERATOR,
            notice=sent(),
            now=LATER,
            key=BEN_KEY,
        )[-1],
    )
    with pytest.raises(AlreadyDecided):
        decide(
            signed_ack(),
            channel=CHANNEL,
            actor=ROADS_OPERATOR,
            notice=decided,
            now=LATER,
            key=new_key,
        )


def test_a_signature_made_for_the_other_party_is_refused() -> None:
    # ada's words as if the roads party had said them: the server computes the bytes with
    # the sender's own party, so a signature made for another party does not verify.
    unsigned = NoticeSent(replace(sent(), sender_party="roads"))
    command = replace(signed_send(), signature=signature_of(unsigned, ADA_SIGNER, "ada"))
    with pytest.raises(BadSignature, match="bad signature"):
        decide(command, channel=CHANNEL, actor=WATER_OPERATOR, notice=None, now=NOW, key=ADA_KEY)


def test_what_the_rules_accept_an_auditor_accepts_from_the_log() -> None:
    register = register_key(
        RegisterKey(ADA_KEY), channel=CHANNEL, actor=WATER_OPERATOR, key=None, now=NOW
    )
    (notice_sent,) = decide(
        signed_send(), channel=CHANNEL, actor=WATER_OPERATOR, notice=None, now=NOW, key=ADA_KEY
    )
    report = check_signatures([served(register[0], 1), served(notice_sent, 2)])
    assert (report.signed, report.failures) == (1, [])


# -- the policy -----------------------------------------------------------------------------


def test_a_channel_that_requires_signatures_refuses_an_unsigned_notice() -> None:
    with pytest.raises(SignatureRequired) as refused:
        decide(
            SendNotice(NOTICE_ID, CONTENT),
            channel=STRICT,
            actor=WATER_OPERATOR,
            notice=None,
            now=NOW,
        )
    assert refused.value.code == "signature-required"


def test_a_channel_that_requires_signatures_refuses_an_unsigned_decision() -> None:
    command = Decide(NOTICE_ID, Decision.OBJECTED, reason="Resurfacing that week.")
    with pytest.raises(SignatureRequired):
        decide(command, channel=STRICT, actor=ROADS_OPERATOR, notice=sent(), now=LATER)


def test_a_channel_that_requires_signatures_accepts_a_signed_notice() -> None:
    events = decide(
        signed_send(), channel=STRICT, actor=WATER_OPERATOR, notice=None, now=NOW, key=ADA_KEY
    )
    assert len(events) == 1


def test_receipts_and_cancellations_need_no_signature_even_when_required() -> None:
    notice = sent()
    receipt = decide(
        RecordReceipt(NOTICE_ID), channel=STRICT, actor=ROADS_OPERATOR, notice=notice, now=LATER
    )
    cancel = decide(
        Cancel(NOTICE_ID), channel=STRICT, actor=WATER_OPERATOR, notice=notice, now=LATER
    )
    assert [e.type for e in [*receipt, *cancel]] == [
        EventType.NOTICE_RECEIVED,
        EventType.NOTICE_CANCELLED,
    ]
