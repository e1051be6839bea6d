"""``hotline listen --answer-checks`` answers the liveness checks that ask its party.

Against the real server, on the real clock: the admins agree to check the line every
minute (the shortest the policy allows), with 30 seconds to answer. Carla's ``listen``,
started before, answers the first check that asks roads; the one that asks water stays
unanswered by her. The server process cannot be given another clock, so this test waits
about a minute, for the event itself and nothing else; the same behaviour is checked
without waiting, on a hand-moved clock, in ``tests/integration/test_sdk_answer_checks.py``.
"""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.e2e.cli_admins import demo_with_admins, hotline_as
from tests.e2e.conftest import STOP_TIMEOUT, Demo, Launcher, clean_env

EVERY = 60
"""Seconds between two rounds of checks: the policy's shortest."""
WAIT = EVERY + 60.0
"""Seconds the answer may take to show, the first round included."""
ANSWERED = re.compile(r"check\.answered by roads/carla  check (\S+)  answered for roads in ")


@pytest.fixture
def server(launch: Launcher) -> Demo:
    return demo_with_admins(launch)


class Listener:
    """``hotline listen`` as a process; its standard output read line by line by a thread."""

    def __init__(self, server: Demo, operator: str, home: Path, *args: str) -> None:
        env = clean_env(
            HOTLINE_URL=server.url,
            HOTLINE_TOKEN=server.tokens[operator],
            HOTLINE_CHANNEL=server.channel,
            HOME=str(home),
            COLUMNS="200",
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server", "listen", *args],
            cwd=home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="listen-stdout", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        """The first line that matches, or fail once ``timeout`` seconds pass without one."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no line matching {pattern.pattern!r} within {timeout:g} s")
            if line is None:
                pytest.fail(f"listen ended before a line matched {pattern.pattern!r}")
            if found := pattern.search(line):
                return found

    def stop(self) -> tuple[int, str]:
        """SIGTERM it, as a service manager would; returns its exit status and stderr."""
        self.process.send_signal(signal.SIGTERM)
        try:
            _, stderr = self.process.communicate(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail("listen did not stop on SIGTERM")
        return self.process.returncode, stderr


def test_listen_told_to_answers_the_check_that_asks_its_party(server: Demo, tmp_path: Path) -> None:
    checks = {"checks": {"every_seconds": EVERY, "answer_within_seconds": 30}}
    # From the start of the log: whenever the socket opens, no check is missed.
    listener = Listener(server, "carla", tmp_path, "--after", "0", "--answer-checks")
    try:
        proposed = hotline_as(
            server,
            "wilma",
            tmp_path,
            "policy",
            "propose",
            "--file",
            "-",
            "--json",
            stdin=json.dumps(checks),
        )
        assert proposed.returncode == 0, proposed.stderr
        proposal = json.loads(proposed.stdout)["id"]
        accepted = hotline_as(server, "ravi", tmp_path, "policy", "accept", proposal)
        assert accepted.returncode == 0, accepted.stderr

        check = listener.wait_for(ANSWERED, WAIT).group(1)
    finally:
        status, stderr = listener.stop()

    listed = hotline_as(server, "dev", tmp_path, "checks", "--json")
    assert listed.returncode == 0, listed.stderr
    found = {c["id"]: c for c in json.loads(listed.stdout)}
    assert found[check]["party"] == "roads"
    assert (found[check]["status"], found[check]["answered_by"]) == ("answered", "carla")
    water = [c for c in found.values() if c["party"] == "water"]
    assert water, "the round asks water too"
    assert all(c["answered_by"] != "carla" for c in water)
    assert status == 0, stderr
    assert "could not answer" not in stderr
