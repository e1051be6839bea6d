"""What the single writer remembers between batches, and when it stops trusting it.

The writer keeps, per channel, the log's head, the right edge of its Merkle tree, its
operators' keys in force and the policy, policy id and waiting proposal as stored, and the
last notices written or read. A batch trusts a channel's memory only if the head, policy,
policy id and proposal it reads under the channel's lock all match the ones remembered
(``server/store/ledger.py``): heads only grow and every change to a channel's notices,
keys or policy appends to its log, so an unchanged head means nobody else wrote to it,
and the stored policy columns are compared as well, so that a change made behind the
writer's back is read afresh.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from client.protocol import schemas
from client.protocol.log import CompactRange
from server.domain.model import Channel, Notice
from server.domain.outbox import WebhookTarget

__all__ = ["ChannelMemory", "Memory", "Settings", "StoredNotice"]


@dataclass(frozen=True, slots=True)
class StoredNotice:
    """A notice as committed, with the sequence number of its ``notice.sent`` event."""

    notice: Notice
    seq: int


Settings = tuple[str, uuid.UUID | None, str | None]
"""A channel's policy, policy id and waiting proposal as stored (the JSON texts)."""


@dataclass(slots=True)
class ChannelMemory:
    """What the writer knows of one channel."""

    channel: Channel
    settings: Settings
    """The policy, its id and the proposal as stored, to tell a change without parsing them."""
    head: int
    edge: CompactRange | None = None
    """The tree's right edge at ``head``; ``None`` until an append needs it."""
    keys: dict[str, schemas.Event | None] = field(default_factory=dict)
    """Operator to its ``operator.key_registered`` event in force (``None``: it has none)."""
    webhooks_text: str = "[]"
    """The channel's enabled webhook subscriptions as stored (``channels.webhooks``)."""
    webhooks: tuple[WebhookTarget, ...] = ()
    """The same, read: where each event of the channel is also sent."""


class Memory:
    """What the writer knows between batches; only the writer touches it.

    Args:
        notices: how many recently written or read notices to keep.
    """

    def __init__(self, *, notices: int = 10_000) -> None:
        self.channels: dict[str, ChannelMemory] = {}
        self.notices: OrderedDict[uuid.UUID, StoredNotice] = OrderedDict()
        self._keep = notices

    def forget(self, channel_id: str) -> None:
        """Drop all that is known of a channel: another process has written to it."""
        self.channels.pop(channel_id, None)
        for notice_id in [i for i, s in self.notices.items() if s.notice.channel == channel_id]:
            del self.notices[notice_id]

    def forget_all(self) -> None:
        """Drop everything: a batch failed, so what it left here may not be in the database."""
        self.channels.clear()
        self.notices.clear()

    def keep(self, stored: StoredNotice) -> None:
        """Remember a notice as committed."""
        self.notices[stored.notice.id] = stored
        self.notices.move_to_end(stored.notice.id)
        if len(self.notices) > self._keep:
            self.notices.popitem(last=False)
