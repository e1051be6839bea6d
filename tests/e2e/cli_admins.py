"""The demo server with an admin on each side, and the ``hotline`` command run as anyone.

The demo's own operators (ana, ben: water; carla, dev: roads) speak for their parties but
may not touch the policy; two admins are added to the same database before the demo
starts: wilma for water, ravi for roads.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from tests.e2e.conftest import COMMAND_TIMEOUT, Demo, Launcher, clean_env, hotline

__all__ = ["ADMINS", "demo_with_admins", "hotline_as"]

ADMINS = {"wilma": ("water", "Wilma Banks"), "ravi": ("roads", "Ravi Kumar")}


def _admin(launch: Launcher, *args: str) -> str:
    done = hotline("admin", *args, "--database-url", launch.database_url, cwd=launch.directory)
    assert done.returncode == 0, f"admin {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout.strip()


def demo_with_admins(launch: Launcher) -> Demo:
    """The demo on a database that has an admin of each party; their tokens are in ``tokens``."""
    _admin(launch, "party", "create", "water", "--name", "Riverside Water")
    _admin(launch, "party", "create", "roads", "--name", "City Roads Department")
    tokens = {}
    for operator, (party, name) in ADMINS.items():
        _admin(
            launch,
            "operator",
            "create",
            operator,
            "--party",
            party,
            "--name",
            name,
            "--role",
            "admin",
        )
        tokens[operator] = _admin(launch, "token", "create", operator, "--label", "e2e")
    demo = launch.demo(launch.database_url)  # adds the demo's operators to the same parties
    return replace(demo, tokens={**demo.tokens, **tokens})


def hotline_as(
    server: Demo, operator: str, home: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``hotline *args`` as ``operator`` on the demo channel, whatever its outcome."""
    env = clean_env(
        HOTLINE_URL=server.url,
        HOTLINE_TOKEN=server.tokens[operator],
        HOTLINE_CHANNEL=server.channel,
        HOME=str(home),  # so that no real ~/.config/hotline/profile.toml is read
        COLUMNS="200",
    )
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=home,
        env=env,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
