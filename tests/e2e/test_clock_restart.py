"""A server killed while reminders are due fires each of them once after it restarts.

On SQLite and on PostgreSQL: the demo's channel chases an urgent notice within seconds
(``QUICK`` in ``clock_helpers``). The first server logs the notice overdue and reminds roads
once; as soon as that reminder reaches a socket the server is killed with SIGKILL, its
second reminder and the escalation still to come. While no server runs, both fall due. A
new server on the same database must then log each of them exactly once, late, each
stamped with the time it fired and the time it was due, and leave no due action behind.
"""

from __future__ import annotations

import asyncio

from client.protocol.times import format_time, parse_time, utc_now
from client.protocol.vocabulary import Priority
from tests.e2e.clock_helpers import (
    QUICK,
    chase_of,
    count,
    dues_left,
    prepare,
    read_whole_log,
    send_urgent,
    watching,
)
from tests.e2e.conftest import Launcher

CHASE_TIMEOUT = 30.0
"""Seconds a server may take to reach a step of the chase (the steps come seconds apart)."""


async def test_a_server_killed_while_reminders_are_due_fires_each_once_after_restart(
    database_url: str, launch: Launcher
) -> None:
    await prepare(database_url)
    chase = QUICK.chase[Priority.URGENT]
    first = launch.demo(database_url)
    async with watching(first.url, first.tokens["carla"]) as watcher:
        notice = await send_urgent(first.url, first.tokens["ana"])
        await watcher.until(lambda log: count(log, "notice.reminded") == 1, within=CHASE_TIMEOUT)
        first.process.kill()  # no warning: the second reminder and the escalation are to come
    killed_at = utc_now()
    deadline = parse_time(notice["ack_due_at"])
    reminders = [chase.reminder_at(deadline, n) for n in (1, 2)]
    assert chase.escalate_after is not None
    escalation = deadline + chase.escalate_after
    assert killed_at < reminders[1], "killed too late: the second reminder was due already"
    # What is awaited here is time itself: the rest of the chase falls due while no server
    # runs. No event can announce that, since nothing is running to log one.
    await asyncio.sleep((escalation - utc_now()).total_seconds() + 0.1)

    second = launch.demo(database_url)
    async with watching(second.url, second.tokens["carla"]) as watcher:
        await watcher.until(lambda log: count(log, "notice.escalated") == 1, within=CHASE_TIMEOUT)
    log = await read_whole_log(second.url, second.tokens["carla"])
    fired = {(e["type"], e["data"].get("reminder")): e for e in log if e["actor"] is None}

    assert chase_of(log, notice["id"]) == [
        ("notice.overdue", format_time(deadline), None),
        ("notice.reminded", format_time(reminders[0]), 1),
        ("notice.reminded", format_time(reminders[1]), 2),
        ("notice.escalated", format_time(escalation), None),
    ], "each step of the chase is logged once, in order"
    for step in (("notice.reminded", 2), ("notice.escalated", None)):
        at = parse_time(fired[step]["at"])
        assert at > escalation, f"{step[0]} fired late, by the restarted server"
    for event in fired.values():
        assert parse_time(event["at"]) >= parse_time(event["data"]["due_at"]), "never early"
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    assert await dues_left(database_url) == 0, "the chase is over: nothing left to fire"
