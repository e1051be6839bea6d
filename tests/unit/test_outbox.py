"""The outbox's pure rules: which events go where, and when a failed delivery is tried again."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from client.protocol import schemas
from client.protocol.vocabulary import EventType
from server.domain.model import Policy
from server.domain.outbox import (
    DeliveryKind,
    MailSwitch,
    WebhookTarget,
    deliveries,
    delivery_id,
    give_up,
    retry_delay,
)
from tests.unit.builders import CHANNEL, NOW

ALL = WebhookTarget(id="hook-all", party="roads")
ONLY_SENT = WebhookTarget(id="hook-sent", party="water", types=("notice.sent",))
MAIL = MailSwitch(offline_after=timedelta(seconds=90))
CHANNEL_MAILING = replace(CHANNEL, policy=Policy(mail_when_offline=True))


def event(seq: int, type_: EventType, *, party: str | None = "water", **data: Any) -> schemas.Event:
    """An event of the demo channel, sent by ``party``'s operator (``None``: the server)."""
    actor = None if party is None else schemas.Actor(party=party, operator=f"{party}-op")
    return schemas.Event(channel=CHANNEL.id, seq=seq, type=type_, at=NOW, actor=actor, data=data)


SENT = event(1, EventType.NOTICE_SENT, notice="n1")
RECEIVED = event(2, EventType.NOTICE_RECEIVED, party="roads", notice="n1")
ESCALATED = event(3, EventType.NOTICE_ESCALATED, party=None, notice="n1", to=["dev", "rick", "dev"])
MISSED = event(4, EventType.CHECK_MISSED, party=None, check="c1", to=["walt"])


def where(found: list[Any]) -> list[tuple[str, int, str]]:
    return [(d.kind.value, d.seq, d.target) for d in found]


# -- webhooks ---------------------------------------------------------------------------


def test_every_event_goes_to_a_subscription_that_wants_all_types() -> None:
    found = deliveries([SENT, RECEIVED], channel=CHANNEL, webhooks=[ALL], mail=None, now=NOW)

    assert where(found) == [("webhook", 1, "hook-all"), ("webhook", 2, "hook-all")]
    assert all(d.due_at == NOW for d in found), "webhooks are due at once"


def test_a_subscription_gets_only_the_types_it_asked_for() -> None:
    found = deliveries(
        [SENT, RECEIVED], channel=CHANNEL, webhooks=[ALL, ONLY_SENT], mail=None, now=NOW
    )

    assert where(found) == [
        ("webhook", 1, "hook-all"),
        ("webhook", 1, "hook-sent"),
        ("webhook", 2, "hook-all"),
    ]


def test_a_party_subscription_gets_the_other_partys_events_too() -> None:
    # Either party reads the whole log of its channel: so does its subscription.
    found = deliveries([RECEIVED], channel=CHANNEL, webhooks=[ONLY_SENT, ALL], mail=None, now=NOW)

    assert where(found) == [("webhook", 2, "hook-all")]


def test_no_subscription_and_no_mail_means_nothing_to_deliver() -> None:
    events = [SENT, RECEIVED, ESCALATED, MISSED]

    assert deliveries(events, channel=CHANNEL_MAILING, webhooks=[], mail=None, now=NOW) == []


# -- mail -------------------------------------------------------------------------------


def test_mail_is_queued_only_where_this_server_mails() -> None:
    events = [ESCALATED, MISSED]

    assert deliveries(events, channel=CHANNEL, webhooks=[], mail=None, now=NOW) == []
    assert deliveries(events, channel=CHANNEL, webhooks=[], mail=MAIL, now=NOW) != []


def test_an_escalation_mails_each_operator_it_went_to_once_at_once() -> None:
    found = deliveries([ESCALATED], channel=CHANNEL, webhooks=[], mail=MAIL, now=NOW)

    assert where(found) == [("mail", 3, "operator:dev"), ("mail", 3, "operator:rick")]
    assert all(d.due_at == NOW and d.event_type == "notice.escalated" for d in found)


def test_a_missed_check_mails_the_operators_it_escalated_to() -> None:
    found = deliveries([MISSED], channel=CHANNEL, webhooks=[], mail=MAIL, now=NOW)

    assert where(found) == [("mail", 4, "operator:walt")]


def test_a_notice_is_mailed_to_the_receiving_party_later_only_when_the_policy_asks() -> None:
    assert deliveries([SENT], channel=CHANNEL, webhooks=[], mail=MAIL, now=NOW) == []

    [mail] = deliveries([SENT], channel=CHANNEL_MAILING, webhooks=[], mail=MAIL, now=NOW)

    assert (mail.kind, mail.target) == (DeliveryKind.MAIL, "party:roads"), "not the sender's"
    assert mail.due_at == NOW + MAIL.offline_after, "only once it has waited unseen a while"


