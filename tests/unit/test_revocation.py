"""Whom the hub tells to close when tokens are revoked, and which tokens it asks about.

The watch itself (a query and a sleep, in ``server/app.py``) is tested against the real
server in ``tests/e2e/test_revocation.py``; its query in ``tests/integration/test_access.py``.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from client.protocol import schemas
from server.fanout import Hub
from server.keys import LogKeys
from server.service.log import Checkpoints


class FakeConnection:
    """A connection as the hub sees it, remembering whether it was told to close."""

    def __init__(self, operator: str, token_id: uuid.UUID) -> None:
        self.party = "water"
        self.operator = operator
        self.token_id = token_id
        self.times_told = 0

    def offer_event(self, event: schemas.Event, text: str) -> None:
        pass

    def offer_presence(self, text: str) -> None:
        pass

    def token_revoked(self) -> None:
        self.times_told += 1


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    keys = LogKeys.load_or_create(tmp_path / "log.key", name="hotline.test")
    return Hub(Checkpoints(keys))


def test_only_the_connections_of_a_revoked_token_are_told_to_close(hub: Hub) -> None:
    revoked, kept = uuid.uuid4(), uuid.uuid4()
    laptop, phone = FakeConnection("ana", revoked), FakeConnection("ana", revoked)
    desktop, other = FakeConnection("ana", kept), FakeConnection("ben", uuid.uuid4())
    for connection in (laptop, phone, desktop, other):
        hub.connect(connection)

    told = hub.revoke([revoked])

    assert told == 2
    assert (laptop.times_told, phone.times_told) == (1, 1)
    assert (desktop.times_told, other.times_told) == (0, 0)


def test_a_token_with_no_connection_here_is_passed_over(hub: Hub) -> None:
    connection = FakeConnection("ana", uuid.uuid4())
    hub.connect(connection)
    hub.disconnect(connection)

    assert hub.revoke([connection.token_id, uuid.uuid4()]) == 0
    assert connection.times_told == 0
    assert hub.token_ids() == set()


def test_the_hub_asks_about_each_token_with_an_open_connection_once(hub: Hub) -> None:
    shared, own = uuid.uuid4(), uuid.uuid4()
    laptop, phone, other = (
        FakeConnection("ana", shared),
        FakeConnection("ana", shared),
        FakeConnection("ben", own),
    )
    assert hub.token_ids() == set()

    for connection in (laptop, phone, other):
        hub.connect(connection)
    hub.disconnect(laptop)

    assert hub.token_ids() == {shared, own}
    hub.disconnect(phone)
    hub.disconnect(phone)  # twice: harmless
    hub.disconnect(other)
    assert hub.token_ids() == set()
