"""A channel's policy as the store keeps it: JSON, read back the same, old versions too."""

from __future__ import annotations

import json
from datetime import timedelta

from client.protocol.schemas import PolicyOut
from client.protocol.vocabulary import Priority
from server.domain.model import Policy
from server.store.repository import policy_from_json, policy_to_json

BEFORE_SIGNATURES = json.dumps(
    {
        "ack_deadline_seconds": {"routine": 259200, "important": 86400, "urgent": 3600},
        "min_advance_notice_seconds": {"routine": 172800, "important": 14400, "urgent": 0},
    }
)
"""A policy as written before channels could require signatures."""


def test_a_policy_reads_back_as_it_was_written() -> None:
    policy = Policy(
        ack_deadlines={p: timedelta(hours=2) for p in Priority}, require_signatures=True
    )

    assert policy_from_json(policy_to_json(policy)) == policy


def test_a_policy_written_before_signatures_requires_none() -> None:
    assert policy_from_json(BEFORE_SIGNATURES) == Policy()
    assert PolicyOut.model_validate_json(BEFORE_SIGNATURES).require_signatures is False


def test_the_served_policy_says_whether_signatures_are_required() -> None:
    served = PolicyOut.model_validate_json(policy_to_json(Policy(require_signatures=True)))

    assert served.require_signatures is True