def test_other_events_are_never_mailed() -> None:
    found = deliveries([RECEIVED], channel=CHANNEL_MAILING, webhooks=[], mail=MAIL, now=NOW)

    assert found == []


def test_webhooks_and_mail_of_one_event_come_in_the_events_order() -> None:
    found = deliveries(
        [SENT, ESCALATED], channel=CHANNEL_MAILING, webhooks=[ALL], mail=MAIL, now=NOW
    )

    assert where(found) == [
        ("webhook", 1, "hook-all"),
        ("mail", 1, "party:roads"),
        ("webhook", 3, "hook-all"),
        ("mail", 3, "operator:dev"),
        ("mail", 3, "operator:rick"),
    ]


# -- ids --------------------------------------------------------------------------------


def test_a_deliverys_id_is_the_same_every_time_it_is_worked_out() -> None:
    first = deliveries([SENT], channel=CHANNEL, webhooks=[ALL], mail=None, now=NOW)
    later = deliveries([SENT], channel=CHANNEL, webhooks=[ALL], mail=None, now=NOW + timedelta(1))

    assert [d.id for d in first] == [d.id for d in later]
    assert first[0].id == delivery_id(CHANNEL.id, 1, DeliveryKind.WEBHOOK, "hook-all", at=NOW)
    assert first[0].id.version == 5


def test_ids_differ_by_channel_event_its_time_kind_and_target() -> None:
    later = NOW + timedelta(milliseconds=1)  # the same number in a database started afresh
    ids = {
        delivery_id("water-roads", 1, DeliveryKind.WEBHOOK, "a", at=NOW),
        delivery_id("water-parks", 1, DeliveryKind.WEBHOOK, "a", at=NOW),
        delivery_id("water-roads", 2, DeliveryKind.WEBHOOK, "a", at=NOW),
        delivery_id("water-roads", 1, DeliveryKind.WEBHOOK, "a", at=later),
        delivery_id("water-roads", 1, DeliveryKind.MAIL, "a", at=NOW),
        delivery_id("water-roads", 1, DeliveryKind.WEBHOOK, "b", at=NOW),
    }

    assert len(ids) == 6
    assert all(isinstance(i, uuid.UUID) for i in ids)


# -- retries ----------------------------------------------------------------------------

BASE = timedelta(seconds=2)
CAP = timedelta(minutes=10)


def ceiling(attempt: int) -> timedelta:
    return CAP if attempt > 20 else min(CAP, BASE * 2 ** (attempt - 1))


@pytest.mark.parametrize("attempt", [1, 2, 3, 5, 9, 10, 30, 46, 47, 64, 65, 1000])
def test_a_retry_waits_between_nothing_and_its_ceiling(attempt: int) -> None:
    rng = random.Random(attempt)
    waits = [retry_delay(attempt, base=BASE, cap=CAP, rng=rng) for _ in range(200)]

    assert all(timedelta(0) <= wait <= ceiling(attempt) for wait in waits)
    assert max(waits) > ceiling(attempt) * 0.9, "drawn across the whole range (full jitter)"
    assert min(waits) < ceiling(attempt) * 0.1


def test_the_ceiling_doubles_with_each_failure_until_the_cap() -> None:
    # rng.random() = 1.0 - ε shows the ceiling itself.
    class Top(random.Random):
        def random(self) -> float:
            return 1.0

    top = Top()
    ceilings = [retry_delay(n, base=BASE, cap=CAP, rng=top) for n in range(1, 12)]

    assert ceilings[:5] == [timedelta(seconds=s) for s in (2, 4, 8, 16, 32)]
    assert ceilings[-1] == CAP, "2 s times 2 to the 10th is more than ten minutes: capped"
    assert ceilings == sorted(ceilings)


def test_retry_waits_grow_on_average() -> None:
    rng = random.Random(7)

    def mean(attempt: int) -> float:
        waits = [retry_delay(attempt, base=BASE, cap=CAP, rng=rng) for _ in range(500)]
        return sum(w.total_seconds() for w in waits) / len(waits)

    means = [mean(n) for n in (1, 3, 5, 7)]

    assert means == sorted(means)
    assert means[-1] > 10 * means[0]


def test_the_same_seed_draws_the_same_waits() -> None:
    def draws(seed: int) -> list[timedelta]:
        rng = random.Random(seed)
        return [retry_delay(n, base=BASE, cap=CAP, rng=rng) for n in range(1, 9)]

    assert draws(11) == draws(11)
    assert draws(11) != draws(12)


def test_attempts_are_counted_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        retry_delay(0, base=BASE, cap=CAP, rng=random.Random(1))


def test_a_delivery_is_given_up_after_its_last_allowed_try() -> None:
    assert [give_up(n, attempts=3) for n in (1, 2, 3, 4)] == [False, False, True, True]
    assert give_up(1, attempts=1), "one try allowed: the first failure is the last"
