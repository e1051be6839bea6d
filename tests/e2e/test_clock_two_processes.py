"""Two server processes on one database fire each due action once.

Each process runs its own scheduler on the same ``due_actions`` table, and they wake at the
same due times, so they race for the same rows. On PostgreSQL the claim is ``SELECT … FOR
UPDATE SKIP LOCKED``: a row one process has taken is invisible to the other until it is
gone. On SQLite the writer's ``BEGIN IMMEDIATE`` takes the database's only write lock, so
the second process finds the rows already fired and deleted.

Twenty urgent notices, sent through both servers, are chased within seconds (``QUICK`` in
``clock_helpers``): overdue, two reminders, escalation, each logged once per notice, and
the due actions all gone. The test follows the channel on a socket to each process and
waits until the two between them have seen every escalation (each socket hears both
processes' commits, ``tests/e2e/test_fanout_processes.py``; either one seeing them is
what counts here).
"""

from __future__ import annotations

import asyncio
import json

from client.protocol.times import format_time, parse_time
from client.protocol.vocabulary import Priority
from tests.e2e.clock_helpers import (
    QUICK,
    chase_of,
    dues_left,
    prepare,
    read_whole_log,
    send_urgent,
    until_all,
    watching,
)
from tests.e2e.conftest import Launcher, ServerProcess

NOTICES = 20
CHASE_TIMEOUT = 60.0
"""Seconds both servers together may take to chase every notice to its escalation."""


async def test_two_server_processes_on_one_database_fire_each_due_action_once(
    database_url: str, launch: Launcher
) -> None:
    await prepare(database_url)
    first = launch.demo(database_url)
    second, second_url = launch.serve(database_url)
    urls = [first.url, second_url]
    chase = QUICK.chase[Priority.URGENT]
    assert chase.escalate_after is not None

    async with (
        watching(first.url, first.tokens["carla"]) as one,
        watching(second_url, first.tokens["dev"]) as two,
    ):
        sent = await asyncio.gather(
            *(send_urgent(urls[n % 2], first.tokens["ana"]) for n in range(NOTICES))
        )

        def escalated() -> bool:
            seen = {e["seq"]: e for e in [*one.events, *two.events]}.values()
            return sum(1 for e in seen if e["type"] == "notice.escalated") == NOTICES

        await until_all([one, two], escalated, within=CHASE_TIMEOUT)
    log = await read_whole_log(first.url, first.tokens["carla"])
    for server in (first.process, second):
        assert server.stop() == 0  # its log is whole once it has exited
    by_process = [fired_by(server) for server in (first.process, second)]

    for notice in sent:
        deadline = parse_time(notice["ack_due_at"])
        assert chase_of(log, notice["id"]) == [
            ("notice.overdue", format_time(deadline), None),
            ("notice.reminded", format_time(chase.reminder_at(deadline, 1)), 1),
            ("notice.reminded", format_time(chase.reminder_at(deadline, 2)), 2),
            ("notice.escalated", format_time(deadline + chase.escalate_after), None),
        ], f"notice {notice['id']}: each step once (events fired by each process: {by_process})"
    assert len(log) == NOTICES * 5, "each notice: sent, overdue, two reminders, escalated"
    assert sum(by_process) == NOTICES * 4, f"events fired by each process: {by_process}"
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    assert await dues_left(database_url) == 0


def fired_by(server: ServerProcess) -> int:
    """How many events a server's clock says it fired (its ``clock fired`` log lines)."""
    lines = [json.loads(line) for line in server.log_lines() if line.startswith("{")]
    return sum(line["events"] for line in lines if line.get("message") == "clock fired")
