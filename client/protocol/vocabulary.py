"""The words of the protocol: roles, priorities, states, decisions and event types.

These enumerations are shared by the server and every client, so that a value on the wire
has exactly one spelling. Each is a ``StrEnum``: the member *is* its wire string.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Decision", "EventType", "Priority", "Role", "Status"]


class Role(StrEnum):
    """What an operator may do for its party."""

    OPERATOR = "operator"
    """Sends, confirms receipt, acknowledges, objects and cancels."""
    OBSERVER = "observer"
    """Reads and verifies; its client may confirm receipt, but it decides nothing."""
    ADMIN = "admin"
    """Manages parties, operators and policy; does not speak for the party on a channel."""


class Priority(StrEnum):
    """How pressing a notice is; the channel policy sets a deadline for each."""

    ROUTINE = "routine"
    IMPORTANT = "important"
    URGENT = "urgent"


class Status(StrEnum):
    """Where a notice is in its life (see docs/explanation/life-of-a-notice.md)."""

    SENT = "sent"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    OBJECTED = "objected"
    CANCELLED = "cancelled"
    OVERDUE = "overdue"


class Decision(StrEnum):
    """The receiving party's answer to a notice."""

    ACKNOWLEDGED = "acknowledged"
    OBJECTED = "objected"


class EventType(StrEnum):
    """The type of one entry of a channel's log: a noun and a past-tense verb."""

    NOTICE_SENT = "notice.sent"
    NOTICE_RECEIVED = "notice.received"
    NOTICE_ACKNOWLEDGED = "notice.acknowledged"
    NOTICE_OBJECTED = "notice.objected"
    NOTICE_CANCELLED = "notice.cancelled"
    NOTICE_OVERDUE = "notice.overdue"
    OPERATOR_KEY_REGISTERED = "operator.key_registered"
    NOTICE_REMINDED = "notice.reminded"
    NOTICE_ESCALATED = "notice.escalated"
    CHECK_REQUESTED = "check.requested"
    CHECK_ANSWERED = "check.answered"
    CHECK_MISSED = "check.missed"
    CONFLICT_DETECTED = "conflict.detected"
    CONFLICT_RESOLVED = "conflict.resolved"
    CHANNEL_POLICY_PROPOSED = "channel.policy_proposed"
    CHANNEL_POLICY_CHANGED = "channel.policy_changed"
    CHANNEL_POLICY_WITHDRAWN = "channel.policy_withdrawn"
    WEBHOOK_DISABLED = "webhook.disabled"
