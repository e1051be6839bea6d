"""When the supervisor starts a dead worker again, and when it stops trying (pure: no process)."""

from __future__ import annotations

import pytest

from server.supervisor import Restarts


def test_each_exit_within_the_window_doubles_the_pause_up_to_the_longest() -> None:
    restarts = Restarts(window=60.0, limit=6, first=0.5, longest=4.0)

    pauses = [restarts.pause_after_exit(float(second)) for second in range(6)]

    assert pauses == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_an_exit_after_a_quiet_window_waits_only_the_first_pause() -> None:
    restarts = Restarts(window=60.0, limit=5, first=0.5, longest=8.0)
    for second in range(4):
        restarts.pause_after_exit(float(second))

    assert restarts.pause_after_exit(3.0 + 60.0) == 0.5
    assert list(restarts.exits) == [63.0]


def test_one_exit_more_than_the_limit_within_the_window_means_give_up() -> None:
    restarts = Restarts(window=60.0, limit=5, first=0.5, longest=8.0)

    pauses = [restarts.pause_after_exit(second * 10.0) for second in range(6)]

    assert pauses[:5] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert pauses[5] is None


@pytest.mark.parametrize("gap", [12.0, 20.0])
def test_a_worker_that_exits_now_and_then_is_restarted_for_ever(gap: float) -> None:
    restarts = Restarts(window=60.0, limit=5, first=0.5, longest=8.0)

    pauses = [restarts.pause_after_exit(n * gap) for n in range(50)]

    assert None not in pauses
    assert len(restarts.exits) <= 5
