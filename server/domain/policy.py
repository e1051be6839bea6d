"""A policy as JSON: the one form the log, the database and the API all spell it in.

``channel.policy_proposed`` and ``channel.policy_changed`` carry a policy in this form, so
that anybody replaying the log knows the policy in force without asking the server.
Durations are whole seconds; maps are keyed by priority or party::

    {"ack_deadline_seconds": {"routine": 259200, "important": 86400, "urgent": 3600},
     "min_advance_notice_seconds": {...},
     "require_signatures": false,
     "chase": {"urgent": {"remind_after_seconds": 900, "remind_every_seconds": 900,
                          "reminders": 4, "escalate_after_seconds": 3600}, ...},
     "escalate_to": {"roads": ["dev"]},
     "checks": {"every_seconds": 3600, "answer_within_seconds": 300},
     "mail_when_offline": false}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from client.protocol.vocabulary import Priority
from server.domain.errors import Invalid
from server.domain.model import Chase, Checks, Policy

__all__ = ["policy_of_wire", "policy_wire"]


def _seconds(span: timedelta) -> int:
    return int(span.total_seconds())


def policy_wire(policy: Policy) -> dict[str, Any]:
    """The policy as a JSON object (see the module's docstring)."""
    return {
        "ack_deadline_seconds": {p.value: _seconds(d) for p, d in policy.ack_deadlines.items()},
        "min_advance_notice_seconds": {
            p.value: _seconds(d) for p, d in policy.min_advance_notice.items()
        },
        "require_signatures": policy.require_signatures,
        "chase": {
            p.value: {
                "remind_after_seconds": _seconds(c.remind_after),
                "remind_every_seconds": _seconds(c.remind_every),
                "reminders": c.reminders,
                "escalate_after_seconds": (
                    None if c.escalate_after is None else _seconds(c.escalate_after)
                ),
            }
            for p, c in policy.chase.items()
        },
        "escalate_to": {party: list(ops) for party, ops in sorted(policy.escalate_to.items())},
        "checks": (
            None
            if policy.checks is None
            else {
                "every_seconds": _seconds(policy.checks.every),
                "answer_within_seconds": _seconds(policy.checks.answer_within),
            }
        ),
        "mail_when_offline": policy.mail_when_offline,
    }


def policy_of_wire(raw: Mapping[str, Any]) -> Policy:
    """Read a policy in its JSON form, or in an older one (missing parts take the defaults).

    Raises:
        Invalid: the object is not a policy, or breaks a rule of one.
    """
    try:
        defaults = Policy()
        chase = raw.get("chase")
        checks = raw.get("checks")
        return Policy(
            ack_deadlines=_spans(raw["ack_deadline_seconds"]),
            min_advance_notice=_spans(raw["min_advance_notice_seconds"]),
            # Policies written before signatures existed required none.
            require_signatures=bool(raw.get("require_signatures", False)),
            chase=defaults.chase if chase is None else _chase(chase),
            escalate_to={
                str(party): _operators(ops) for party, ops in (raw.get("escalate_to") or {}).items()
            },
            checks=(
                None
                if checks is None
                else Checks(
                    every=timedelta(seconds=checks["every_seconds"]),
                    answer_within=timedelta(seconds=checks["answer_within_seconds"]),
                )
            ),
            # Policies written before the outbox mailed nobody.
            mail_when_offline=_flag(raw.get("mail_when_offline", False)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise Invalid(f"not a policy: {error!s}", field="policy") from None


def _flag(raw: Any) -> bool:
    if not isinstance(raw, bool):  # "false" would otherwise read as true
        raise TypeError("mail_when_offline is true or false")
    return raw


def _operators(raw: Any) -> tuple[str, ...]:
    # A list of ids: a lone string would otherwise read as one operator per letter.
    if not isinstance(raw, list | tuple) or not all(isinstance(op, str) for op in raw):
        raise TypeError("escalate_to lists operator ids for each party")
    return tuple(raw)


def _spans(raw: Mapping[str, int]) -> dict[Priority, timedelta]:
    return {Priority(p): timedelta(seconds=s) for p, s in raw.items()}


def _chase(raw: Mapping[str, Mapping[str, Any]]) -> dict[Priority, Chase]:
    chase = {}
    for priority, plan in raw.items():
        escalate = plan.get("escalate_after_seconds")
        chase[Priority(priority)] = Chase(
            remind_after=timedelta(seconds=plan["remind_after_seconds"]),
            remind_every=timedelta(seconds=plan["remind_every_seconds"]),
            reminders=int(plan["reminders"]),
            escalate_after=None if escalate is None else timedelta(seconds=escalate),
        )
    return chase
