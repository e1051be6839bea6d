"""Fixtures for end-to-end tests: the real server, started as its own process, over real HTTP.

``launch`` starts ``python -m server demo --json`` (or ``serve``) in the test's temporary
directory. Two threads watch the process: one reads its standard output (where ``demo``
prints one JSON line once the socket listens), one copies its standard error line by line
to a file, so the pipe can never fill and stall the server. Every wait is bounded: a
server that does not start, or does not stop, fails the test and is killed. When a test
fails, the server's log is shown beside the failure.

When the test ends, every server still running is sent SIGTERM and must exit with status 0.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Generator, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

START_TIMEOUT = 30.0
"""Seconds a server may take to migrate, seed and listen."""
STOP_TIMEOUT = 20.0
"""Seconds a server may take to exit after a signal (uvicorn allows requests 10 s to finish)."""
COMMAND_TIMEOUT = 60.0
"""Seconds an ``admin`` command may take."""

SERVER_LOGS = pytest.StashKey[list[Path]]()

T = TypeVar("T")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: ours without any ``HOTLINE_*``, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOTLINE_")}
    return {**env, "HOTLINE_LOG_FORMAT": "json", **extra}


def hotline(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``hotline`` command line (as ``python -m server``) to completion."""
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=cwd,
        env=clean_env(COLUMNS="200"),  # rich wraps at 80 columns when not on a terminal
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def _serving_url(line: bytes) -> str | None:
    """The URL in the server's ``serving`` log line, or ``None`` for any other line."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if isinstance(entry, dict) and entry.get("message") == "serving":
        return str(entry["url"])
    return None


class ServerProcess:
    """One run of ``python -m server …``, its output watched by two threads."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        log: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.args = list(args)
        self.log = log
        self.first_line: Future[bytes | None] = Future()
        self.logged_url: Future[str | None] = Future()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server", *args],
            cwd=cwd,
            env=clean_env(**(env or {})),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._readers = [
            threading.Thread(target=self._read_stdout, name="server-stdout", daemon=True),
            threading.Thread(target=self._copy_stderr, name="server-stderr", daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout as stream:
            for line in stream:
                if not self.first_line.done():
                    self.first_line.set_result(line)
        if not self.first_line.done():
            self.first_line.set_result(None)  # the process ended without a word

    def _copy_stderr(self) -> None:
        assert self.process.stderr is not None
        with self.process.stderr as stream, self.log.open("wb") as copy:
            for line in stream:
                copy.write(line)
                copy.flush()
                if not self.logged_url.done() and (url := _serving_url(line)):
                    self.logged_url.set_result(url)
        if not self.logged_url.done():
            self.logged_url.set_result(None)

    @property
    def running(self) -> bool:
        """Whether the process has not exited yet."""
        return self.process.poll() is None

    def read_first_line(self, timeout: float = START_TIMEOUT) -> bytes:
        """The first line on standard output; fails the test if none comes in time."""
        return self._await(self.first_line, "print a line on stdout", timeout)

    def wait_for_url(self, timeout: float = START_TIMEOUT) -> str:
        """The URL from the ``serving`` log line; fails the test if none comes in time."""
        return self._await(self.logged_url, "log the URL it serves on", timeout)

    def _await(self, future: Future[T | None], what: str, timeout: float) -> T:
        try:
            value = future.result(timeout)
        except TimeoutError:
            self.kill()
            pytest.fail(f"the server did not {what} within {timeout:g} s; killed it")
        if not value:
            status = self._wait_for_exit()
            pytest.fail(f"the server exited with status {status} before it did {what}")
        return value

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send ``sig`` and return the exit status; kill and fail if it takes too long."""
        if self.running:
            self.process.send_signal(sig)
        try:
            return self._wait_for_exit(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the server did not exit within {timeout:g} s of {sig.name}; killed it")

    def kill(self) -> int:
        """SIGKILL the process: no shutdown, no last words. Returns the exit status."""
        if self.running:
            self.process.kill()
        return self._wait_for_exit()

    def _wait_for_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        status = self.process.wait(timeout)
        # The pipes reach end-of-file once the process is gone; then the log file is whole.
        for reader in self._readers:
            reader.join(timeout)
        return status

    def log_lines(self) -> list[str]:
        """What the server wrote to standard error so far, a line at a time."""
        return self.log.read_text().splitlines()


@dataclass(frozen=True, slots=True)
class Demo:
    """A running demo server and what it announced: its URL, channel and fresh tokens."""

    process: ServerProcess
    url: str
    channel: str
    database_url: str
    tokens: dict[str, str]

    def auth(self, operator: str) -> dict[str, str]:
        """Headers that authenticate as a demo operator (ana, ben: water; carla, dev: roads)."""
        return {"Authorization": f"Bearer {self.tokens[operator]}"}

    @property
    def notices(self) -> str:
        """The path of the demo channel's notices."""
        return f"/api/v1/channels/{self.channel}/notices"

    @property
    def events(self) -> str:
        """The path of the demo channel's log."""
        return f"/api/v1/channels/{self.channel}/events"


class Launcher:
    """Starts servers for one test and stops whatever is left when it ends."""

    def __init__(self, directory: Path, logs: list[Path]) -> None:
        self.directory = directory
        self.database_url = f"sqlite:///{directory / 'hotline.db'}"
        self.started: list[ServerProcess] = []
        self._logs = logs

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> ServerProcess:
        """Run ``python -m server *args`` in the test's directory, its log in ``server-N.log``.

        ``env`` adds ``HOTLINE_*`` settings (or anything else) to the process's environment.
        """
        log = self.directory / f"server-{len(self.started) + 1}.log"
        self._logs.append(log)
        server = ServerProcess(args, cwd=self.directory, log=log, env=env)
        self.started.append(server)
        return server

    def demo(
        self,
        database_url: str | None = None,
        *,
        port: int = 0,
        env: Mapping[str, str] | None = None,
    ) -> Demo:
        """Start the demo (on this test's database unless told) and read its JSON line."""
        url = database_url or self.database_url
        server = self.start("demo", "--json", "--port", str(port), "--database-url", url, env=env)
        announced: dict[str, Any] = json.loads(server.read_first_line())
        return Demo(
            process=server,
            url=announced["url"],
            channel=announced["channel"],
            database_url=announced["database_url"],
            tokens={o["id"]: o["token"] for o in announced["operators"]},
        )

    def serve(
        self, database_url: str, *, env: Mapping[str, str] | None = None
    ) -> tuple[ServerProcess, str]:
        """Start ``serve`` on a database; returns the process and the URL it logged."""
        server = self.start("serve", "--port", "0", "--database-url", database_url, env=env)
        return server, server.wait_for_url()

    def stop_all(self) -> list[str]:
        """SIGTERM every server still running; returns a complaint for each unclean exit."""
        complaints = []
        for server in self.started:
            if server.running:
                status = server.stop()
                if status != 0:
                    complaints.append(f"{server.log.name}: SIGTERM ended it with status {status}")
        return complaints


@pytest.fixture
def launch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Launcher]:
    """Start real server processes; at the end each one left must stop cleanly on SIGTERM."""
    logs = request.node.stash.setdefault(SERVER_LOGS, [])
    launcher = Launcher(tmp_path, logs)
    try:
        yield launcher
    finally:
        complaints = launcher.stop_all()
    assert not complaints, "a server did not shut down cleanly: " + "; ".join(complaints)


@pytest.fixture
def server(launch: Launcher) -> Demo:
    """The demo server on a fresh SQLite file."""
    return launch.demo()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Show the server logs of a failed test (setup, call or teardown) beside the failure."""
    report: pytest.TestReport = yield
    if report.failed:
        for log in item.stash.get(SERVER_LOGS, []):
            if log.exists():
                report.sections.append((f"server log {log.name}", log.read_text()))
    return report
