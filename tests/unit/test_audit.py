"""The client's auditor on its own: a log in memory, signed here, proofs from it."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from client.audit import ChannelAuditor
from client.errors import LogTampered, SplitView
from client.protocol import merkle
from client.protocol.checkpoint import Checkpoint, sign_checkpoint
from client.protocol.log import CompactRange, event_hash, origin
from client.protocol.note import Signer, Verifier, generate_key

CHANNEL = "water-roads"
SIGNER, VERIFIER = generate_key("hotline.example")


def event(seq: int, subject: str = "Hydrant test") -> dict[str, Any]:
    return {"channel": CHANNEL, "seq": seq, "type": "notice.sent", "data": {"subject": subject}}


class Log:
    """A server's log: its events, its signed checkpoints, its consistency proofs."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.asked: list[tuple[int, int]] = []

    def leaves(self) -> list[bytes]:
        return [event_hash(e) for e in self.events]

    def checkpoint(self, size: int) -> str:
        root = merkle.root_hash(self.leaves()[:size])
        return sign_checkpoint(Checkpoint(origin("hotline.example", CHANNEL), size, root), SIGNER)

    async def consistency(self, old: int, new: int) -> list[bytes]:
        self.asked.append((old, new))
        return merkle.consistency_proof(old, self.leaves()[:new])


def auditor(log: Log, **options: Any) -> ChannelAuditor:
    return ChannelAuditor(CHANNEL, [VERIFIER], log.consistency, **options)


async def feed(
    audit: ChannelAuditor, events: list[dict[str, Any]], checkpoints: dict[int, str]
) -> list[Any]:
    """Hand events over as a socket would, a checkpoint on those ``checkpoints`` names."""
    released = []
    for e in events:
        released += await audit.add(e, e["seq"], checkpoints.get(e["seq"]))
    return released


async def test_events_are_held_until_a_checkpoint_vouches_for_them() -> None:
    log = Log([event(n) for n in range(1, 4)])
    audit = auditor(log)

    first = await audit.add(log.events[0], "one")
    second = await audit.add(log.events[1], "two")
    third = await audit.add(log.events[2], "three", log.checkpoint(3))

    assert (first, second, third) == ([], [], ["one", "two", "three"])
    assert audit.checkpoint is not None
    assert audit.checkpoint.size == 3


async def test_a_changed_event_is_named_by_bisection() -> None:
    log = Log([event(n) for n in range(1, 9)])
    served = [*log.events[:5], event(6, "Changed"), *log.events[6:]]
    audit = auditor(log)

    with pytest.raises(LogTampered) as raised:
        await feed(audit, served, {8: log.checkpoint(8)})

    assert raised.value.seq == 6


async def test_a_forked_past_under_its_own_smaller_checkpoint_is_a_split_view() -> None:
    honest = Log([event(n) for n in range(1, 11)])
    audit = auditor(honest)
    await audit.check_checkpoint(honest.checkpoint(10))  # on subscribing: head 10
    trusted = honest.checkpoint(10)
    honest.events = [event(n, "Forged") for n in range(1, 11)]  # the server forks its past

    with pytest.raises(SplitView) as raised:
        await feed(audit, honest.events[:8], {8: honest.checkpoint(8)})

    assert raised.value.earlier == trusted
    assert raised.value.later == honest.checkpoint(8)


async def test_a_catch_up_page_behind_the_trusted_head_is_proved_a_prefix_of_it() -> None:
    log = Log([event(n) for n in range(1, 11)])
    audit = auditor(log)
    await audit.check_checkpoint(log.checkpoint(10))

    released = await feed(audit, log.events[:6], {6: log.checkpoint(6)})

    assert released == [1, 2, 3, 4, 5, 6]
    assert log.asked == [(6, 10)]


async def test_a_log_that_shrank_since_the_remembered_checkpoint_is_a_split_view() -> None:
    log = Log([event(n) for n in range(1, 6)])
    remembered = log.checkpoint(5)
    audit = auditor(log, checkpoint=remembered)

    with pytest.raises(SplitView, match="history was rewritten"):
        await audit.check_checkpoint(log.checkpoint(4))


async def test_a_resumed_auditor_checks_the_replayed_events_against_the_remembered_root() -> None:
    log = Log([event(n) for n in range(1, 6)])
    handled = CompactRange()
    handled.extend(log.leaves()[:2])
    audit = auditor(log, handled=handled, checkpoint=log.checkpoint(5))
    replayed = [*log.events[2:4], event(5, "Changed")]

    with pytest.raises(LogTampered) as raised:
        await feed(audit, replayed, {})

    assert raised.value.seq == 5


async def test_an_old_key_opens_the_remembered_checkpoint_and_nothing_newer() -> None:
    log = Log([event(n) for n in range(1, 4)])
    new_signer, new_verifier = generate_key("hotline.example")
    audit = ChannelAuditor(
        CHANNEL,
        [new_verifier],
        log.consistency,
        checkpoint=log.checkpoint(2),
        previous_keys=[VERIFIER],
    )

    with pytest.raises(LogTampered, match="not signed by the log's key"):
        await audit.check_checkpoint(log.checkpoint(3))  # still by the old key only
    root = merkle.root_hash(log.leaves())
    newer = sign_checkpoint(Checkpoint(origin("hotline.example", CHANNEL), 3, root), new_signer)
    await audit.check_checkpoint(newer)


async def test_a_key_rotated_to_a_new_name_still_opens_the_remembered_checkpoint() -> None:
    log = Log([event(n) for n in range(1, 4)])
    remembered = log.checkpoint(2)
    new_signer, new_verifier = generate_key("hotline.example.org")
    root = merkle.root_hash(log.leaves())
    renamed = Checkpoint(origin("hotline.example.org", CHANNEL), 3, root)
    audit = ChannelAuditor(
        CHANNEL, [new_verifier], log.consistency, checkpoint=remembered, previous_keys=[VERIFIER]
    )

    await audit.check_checkpoint(sign_checkpoint(renamed, new_signer))

    assert audit.checkpoint == renamed


async def test_events_reaching_a_checkpoint_an_old_key_signed_are_checked_against_it() -> None:
    log = Log([event(n) for n in range(1, 4)])
    handled = CompactRange()
    handled.extend(log.leaves()[:1])
    _, new_verifier = generate_key("hotline.example")
    audit = ChannelAuditor(
        CHANNEL,
        [new_verifier],
        log.consistency,
        handled=handled,
        checkpoint=log.checkpoint(3),
        previous_keys=[VERIFIER],
    )

    released = await feed(audit, log.events[1:], {})

    assert released == [2, 3]


def test_keys_survive_pickling_after_use() -> None:
    signer, verifier = Signer.parse(SIGNER), Verifier.parse(VERIFIER)
    signature = signer.sign(b"hello")
    assert verifier.verify(b"hello", signature)

    assert pickle.loads(pickle.dumps(signer)) == signer  # noqa: S301 (our own bytes)
    assert pickle.loads(pickle.dumps(verifier)).verify(b"hello", signature)  # noqa: S301
