"""The verifier checks the events of the policy and of clashing plans like any other.

On a real demo server, the two admins agree a policy with liveness checks, two plans clash
in one street and a cancellation resolves the clash: five kinds of event new to the log.
``hotline verify`` finds the log whole, and names one of the new events once it is changed
behind the server's back.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx

from client.protocol.times import format_time, utc_now
from tests.e2e.conftest import COMMAND_TIMEOUT, Demo, Launcher, clean_env

WAIT = 15.0


def verify(demo: Demo, state: Path) -> subprocess.CompletedProcess[str]:
    """``hotline verify`` as carla of the roads department."""
    return subprocess.run(
        [sys.executable, "-m", "server", "verify", "--state", str(state)],
        env=clean_env(
            HOTLINE_URL=demo.url,
            HOTLINE_TOKEN=demo.tokens["carla"],
            HOTLINE_CHANNEL=demo.channel,
            COLUMNS="200",
        ),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def tell(demo: Demo) -> list[str]:
    """Agree a policy, clash two plans in Mill Lane, cancel one; return the log's types."""
    channel = f"/api/v1/channels/{demo.channel}"
    start = utc_now() + timedelta(days=3)
    window = {
        "starts_at": format_time(start),
        "ends_at": format_time(start + timedelta(days=2)),
    }
    with httpx.Client(base_url=demo.url, timeout=WAIT) as http:
        policy = http.get(f"{channel}/policy", headers=demo.auth("wanda")).json()["in_force"]
        policy["checks"] = {"every_seconds": 3600, "answer_within_seconds": 300}
        proposal = {"id": str(uuid4()), "policy": policy}
        made = http.post(f"{channel}/policy/proposals", json=proposal, headers=demo.auth("wanda"))
        assert made.status_code == 201, made.text
        accepted = http.post(
            f"{channel}/policy/proposals/{proposal['id']}/accept", headers=demo.auth("raj")
        )
        assert accepted.status_code == 200, accepted.text
        notices = []
        for sender, area in (("ana", "Mill Lane"), ("carla", " mill  lane ")):
            notice = {"id": str(uuid4()), "subject": "Works", "activity": window, "area": area}
            sent = http.post(demo.notices, json=notice, headers=demo.auth(sender))
            assert sent.status_code == 201, sent.text
            notices.append(notice["id"])
        cancelled = http.post(
            f"{demo.notices}/{notices[1]}/cancellation", json={}, headers=demo.auth("carla")
        )
        assert cancelled.status_code == 200, cancelled.text
        events = http.get(demo.events, headers=demo.auth("carla")).json()["events"]
    return [event["type"] for event in events]


def test_a_log_with_a_policy_agreed_and_a_clash_resolved_verifies(
    launch: Launcher, tmp_path: Path
) -> None:
    demo = launch.demo()

    types = tell(demo)
    found = verify(demo, tmp_path / "state.json")

    assert types == [
        "channel.policy_proposed",
        "channel.policy_changed",
        "notice.sent",
        "notice.sent",
        "conflict.detected",
        "notice.cancelled",
        "conflict.resolved",
    ]
    assert found.returncode == 0, found.stdout + found.stderr
    assert "VERIFIED" in found.stdout


def test_a_conflict_changed_through_sql_is_named(launch: Launcher, tmp_path: Path) -> None:
    demo = launch.demo()
    tell(demo)
    path = demo.database_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "UPDATE events SET data = replace(data, 'mill lane', 'elm street') "
            "WHERE channel_id = ? AND seq = 5",
            (demo.channel,),
        )

    found = verify(demo, tmp_path / "state.json")

    assert found.returncode == 1
    assert "event 5 is not the event the signed log holds" in found.stdout
