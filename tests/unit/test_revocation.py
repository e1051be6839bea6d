"""The revocation watch without a database: where each look starts, and whom the hub tells.

The watch itself (a query and a sleep, in ``server/app.py``) is tested against the real
server in ``tests/e2e/test_revocation.py``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from client.protocol import schemas
from server.fanout import Hub
from server.keys import LogKeys
from server.service.access import REVOCATION_OVERLAP, RevocationWindow
from server.service.log import Checkpoints

START = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


# -- the window ---------------------------------------------------------------------------


def test_the_first_look_reaches_back_the_overlap_before_the_watch_began() -> None:
    window = RevocationWindow(START)

    assert window.since == START - REVOCATION_OVERLAP


def test_the_next_look_starts_the_overlap_before_the_latest_revocation_found() -> None:
    window = RevocationWindow(START, overlap=10 * SECOND)

    window.advance([START + 3 * SECOND, START + 7 * SECOND], looked_at=START + 8 * SECOND)

    assert window.since == START + 7 * SECOND - 10 * SECOND


def test_a_look_that_finds_nothing_leaves_the_window_where_it_was() -> None:
    window = RevocationWindow(START, overlap=10 * SECOND)
    window.advance([START + 5 * SECOND], looked_at=START + 6 * SECOND)

    window.advance([], looked_at=START + 60 * SECOND)

    assert window.since == START + 5 * SECOND - 10 * SECOND


def test_a_revocation_stamped_before_the_last_one_found_but_committed_after_is_read_next() -> None:
    # The look at 10 s finds a revocation stamped 9 s; another, stamped 8 s by a process
    # that waited for the write lock, commits just after the look read the table.
    window = RevocationWindow(START, overlap=5 * SECOND)
    window.advance([START + 9 * SECOND], looked_at=START + 10 * SECOND)

    assert window.since <= START + 8 * SECOND


def test_a_stamp_from_a_clock_running_ahead_does_not_move_the_window_past_the_look() -> None:
    window = RevocationWindow(START, overlap=5 * SECOND)

    window.advance([START + timedelta(hours=1)], looked_at=START + 10 * SECOND)

    assert window.since == START + 10 * SECOND - 5 * SECOND


def test_stamps_found_again_in_the_overlap_do_not_move_the_window_back() -> None:
    window = RevocationWindow(START, overlap=5 * SECOND)
    window.advance([START + 9 * SECOND], looked_at=START + 10 * SECOND)

    window.advance([START + 6 * SECOND, START + 9 * SECOND], looked_at=START + 12 * SECOND)

    assert window.since == START + 9 * SECOND - 5 * SECOND


# -- the hub's connections by token --------------------------------------------------------


class FakeConnection:
    """A connection as the hub sees it, remembering whether it was told to close."""

    def __init__(self, operator: str, token: uuid.UUID) -> None:
        self.party = "water"
        self.operator = operator
        self.token = token
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

    assert hub.revoke([connection.token, uuid.uuid4()]) == 0
    assert connection.times_told == 0
    assert not hub.connected


def test_a_hub_knows_whether_any_connection_is_open(hub: Hub) -> None:
    first, second = FakeConnection("ana", uuid.uuid4()), FakeConnection("ben", uuid.uuid4())
    assert not hub.connected

    hub.connect(first)
    hub.connect(second)
    hub.disconnect(first)

    assert hub.connected
    hub.disconnect(second)
    hub.disconnect(second)  # twice: harmless
    assert not hub.connected
