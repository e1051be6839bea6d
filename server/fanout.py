"""Fan-out: pushing committed events to the sockets that subscribed to their channel.

Two pieces, so that more worker processes can be added without touching the api:

- a :class:`Hub` in each process knows which local connections watch which channel and
  hands each of them every event of that channel (and the channel's presence); it also
  knows which token each connection authenticated with, so that the sockets of a revoked
  token can be told to close;
- a :class:`Fanout` is how a process announces what it committed. :class:`LocalFanout`
  hands events straight to this process's hub. Other processes learn of them from the
  database: the writer sends a PostgreSQL ``NOTIFY`` in the same transaction, and each
  process's relay (``server/cluster.py``) reads the events from the log and hands them to
  its own hub. The relay also tells the hub who is online through the other processes.

Nothing is published before it is committed: the service calls ``publish`` after
``commit()`` returns, with the Merkle root the events left the log with; the hub signs that
checkpoint once and sends it with the last event, so that clients can check them all.
Delivery never blocks the publisher: a connection whose queue is full is told so and
closes itself (see ``server/api/websocket.py``).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from client.protocol import schemas
from client.protocol.messages import PresenceMessage
from server.service.log import Checkpoints

__all__ = ["Fanout", "Hub", "LocalFanout", "Subscriber", "encode_event"]


def encode_event(event: schemas.Event, checkpoint: str | None = None) -> str:
    """The ``event`` message for one event, as the text sent on every socket.

    Args:
        event: the event.
        checkpoint: the signed checkpoint of the log up to this event, if it carries one.
    """
    text = '{"type":"event","event":' + event.model_dump_json()
    if checkpoint is not None:
        # Unescaped UTF-8, as pydantic writes every other message (the em dash included).
        text += ',"checkpoint":' + json.dumps(checkpoint, ensure_ascii=False)
    return text + "}"


class Subscriber(Protocol):
    """A connection as the hub sees it."""

    party: str
    operator: str
    token_id: uuid.UUID
    """The id of the token the connection authenticated with."""

    def offer_event(self, event: schemas.Event, text: str) -> None:
        """Take an event without waiting (a full queue is the subscriber's problem)."""

    def offer_presence(self, text: str) -> None:
        """Take a presence message without waiting."""

    def token_revoked(self) -> None:
        """Close soon, as unauthenticated, without waiting."""


class Hub:
    """This process's registry of its connections: by channel subscribed, and by token.

    Args:
        checkpoints: signs the checkpoint each published batch ends with.
    """

    def __init__(self, checkpoints: Checkpoints) -> None:
        self.checkpoints = checkpoints
        self._subscribers: defaultdict[str, set[Subscriber]] = defaultdict(set)
        # Per channel, how many connections each (party, operator) has subscribed: presence
        # changes only when one of these counts goes from 0 to 1 or from 1 to 0.
        self._online: defaultdict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
        self._by_token: defaultdict[uuid.UUID, set[Subscriber]] = defaultdict(set)
        # Per watched channel, the last sequence number handed to its subscribers: what a
        # relay from other processes need not read again (``server/cluster.py``).
        self._heads: dict[str, int] = {}
        # Per channel, who is online on it through other server processes.
        self._elsewhere: dict[str, frozenset[tuple[str, str]]] = {}
        self.changed: Callable[[str], None] | None = None
        """Told the channel whenever who is online on it *here* changes (the cluster
        passes it on to the other processes)."""

    def connect(self, subscriber: Subscriber) -> None:
        """Count a connection as open, under the token it authenticated with."""
        self._by_token[subscriber.token_id].add(subscriber)

    def disconnect(self, subscriber: Subscriber) -> None:
        """Forget a connection that has closed."""
        connections = self._by_token.get(subscriber.token_id)
        if connections is None:
            return
        connections.discard(subscriber)
        if not connections:
            del self._by_token[subscriber.token_id]

    def token_ids(self) -> set[uuid.UUID]:
        """The ids of the tokens this process's open connections authenticated with."""
        return set(self._by_token)

    def revoke(self, tokens: Iterable[uuid.UUID]) -> int:
        """Tell every connection that authenticated with one of ``tokens`` to close.

        A token with no connection here (or none left) is passed over, so telling it twice
        is harmless. Returns how many connections were told.
        """
        told = 0
        for token in tokens:
            for connection in list(self._by_token.get(token, ())):
                connection.token_revoked()
                told += 1
        return told

    def subscribe(self, channel: str, subscriber: Subscriber) -> None:
        """Start handing ``subscriber`` the channel's events, and tell it who is online.

        If its operator was not online on the channel until now, every subscriber is told;
        another socket of an operator already online changes nothing the others see.
        """
        watchers = self._subscribers[channel]
        if subscriber in watchers:
            return
        watchers.add(subscriber)
        counts = self._online[channel]
        who = (subscriber.party, subscriber.operator)
        counts[who] += 1
        if counts[who] == 1:
            self._announce_presence(channel)
            self._changed(channel)
        else:
            subscriber.offer_presence(self._presence(channel))

    def unsubscribe(self, channel: str, subscriber: Subscriber) -> None:
        """Stop; if that was its operator's last socket on the channel, tell the others."""
        watchers = self._subscribers.get(channel)
        if watchers is None or subscriber not in watchers:
            return
        watchers.discard(subscriber)
        counts = self._online[channel]
        who = (subscriber.party, subscriber.operator)
        counts[who] -= 1
        if counts[who] > 0:
            return
        del counts[who]
        if watchers:
            self._announce_presence(channel)
        else:
            del self._subscribers[channel]
            del self._online[channel]
            self._heads.pop(channel, None)
        self._changed(channel)

    def deliver(self, events: Sequence[schemas.Event], *, root: bytes) -> None:
        """Hand each event to every subscriber of its channel, in order.

        Args:
            events: events of one channel, just committed, in log order.
            root: the channel's Merkle root with the last of them; its signed checkpoint
                rides on the last event.
        """
        for position, event in enumerate(events, start=1):
            watchers = self._subscribers.get(event.channel)
            if not watchers:
                continue
            if event.seq > self._heads.get(event.channel, 0):
                self._heads[event.channel] = event.seq
            checkpoint = None
            if position == len(events):
                checkpoint = self.checkpoints.sign(event.channel, event.seq, root).note
            # Serialised once, however many sockets get it.
            text = encode_event(event, checkpoint)
            for subscriber in list(watchers):
                subscriber.offer_event(event, text)

    def watched(self) -> list[str]:
        """The channels at least one connection of this process is subscribed to."""
        return list(self._subscribers)

    def watches(self, channel: str) -> bool:
        """Whether a connection of this process is subscribed to ``channel``."""
        return channel in self._subscribers

    def head(self, channel: str) -> int | None:
        """The last sequence number handed to ``channel``'s subscribers here, if any yet."""
        return self._heads.get(channel)

    def here(self, channel: str) -> frozenset[tuple[str, str]]:
        """Who is online on ``channel`` through this process: (party, operator) pairs."""
        return frozenset(self._online.get(channel, ()))

    def set_elsewhere(self, channel: str, online: frozenset[tuple[str, str]]) -> None:
        """Say who is online on ``channel`` through the other processes; tell the
        subscribers here if that changes what they see."""
        before = self._everyone(channel)
        if online:
            self._elsewhere[channel] = online
        else:
            self._elsewhere.pop(channel, None)
        if self._everyone(channel) != before:
            self._announce_presence(channel)

    def online(self, channel: str) -> dict[str, list[str]]:
        """Party id to the sorted ids of its operators connected to ``channel``, through
        this process or (as far as it has heard) any other."""
        found: defaultdict[str, list[str]] = defaultdict(list)
        for party, operator in sorted(self._everyone(channel)):
            found[party].append(operator)
        return dict(found)

    def _everyone(self, channel: str) -> frozenset[tuple[str, str]]:
        return self.here(channel) | self._elsewhere.get(channel, frozenset())

    def _changed(self, channel: str) -> None:
        if self.changed is not None:
            self.changed(channel)

    def _presence(self, channel: str) -> str:
        return PresenceMessage(channel=channel, online=self.online(channel)).model_dump_json()

    def _announce_presence(self, channel: str) -> None:
        text = self._presence(channel)  # serialised once, however many sockets get it
        for subscriber in list(self._subscribers.get(channel, ())):
            subscriber.offer_presence(text)


class Fanout(Protocol):
    """How a process announces events it has committed."""

    hub: Hub

    async def publish(self, events: Sequence[schemas.Event], *, root: bytes) -> None:
        """Make committed ``events`` (one channel's, from one batch) reach every subscriber.

        ``root`` is the channel's Merkle root once they are in the log.
        """


class LocalFanout:
    """Fan-out within one process: publishing is delivering to the local hub."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def publish(self, events: Sequence[schemas.Event], *, root: bytes) -> None:
        """Deliver ``events`` to this process's subscribers."""
        self.hub.deliver(events, root=root)
