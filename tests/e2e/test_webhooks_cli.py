"""``hotline webhooks``, ``hotline email`` and the policy's mail switch, against the real server.

The demo server, whose admins are wanda (water) and raj (roads). A subscription is
made, listed, shown, rotated, disabled, enabled and removed from the command line; its
secret is printed by ``add`` and ``rotate`` only, with the warning to keep it, and is in
no file the command line wrote. Whoever may not act is refused with the problem's code and
exit status 1.

The server refuses private addresses for webhooks, so most subscriptions here name a
public address that is never called: no event is sent while they exist, and the tests
remove them. One test allows loopback, as an administrator allows a network of its own,
and goes all the way: a webhook added with the command line is called, its signature
checked by the documented receiver with the secret ``add`` printed, and a notice nobody
of the roads department has seen is mailed (aiosmtpd) to the address ``hotline email
set`` gave, once both admins agreed ``--mail-when-offline``; ``hotline webhooks
deliveries`` lists both.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli_admins import hotline_as
from tests.e2e.conftest import Demo, Launcher
from tests.e2e.test_outbox_delivery import Recorder, closed_port, receiving
from tests.smtp import Mailbox

WAIT = 60.0
"""Seconds a test waits for the delivery log to settle (each command takes seconds)."""

NEVER_CALLED = "https://93.184.215.14/hotline"
"""A public address literal (no name to resolve): accepted, and called by no test, since
the subscription is disabled before any event and removed after."""


@pytest.fixture
def server(launch: Launcher) -> Demo:
    return launch.demo()


def as_json(server: Demo, operator: str, home: Path, *args: str) -> Any:
    done = hotline_as(server, operator, home, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def secret_in(printed: str) -> str:
    """The secret ``add`` or ``rotate`` printed."""
    (secret,) = [
        line.split()[1] for line in printed.splitlines() if line.strip().startswith("secret")
    ]
    return secret


async def settled(
    server: Demo, operator: str, home: Path, *args: str, done: Callable[[list[Any]], bool]
) -> list[Any]:
    """``hotline webhooks deliveries *args --json`` once ``done`` holds for it, or fail.

    Nothing announces that the worker recorded a delivery: the command is run again until
    the log shows it, within ``WAIT`` seconds.
    """
    async with asyncio.timeout(WAIT):
        while True:
            found: list[Any] = as_json(server, operator, home, "webhooks", "deliveries", *args)
            if done(found):
                return found
            await asyncio.sleep(0.2)  # no event says so: ask again


def files_under(home: Path) -> str:
    """Everything the command line may have written in its home, as one text."""
    return "".join(path.read_text(errors="replace") for path in home.rglob("*") if path.is_file())


def test_an_admin_manages_a_webhook_and_sees_its_secret_only_when_it_is_made(
    server: Demo, tmp_path: Path
) -> None:
    added = hotline_as(
        server, "wanda", tmp_path, "webhooks", "add", NEVER_CALLED, "--type", "notice.sent"
    )
    assert added.returncode == 0, added.stderr
    webhook = next(
        line.split()[1] for line in added.stdout.splitlines() if line.startswith("webhook ")
    )
    (secret,) = [
        line.split()[1] for line in added.stdout.splitlines() if line.strip().startswith("secret")
    ]
    assert secret.startswith("whsec_")
    assert "events     notice.sent" in added.stdout
    assert "Keep this secret now" in added.stderr
    disabled = hotline_as(server, "wanda", tmp_path, "webhooks", "disable", webhook)
    assert disabled.returncode == 0, disabled.stderr
    assert f"webhook {webhook}: disabled: disabled by wanda" in disabled.stdout

    listed = hotline_as(server, "wanda", tmp_path, "webhooks", "list")
    shown = hotline_as(server, "wanda", tmp_path, "webhooks", "show", webhook)
    rotated = hotline_as(server, "wanda", tmp_path, "webhooks", "rotate", webhook)
    after = as_json(server, "wanda", tmp_path, "webhooks", "show", webhook)
    enabled = as_json(server, "wanda", tmp_path, "webhooks", "enable", webhook)
    assert as_json(server, "wanda", tmp_path, "webhooks", "disable", webhook)["enabled"] is False
    deliveries = hotline_as(server, "wanda", tmp_path, "webhooks", "deliveries", webhook)

    assert listed.returncode == 0, listed.stderr
    assert webhook in listed.stdout
    assert NEVER_CALLED in listed.stdout
    assert shown.returncode == 0, shown.stderr
    assert "made" in shown.stdout
    assert "by wanda" in shown.stdout
    assert rotated.returncode == 0, rotated.stderr
    assert "old secret signs too until" in rotated.stdout
    (new_secret,) = [
        line.split()[1] for line in rotated.stdout.splitlines() if line.strip().startswith("secret")
    ]
    assert new_secret.startswith("whsec_")
    assert new_secret != secret
    assert "Keep this secret now" in rotated.stderr
    # Only add and rotate print a secret; no file holds one.
    assert "whsec_" not in listed.stdout + shown.stdout + json.dumps(after) + json.dumps(enabled)
    assert after["previous_secret_until"] is not None
    assert enabled["enabled"] is True
    assert enabled["failures"] == 0
    assert deliveries.returncode == 0, deliveries.stderr
    assert "Nothing sent" in deliveries.stdout
    assert "whsec_" not in files_under(tmp_path)

    removed = hotline_as(server, "wanda", tmp_path, "webhooks", "remove", webhook)
    again = hotline_as(server, "wanda", tmp_path, "webhooks", "remove", webhook)

    assert removed.returncode == 0, removed.stderr
    assert f"removed webhook {webhook}" in removed.stdout
    assert again.returncode == 1
    assert "404 not-found" in again.stderr
    assert as_json(server, "wanda", tmp_path, "webhooks", "list") == []


def test_an_operator_may_not_manage_webhooks_nor_see_the_other_partys(
    server: Demo, tmp_path: Path
) -> None:
    made = as_json(server, "wanda", tmp_path, "webhooks", "add", NEVER_CALLED)
    as_json(server, "wanda", tmp_path, "webhooks", "disable", made["id"])

    operator = hotline_as(server, "ana", tmp_path, "webhooks", "add", NEVER_CALLED)
    listed = hotline_as(server, "ben", tmp_path, "webhooks", "list")
    other = hotline_as(server, "raj", tmp_path, "webhooks", "show", made["id"])
    theirs = as_json(server, "raj", tmp_path, "webhooks", "list")

    assert operator.returncode == 1
    assert "403 forbidden" in operator.stderr
    assert listed.returncode == 1
    assert "403 forbidden" in listed.stderr
    assert other.returncode == 1
    assert "404 not-found" in other.stderr
    assert theirs == []
    assert hotline_as(server, "wanda", tmp_path, "webhooks", "remove", made["id"]).returncode == 0


def test_a_private_address_is_refused_with_its_code_and_nothing_is_made(
    server: Demo, tmp_path: Path
) -> None:
    done = hotline_as(server, "wanda", tmp_path, "webhooks", "add", "http://10.0.0.7/hotline")
    bad_overlap = hotline_as(
        server,
        "wanda",
        tmp_path,
        "webhooks",
        "rotate",
        "3f2a9c1e-7b4d-4e8f-9a10-6c5d4e3f2a1b",
        "--overlap",
        "soon",
    )

    assert done.returncode == 1
    assert "422 webhook-address-refused" in done.stderr
    assert "whsec_" not in done.stdout + done.stderr
    assert bad_overlap.returncode == 2
    assert "--overlap" in bad_overlap.stderr
    assert as_json(server, "wanda", tmp_path, "webhooks", "list") == []


def test_an_operator_sets_and_clears_its_email_and_status_says_it(
    server: Demo, tmp_path: Path
) -> None:
    set_ = hotline_as(server, "ana", tmp_path, "email", "set", "ana.lopez@water.example")
    status = hotline_as(server, "ana", tmp_path, "status")
    by_admin = as_json(
        server, "wanda", tmp_path, "email", "set", "ben@water.example", "--operator", "ben"
    )
    not_admin = hotline_as(
        server, "ana", tmp_path, "email", "set", "ben@elsewhere.example", "--operator", "ben"
    )
    invalid = hotline_as(server, "ana", tmp_path, "email", "set", "not an address")
    cleared = hotline_as(server, "ana", tmp_path, "email", "clear")
    me = as_json(server, "ana", tmp_path, "status")["me"]

    assert set_.returncode == 0, set_.stderr
    assert "mail for ana goes to ana.lopez@water.example" in set_.stdout
    assert "e-mail    ana.lopez@water.example" in status.stdout
    assert by_admin == {"operator": "ben", "email": "ben@water.example"}
    assert not_admin.returncode == 1
    assert "403 forbidden" in not_admin.stderr
    assert invalid.returncode == 1
    assert "422" in invalid.stderr
    assert cleared.returncode == 0, cleared.stderr
    assert "ana has no e-mail address now" in cleared.stdout
    assert me["email"] is None
    assert as_json(server, "ben", tmp_path, "status")["me"]["email"] == "ben@water.example"


def test_the_mail_switch_is_proposed_with_a_flag_and_shown_once_accepted(
    server: Demo, tmp_path: Path
) -> None:
    nothing = hotline_as(server, "wanda", tmp_path, "policy", "propose")
    proposal = as_json(server, "wanda", tmp_path, "policy", "propose", "--mail-when-offline")
    waiting = hotline_as(server, "raj", tmp_path, "policy", "show")
    accepted = hotline_as(server, "raj", tmp_path, "policy", "accept", proposal["id"])

    assert nothing.returncode == 2
    assert "--mail-when-offline" in nothing.stderr
    assert proposal["policy"]["mail_when_offline"] is True
    assert waiting.returncode == 0, waiting.stderr
    assert "mail unseen  no" in waiting.stdout  # in force
    assert "mail unseen  a notice the receiving party has not seen is mailed" in waiting.stdout
    assert accepted.returncode == 0, accepted.stderr
    after = as_json(server, "carla", tmp_path, "policy", "show")
    assert after["in_force"]["mail_when_offline"] is True

    off = as_json(server, "raj", tmp_path, "policy", "propose", "--no-mail-when-offline")
    assert off["policy"]["mail_when_offline"] is False
    assert off["policy"]["ack_deadline_seconds"] == after["in_force"]["ack_deadline_seconds"]


async def test_a_webhook_added_from_the_command_line_is_called_and_unseen_notices_are_mailed(
    launch: Launcher, mailbox: Mailbox, tmp_path: Path
) -> None:
    env = {
        **mailbox.env(),
        "HOTLINE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "HOTLINE_MAIL_OFFLINE_AFTER_SECONDS": "1",
    }
    server = launch.demo(env=env)
    with closed_port() as port:  # nothing listens yet: no event is sent before the receiver is
        added = hotline_as(
            server,
            "wanda",
            tmp_path,
            "webhooks",
            "add",
            f"http://127.0.0.1:{port}/hotline",
            "--type",
            "notice.sent",
        )
    assert added.returncode == 0, added.stderr
    receiver = Recorder(secret_in(added.stdout))
    proposal = as_json(server, "wanda", tmp_path, "policy", "propose", "--mail-when-offline")
    assert as_json(server, "raj", tmp_path, "policy", "accept", proposal["id"])["in_force"][
        "mail_when_offline"
    ]
    as_json(server, "carla", tmp_path, "email", "set", "carla.rossi@roads.example")

    with receiving(receiver, port):
        sent = as_json(server, "ana", tmp_path, "send", "Valve closure, Mill Lane")
        await receiver.until(lambda r: len(r.received) == 1)
        [mail] = await mailbox.wait_for(1)
        calls = await settled(
            server, "wanda", tmp_path, done=lambda log: bool(log) and log[0]["status"] != "waiting"
        )
    mailed = await settled(
        server,
        "raj",
        tmp_path,
        "--kind",
        "mail",
        done=lambda log: bool(log) and log[0]["status"] != "waiting",
    )
    table = hotline_as(server, "wanda", tmp_path, "webhooks", "deliveries")

    # The documented receiver verified the call with the secret add printed.
    assert receiver.received[0]["data"]["data"]["notice"] == sent["id"]
    assert [(d["event_type"], d["status"], d["seq"]) for d in calls] == [
        ("notice.sent", "delivered", sent["seq"])
    ]
    assert mail.rcpt_tos == ("carla.rossi@roads.example",)
    assert "Valve closure, Mill Lane" in mail.text()
    assert [(d["kind"], d["target"], d["status"]) for d in mailed] == [
        ("mail", "party:roads", "delivered")
    ]
    assert table.returncode == 0, table.stderr
    assert f"#{sent['seq']} notice.sent" in table.stdout
    assert "delivered" in table.stdout
