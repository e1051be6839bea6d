"""``hotline admin`` against a database file, and a server started on that file with ``serve``."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Launcher, hotline

TIMEOUT = 10.0
"""Seconds any one HTTP request may take."""
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Admin:
    """``hotline admin`` on one SQLite file, which the first command creates."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.database_url = f"sqlite:///{directory / 'admin.db'}"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``hotline admin *args``, whatever its outcome."""
        return hotline("admin", *args, "--database-url", self.database_url, cwd=self.directory)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``hotline admin *args``; it must succeed."""
        done = self.run(*args)
        assert done.returncode == 0, f"admin {' '.join(args)} failed:\n{done.stderr}"
        return done


@pytest.fixture
def admin(tmp_path: Path) -> Admin:
    """The admin command line on a fresh database file."""
    return Admin(tmp_path)


@pytest.fixture(scope="module")
def admin_with_water(tmp_path_factory: pytest.TempPathFactory) -> Admin:
    """The admin command line on a database holding one party, ``water``.

    Shared by the tests of refusals: a refused command changes nothing.
    """
    admin = Admin(tmp_path_factory.mktemp("admin"))
    admin.ok("party", "create", "water", "--name", "Riverside Water")
    return admin


def test_admin_commands_set_up_a_channel_whose_token_works_until_revoked(
    launch: Launcher, admin: Admin
) -> None:
    admin.ok("party", "create", "water", "--name", "Riverside Water")
    admin.ok("party", "create", "roads", "--name", "City Roads Department")
    admin.ok("operator", "create", "ana", "--party", "water", "--name", "Ana Lopez")
    admin.ok("channel", "create", "water-roads", "--party", "water", "--party", "roads")
    created = admin.ok("token", "create", "ana", "--label", "e2e")
    token = created.stdout.strip()
    found = UUID.search(created.stderr)
    assert found, created.stderr
    token_id = found.group()
    listed = admin.ok("token", "list")

    _, url = launch.serve(admin.database_url)
    notices = "/api/v1/channels/water-roads/notices"
    with httpx.Client(
        base_url=url, timeout=TIMEOUT, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        me = client.get("/api/v1/me")
        sent = client.post(notices, json={"id": str(uuid.uuid4()), "subject": "Hydrant test"})
        revoked = admin.run("token", "revoke", token_id)
        refused = client.get("/api/v1/me")

    assert token.startswith("hl_")
    assert token_id in listed.stdout
    assert token not in listed.stdout + listed.stderr, "a token is shown only once"
    assert me.status_code == 200
    assert me.json()["operator"]["id"] == "ana"
    assert me.json()["party"]["id"] == "water"
    assert sent.status_code == 201, sent.text
    assert revoked.returncode == 0, revoked.stderr
    assert refused.status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["channel", "create", "lonely", "--party", "water"], "exactly two parties"),
        (["channel", "create", "w-w", "--party", "water", "--party", "water"], "two different"),
        (["channel", "create", "w-x", "--party", "water", "--party", "nowhere"], "no party"),
        (["operator", "create", "zoe", "--party", "nowhere", "--name", "Zoe"], "no party nowhere"),
        (["party", "create", "water", "--name", "Water again"], "party water exists already"),
        (["party", "create", "Big Water", "--name", "Big Water"], "lower-case"),
        (["token", "create", "nobody"], "no operator nobody"),
        (["token", "revoke", str(uuid.UUID(int=0))], "no live token"),
        (["token", "revoke", "not-a-uuid"], "Invalid value for 'token_id'"),
    ],
    ids=[
        "one-party",
        "same-party-twice",
        "unknown-party-in-channel",
        "unknown-party-of-operator",
        "party-twice",
        "malformed-id",
        "unknown-operator",
        "unknown-token",
        "malformed-token-id",
    ],
)
def test_admin_refuses_bad_input_with_a_clear_message_and_a_failing_status(
    admin_with_water: Admin, args: list[str], message: str
) -> None:
    refused = admin_with_water.run(*args)

    assert refused.returncode != 0
    assert message in refused.stderr
    assert "Traceback" not in refused.stderr
    assert refused.stdout == ""
