"""Presence as the hub works it out: a message when an operator comes or goes, not a socket.

The hub counts, per channel, the sockets of each operator. Everyone is told only when a
count goes from 0 to 1 or from 1 to 0; a socket that subscribes is always told who is
online. Over real sockets: ``tests/e2e/test_websocket_live.py``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from client.protocol import schemas
from server.fanout import Hub
from server.keys import LogKeys
from server.service.log import Checkpoints

CHANNEL = "water-roads"


class FakeConnection:
    """A connection as the hub sees it, keeping the presence messages it was offered."""

    def __init__(self, party: str, operator: str) -> None:
        self.party = party
        self.operator = operator
        self.token_id = uuid.uuid4()
        self.presence: list[dict[str, Any]] = []

    def offer_event(self, event: schemas.Event, text: str) -> None:
        pass

    def offer_presence(self, text: str) -> None:
        self.presence.append(json.loads(text))

    def token_revoked(self) -> None:
        pass


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    keys = LogKeys.load_or_create(tmp_path / "log.key", name="hotline.test")
    return Hub(Checkpoints(keys))


def online(*pairs: tuple[str, list[str]]) -> dict[str, Any]:
    """The presence message for the demo channel with these parties online."""
    return {"type": "presence", "channel": CHANNEL, "online": dict(pairs)}


def test_an_operator_coming_online_is_told_to_every_subscriber(hub: Hub) -> None:
    ana, carla = FakeConnection("water", "ana"), FakeConnection("roads", "carla")

    hub.subscribe(CHANNEL, ana)
    hub.subscribe(CHANNEL, carla)

    both = online(("roads", ["carla"]), ("water", ["ana"]))
    assert ana.presence == [online(("water", ["ana"])), both]
    assert carla.presence == [both]


def test_a_second_socket_of_an_operator_online_is_told_alone(hub: Hub) -> None:
    ana, carla, laptop = (
        FakeConnection("water", "ana"),
        FakeConnection("roads", "carla"),
        FakeConnection("water", "ana"),
    )
    hub.subscribe(CHANNEL, ana)
    hub.subscribe(CHANNEL, carla)
    before = (list(ana.presence), list(carla.presence))

    hub.subscribe(CHANNEL, laptop)

    assert laptop.presence == [online(("roads", ["carla"]), ("water", ["ana"]))]
    assert (ana.presence, carla.presence) == before


def test_only_an_operators_last_socket_leaving_is_told(hub: Hub) -> None:
    ana, laptop, carla = (
        FakeConnection("water", "ana"),
        FakeConnection("water", "ana"),
        FakeConnection("roads", "carla"),
    )
    for connection in (ana, laptop, carla):
        hub.subscribe(CHANNEL, connection)
    told_before = len(carla.presence)

    hub.unsubscribe(CHANNEL, laptop)
    assert len(carla.presence) == told_before
    hub.unsubscribe(CHANNEL, ana)

    assert carla.presence[told_before:] == [online(("roads", ["carla"]))]
    assert hub.online(CHANNEL) == {"roads": ["carla"]}


def test_subscribing_or_leaving_twice_changes_nothing(hub: Hub) -> None:
    ana, carla = FakeConnection("water", "ana"), FakeConnection("roads", "carla")
    hub.subscribe(CHANNEL, ana)
    hub.subscribe(CHANNEL, carla)
    hub.subscribe(CHANNEL, carla)
    told = (len(ana.presence), len(carla.presence))

    hub.unsubscribe(CHANNEL, carla)
    hub.unsubscribe(CHANNEL, carla)

    assert (len(ana.presence), len(carla.presence)) == (told[0] + 1, told[1])
    assert hub.online(CHANNEL) == {"water": ["ana"]}


def test_presence_lists_parties_and_their_operators_sorted_per_channel(hub: Hub) -> None:
    for party, operator, channel in [
        ("water", "ben", CHANNEL),
        ("roads", "dev", CHANNEL),
        ("water", "ana", CHANNEL),
        ("roads", "carla", "parks-roads"),
    ]:
        hub.subscribe(channel, FakeConnection(party, operator))

    assert hub.online(CHANNEL) == {"roads": ["dev"], "water": ["ana", "ben"]}
    assert hub.online("parks-roads") == {"roads": ["carla"]}
    assert hub.online("nobody-here") == {}


def test_opening_many_sockets_of_a_few_operators_sends_few_messages(hub: Hub) -> None:
    sockets = [
        FakeConnection(party, operator)
        for _ in range(250)
        for party, operator in [("water", "ana"), ("water", "ben"), ("roads", "carla")]
    ]
    for connection in sockets:
        hub.subscribe(CHANNEL, connection)
    for connection in sockets:
        hub.unsubscribe(CHANNEL, connection)

    # 750 sockets told once each as they subscribe; ben's and carla's first sockets also
    # reach the 1 and 2 open before them; ana's and ben's last sockets, leaving, reach the
    # 2 and then 1 still open. Announcing every socket to every other would take 280,000.
    assert sum(len(s.presence) for s in sockets) == 750 + (1 + 2) + (2 + 1)
