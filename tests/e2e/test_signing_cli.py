"""Signing from the command line against the real server: keygen, register-key, send, ack.

Ana and Carla each make a key, register it on the demo channel, and send or acknowledge
with ``HOTLINE_SIGNING_KEY_FILE`` set; the log they get back checks out with
``check_signatures``. The secret key never appears in what the commands print.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from client.protocol.signatures import check_signatures
from tests.e2e.conftest import COMMAND_TIMEOUT, Demo, Launcher, clean_env, hotline

TIMEOUT = 10.0


def hotline_as(
    server: Demo, operator: str, home: Path, *args: str, key: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``hotline *args`` as ``operator``, signing with ``key`` if given."""
    env = clean_env(
        HOTLINE_URL=server.url,
        HOTLINE_TOKEN=server.tokens[operator],
        HOME=str(home),  # so that no real ~/.config/hotline/profile.toml is read
        COLUMNS="200",
    )
    if key is not None:
        env["HOTLINE_SIGNING_KEY_FILE"] = str(key)
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=home,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def keygen(home: Path, operator: str) -> tuple[Path, str]:
    """``hotline keygen`` for ``operator``; returns the key file and the printed public key."""
    path = home / f"{operator}.key"
    done = hotline("keygen", operator, "--out", str(path), cwd=home)
    assert done.returncode == 0, done.stderr
    secret = path.read_text().strip()
    assert secret.startswith(f"PRIVATE+KEY+{operator}+")
    assert secret not in done.stdout + done.stderr
    return path, done.stdout.strip()


def test_operators_sign_from_the_command_line_and_the_log_checks_out(
    server: Demo, tmp_path: Path
) -> None:
    ana_key, ana_public = keygen(tmp_path, "ana")
    carla_key, carla_public = keygen(tmp_path, "carla")
    assert stat.S_IMODE(ana_key.stat().st_mode) == 0o600

    def as_(operator: str, key: Path, *args: str) -> dict[str, object]:
        done = hotline_as(server, operator, tmp_path, *args, "--json", key=key)
        assert done.returncode == 0, done.stderr
        assert key.read_text().strip() not in done.stdout + done.stderr
        parsed: dict[str, object] = json.loads(done.stdout)
        return parsed

    registered = as_("ana", ana_key, "register-key")
    as_("carla", carla_key, "register-key")
    sent = as_("ana", ana_key, "send", "Water main renewal, Mill Lane")
    as_("carla", carla_key, "ack", str(sent["id"]))

    assert registered["verifier_key"] == ana_public
    events = httpx.get(
        f"{server.url}{server.events}", headers=server.auth("dev"), timeout=TIMEOUT
    ).json()["events"]
    report = check_signatures(events)
    assert (report.signed, report.unsigned, report.failures) == (2, 0, [])
    assert report.keys == {"ana": [ana_public], "carla": [carla_public]}


def test_keygen_refuses_to_overwrite_a_key_file(tmp_path: Path) -> None:
    path, _ = keygen(tmp_path, "ana")
    before = path.read_text()

    again = hotline("keygen", "ana", "--out", str(path), cwd=tmp_path)

    assert again.returncode == 1
    assert "exists already" in again.stderr
    assert path.read_text() == before


def test_a_channel_created_to_require_signatures_refuses_an_unsigned_send(
    launch: Launcher, tmp_path: Path
) -> None:
    database = launch.database_url
    for args in (
        ("party", "create", "water", "--name", "Riverside Water"),
        ("party", "create", "roads", "--name", "City Roads"),
        (
            "channel",
            "create",
            "strict",
            "--party",
            "water",
            "--party",
            "roads",
            "--require-signatures",
        ),
    ):
        done = hotline("admin", *args, "--database-url", database, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    assert "signatures required" in done.stdout
    demo = launch.demo(database)  # adds the demo's operators to the same parties

    unsigned = hotline_as(demo, "ana", tmp_path, "send", "Unsigned", "--channel", "strict")

    assert unsigned.returncode == 1
    assert "requires notices and decisions signed" in unsigned.stderr
