"""Two admins agree a policy from the command line, against the real server.

Wilma (water's admin) proposes a change with ``hotline policy propose``; it is not in force
until Ravi (roads' admin) accepts it with ``hotline policy accept``; the log holds both
steps. Whoever may not act is refused with the problem's code and exit status 1.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.protocol.times import parse_time
from tests.e2e.cli_admins import demo_with_admins, hotline_as
from tests.e2e.conftest import Demo, Launcher

TIMEOUT = 10.0
CHANGES = {
    "checks": {"every_seconds": 3600, "answer_within_seconds": 300},
    "chase": {"urgent": {"reminders": 2}},
    "escalate_to": {"roads": ["dev"]},
}
"""Only what changes: the rest of the policy stays as in force."""


@pytest.fixture
def server(launch: Launcher) -> Demo:
    return demo_with_admins(launch)


def as_json(server: Demo, operator: str, home: Path, *args: str, stdin: str | None = None) -> Any:
    done = hotline_as(server, operator, home, *args, "--json", stdin=stdin)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def log_types(server: Demo) -> list[str]:
    events = httpx.get(
        f"{server.url}{server.events}", headers=server.auth("ana"), timeout=TIMEOUT
    ).json()["events"]
    return [event["type"] for event in events]


def test_a_policy_proposed_by_one_admin_is_in_force_once_the_other_accepts_it(
    server: Demo, tmp_path: Path
) -> None:
    changes = tmp_path / "changes.json"
    changes.write_text(json.dumps(CHANGES))
    before = as_json(server, "carla", tmp_path, "policy", "show")

    proposal = as_json(
        server, "wilma", tmp_path, "policy", "propose", "--file", str(changes), "--lapses-in", "2d"
    )
    shown = hotline_as(server, "ravi", tmp_path, "policy", "show")
    waiting = as_json(server, "dev", tmp_path, "policy", "show")
    own = hotline_as(server, "wilma", tmp_path, "policy", "accept", proposal["id"])
    accepted = hotline_as(server, "ravi", tmp_path, "policy", "accept", proposal["id"])
    again = hotline_as(server, "ravi", tmp_path, "policy", "accept", proposal["id"])
    after = as_json(server, "carla", tmp_path, "policy", "show")

    lapse = parse_time(proposal["lapses_at"]) - parse_time(proposal["proposed_at"])
    assert lapse == timedelta(days=2)
    assert proposal["policy"]["checks"] == CHANGES["checks"]
    assert proposal["policy"]["chase"]["urgent"]["reminders"] == 2
    # What the file left out stays as it was.
    assert proposal["policy"]["chase"]["routine"] == before["in_force"]["chase"]["routine"]
    assert proposal["policy"]["ack_deadline_seconds"] == before["in_force"]["ack_deadline_seconds"]

    assert shown.returncode == 0, shown.stderr
    assert f"Waiting: proposal {proposal['id']} of water/wilma" in shown.stdout
    assert "every 1 h, answered within 5 min" in shown.stdout
    assert waiting["in_force"] == before["in_force"]  # not in force until accepted
    assert waiting["pending"]["id"] == proposal["id"]

    assert own.returncode == 1
    assert "403 forbidden" in own.stderr
    assert accepted.returncode == 0, accepted.stderr
    assert f"accepted proposal {proposal['id']}" in accepted.stdout
    assert "checks       every 1 h, answered within 5 min" in accepted.stdout
    assert "No proposal waits." in accepted.stdout
    assert again.returncode == 0, again.stderr  # accepting what is in force changes nothing

    assert after["in_force"] == proposal["policy"]
    assert after["pending"] is None
    assert after["policy_id"] == proposal["id"]
    types = log_types(server)
    assert types[-2:] == ["channel.policy_proposed", "channel.policy_changed"]


def test_a_withdrawn_proposal_can_no_longer_be_accepted(server: Demo, tmp_path: Path) -> None:
    before = as_json(server, "wilma", tmp_path, "policy", "show")
    proposal = as_json(
        server,
        "ravi",
        tmp_path,
        "policy",
        "propose",
        "--file",
        "-",
        stdin=json.dumps({"require_signatures": False, "escalate_to": {"water": ["ben"]}}),
    )

    operator = hotline_as(server, "carla", tmp_path, "policy", "withdraw", proposal["id"])
    withdrawn = hotline_as(server, "ravi", tmp_path, "policy", "withdraw", proposal["id"])
    accepted = hotline_as(server, "wilma", tmp_path, "policy", "accept", proposal["id"])
    after = as_json(server, "wilma", tmp_path, "policy", "show")

    assert operator.returncode == 1
    assert "403 forbidden" in operator.stderr
    assert withdrawn.returncode == 0, withdrawn.stderr
    assert f"withdrew proposal {proposal['id']}" in withdrawn.stdout
    assert accepted.returncode == 1
    assert "409 proposal-closed" in accepted.stderr
    assert after == before
    assert log_types(server)[-2:] == ["channel.policy_proposed", "channel.policy_withdrawn"]


def test_a_proposal_file_that_is_not_a_policy_is_refused_before_anything_is_sent(
    server: Demo, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"chase": {"urgent": {"reminders": -1}}}))
    head = len(log_types(server))

    done = hotline_as(server, "wilma", tmp_path, "policy", "propose", "--file", str(broken))

    assert done.returncode == 1
    assert "chase.urgent.reminders" in done.stderr
    assert len(log_types(server)) == head
