"""PostgreSQL restarted under load: ``503`` meanwhile, back by itself, nothing answered lost.

The test makes a PostgreSQL cluster of its own (``initdb`` and ``pg_ctl``, as the
``postgres`` user when run as root, since ``initdb`` refuses root), so that stopping it
touches nothing that other tests use. A real server (``hotline demo``) runs on it while
senders send notices over REST, each on its own connection. Then PostgreSQL is stopped:
requests are answered ``503 database-unavailable`` with a ``Retry-After``, and ``/readyz``
says not ready. It is started again, and the same server process serves again, by itself.
Then it is restarted once more (``pg_ctl restart -m fast``) under the same load.

A sender answered ``503`` sends the same notice again, with the same id, after the
``Retry-After``, until it is answered ``2xx``: so every notice sent is answered ``2xx`` in
the end, and the log must hold each exactly once: none lost, none twice (a send whose
commit was cut off may have been stored, and its retry must find it), none unsent. The
log verifies against the server's signed checkpoint.

Skipped, saying why, where PostgreSQL's programs are missing or ``HOTLINE_TEST_POSTGRES_URL``
is not set; where ``HOTLINE_REQUIRE_POSTGRES`` is set (CI), it fails instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from client import HotlineClient
from client.verify import verify_online
from tests.conftest import POSTGRES_ENV
from tests.e2e.conftest import SERVER_LOGS, Demo, Launcher

pytestmark = pytest.mark.postgres

SENDERS = 8
"""Concurrent senders, each on its own connection."""
ANSWERS_BETWEEN = 15
"""Sends answered before the first stop, after the database is back, and after the restart."""
SENDS_EACH = 200
"""The most notices one sender sends: a bound far above what the test leaves it time for."""
REQUEST_TIMEOUT = 30.0
"""Seconds any one request may take."""
PHASE_TIMEOUT = 30.0
"""Seconds each step may take: answers to arrive, ``/readyz`` to change, senders to end."""
PG_TIMEOUT = 30
"""Seconds ``initdb`` and each ``pg_ctl`` may take."""
MAX_BACKOFF = 2.0
"""The longest a sender waits before sending again, whatever ``Retry-After`` says."""
OPERATORS = ("ana", "ben", "carla", "dev")
"""The demo's operators who may send on its channel: the senders take turns."""


def _postgres_programs() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on the PATH, or Debian's newest."""
    found = shutil.which("initdb")
    folders = [Path(found).resolve().parent] if found else []
    folders += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in folders:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary folder, for this test alone.

    Args:
        programs: the folder of ``initdb`` and ``pg_ctl``.
        folder: an empty folder, which the cluster's user may write.
        run_as: the user to run PostgreSQL's programs as (``None``: this process's).
    """

    def __init__(self, programs: Path, folder: Path, *, run_as: str | None) -> None:
        self.programs = programs
        self.folder = folder
        self.data = folder / "data"
        self.log = folder / "postgresql.log"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as = ["runuser", "-u", run_as, "--"] if run_as else []
        self._options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {shlex.quote(str(self.folder))}"
        )

    def _run(self, program: str, *args: str) -> None:
        command = [*self._as, str(self.programs / program), *args]
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PG_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"{program} {' '.join(args)} failed: {done.stdout}{done.stderr}")

    def _pg_ctl(self, action: str, *args: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.data), "-w", "-t", str(PG_TIMEOUT), *args)

    def create(self) -> None:
        """Make the cluster: trust on local connections, user ``postgres``."""
        self._run(
            "initdb",
            *("-D", str(self.data), "-U", "postgres", "-A", "trust"),
            *("-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"),
        )

    def start(self) -> None:
        """Start it on 127.0.0.1 and its port, its socket in its folder; wait until it is up."""
        self._pg_ctl("start", "-l", str(self.log), "-o", self._options)

    def stop(self) -> None:
        """Stop it as an administrator would before maintenance (fast: sessions are ended)."""
        self._pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        """Stop it (fast) and start it again with the same options; wait until it is up."""
        # With its log file again (else the postmaster's output would hold our pipe open)
        # and its options: never the default port, where another cluster may listen.
        self._pg_ctl("restart", "-m", "fast", "-l", str(self.log), "-o", self._options)

    def destroy(self) -> None:
        """Stop it at once if it runs, whatever state it is in, and remove its folder."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            subprocess.run(
                [
                    *self._as,
                    str(self.programs / "pg_ctl"),
                    "stop",
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    str(PG_TIMEOUT),
                ],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=PG_TIMEOUT + 5,
                check=False,
            )
        if pid_file.exists():  # pg_ctl could not stop it: the postmaster we started goes
            with contextlib.suppress(ValueError, OSError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)


def _unavailable(reason: str) -> None:
    if os.environ.get("HOTLINE_REQUIRE_POSTGRES"):
        pytest.fail(f"HOTLINE_REQUIRE_POSTGRES is set, but {reason}")
    pytest.skip(reason)


@pytest.fixture
def private_postgres(request: pytest.FixtureRequest) -> Iterator[PrivatePostgres]:
    """A running PostgreSQL cluster of the test's own, removed when the test ends."""
    if not os.environ.get(POSTGRES_ENV):
        _unavailable(f"PostgreSQL tests need {POSTGRES_ENV} (and PostgreSQL's programs)")
    programs = _postgres_programs()
    if programs is None:
        _unavailable("PostgreSQL's initdb and pg_ctl were not found (PATH, /usr/lib/postgresql)")
    assert programs is not None
    run_as = None
    if os.geteuid() == 0:  # initdb refuses root: the cluster runs as postgres
        if shutil.which("runuser") is None:
            _unavailable("running as root, and runuser is missing to run PostgreSQL as postgres")
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root, and there is no postgres user to run PostgreSQL as")
        run_as = "postgres"
    # Not under pytest's tmp_path: its folders are root's alone, closed to postgres. A
    # short path, too: the socket's must fit in 107 bytes.
    folder = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    if run_as is not None:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    cluster = PrivatePostgres(programs, folder, run_as=run_as)
    request.node.stash.setdefault(SERVER_LOGS, []).append(cluster.log)  # shown on failure
    try:
        cluster.create()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@dataclass
class Load:
    """What the senders saw, shared between them (one event loop: no locks needed)."""

    sent: dict[str, str] = field(default_factory=dict)
    """Notice id to subject, for every notice a sender began to send."""
    answered: dict[str, int] = field(default_factory=dict)
    """Notice id to the ``2xx`` status that answered it in the end."""
    unavailable: int = 0
    """``503 database-unavailable`` answers, retried."""
    trouble: list[str] = field(default_factory=list)
    """Anything else: another status, a bad 503, a dropped connection."""
    stopping: bool = False
    """Set when the test has seen enough: each sender finishes the notice it is sending."""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set at every answer, so that a waiting test looks again."""

    async def until(self, what: str, done: Callable[[], bool]) -> None:
        """Wait until ``done()`` holds, or trouble comes; fail after ``PHASE_TIMEOUT``."""
        try:
            async with asyncio.timeout(PHASE_TIMEOUT):
                while not done() and not self.trouble:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            pytest.fail(f"{what}: not within {PHASE_TIMEOUT:g} s ({len(self.answered)} answered)")
        assert self.trouble == [], f"trouble while waiting for {what}"

    def saw(self) -> None:
        """Wake whoever waits in :meth:`until`."""
        self.changed.set()


async def send_until_stopped(demo: Demo, sender: int, load: Load) -> None:
    """Send notices one after another; on a 503 send the same again, after ``Retry-After``."""
    operator = OPERATORS[sender % len(OPERATORS)]
    async with httpx.AsyncClient(
        base_url=demo.url,
        headers=demo.auth(operator),
        timeout=REQUEST_TIMEOUT,
        limits=httpx.Limits(max_connections=1),
    ) as http:
        for n in range(SENDS_EACH):
            if load.stopping:
                return
            notice = {"id": str(uuid.uuid4()), "subject": f"Restart test, sender {sender}, #{n}"}
            load.sent[notice["id"]] = notice["subject"]
            while True:  # until answered 2xx: load.until bounds the whole
                try:
                    response = await http.post(demo.notices, json=notice)
                except httpx.TransportError as exc:
                    load.trouble.append(f"sender {sender}: {exc!r}")
                    load.saw()
                    return
                if response.is_success:
                    load.answered[notice["id"]] = response.status_code
                    load.saw()
                    break
                problem = _problem(response)
                retry_after = response.headers.get("retry-after", "")
                if problem.get("code") != "database-unavailable" or not retry_after.isdigit():
                    load.trouble.append(f"sender {sender}: {response.status_code} {response.text}")
                    load.saw()
                    return
                load.unavailable += 1
                load.saw()
                await asyncio.sleep(min(int(retry_after), MAX_BACKOFF))  # as the server asks


def _problem(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 503:
        return {}
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


async def readiness(demo: Demo, status: int) -> httpx.Response:
    """Ask ``/readyz`` until it answers ``status``; fail after ``PHASE_TIMEOUT``."""
    async with httpx.AsyncClient(base_url=demo.url, timeout=REQUEST_TIMEOUT) as http:
        try:
            async with asyncio.timeout(PHASE_TIMEOUT):
                # Asked again and again, as an orchestrator's probe would: no event says so.
                while (response := await http.get("/readyz")).status_code != status:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        except TimeoutError:
            pytest.fail(f"/readyz did not answer {status} within {PHASE_TIMEOUT:g} s")
    return response


def reader(demo: Demo) -> HotlineClient:
    """The SDK's client of the demo server, as carla of the roads department."""
    return HotlineClient(demo.url, demo.tokens["carla"], timeout=REQUEST_TIMEOUT)


async def test_postgresql_stopped_and_restarted_under_load_answers_503_and_recovers_losing_nothing(
    private_postgres: PrivatePostgres, launch: Launcher
) -> None:
    database = private_postgres
    demo = launch.demo(database.url)
    async with reader(demo) as client, asyncio.timeout(REQUEST_TIMEOUT):
        key = await client.log_key()
    load = Load()
    senders = [asyncio.create_task(send_until_stopped(demo, n, load)) for n in range(SENDERS)]
    try:
        await load.until("answers before the stop", lambda: len(load.answered) >= ANSWERS_BETWEEN)

        await asyncio.to_thread(database.stop)
        not_ready = await readiness(demo, 503)
        await load.until("a 503 while the database is stopped", lambda: load.unavailable > 0)
        await asyncio.to_thread(database.start)
        await readiness(demo, 200)
        back = len(load.answered)
        await load.until(
            "answers once it is back", lambda: len(load.answered) >= back + ANSWERS_BETWEEN
        )

        await asyncio.to_thread(database.restart)
        again = len(load.answered)
        await load.until(
            "answers after the restart", lambda: len(load.answered) >= again + ANSWERS_BETWEEN
        )
    finally:
        load.stopping = True  # each finishes the notice it is sending, until answered 2xx
        _, unfinished = await asyncio.wait(senders, timeout=PHASE_TIMEOUT)
        for sender in unfinished:
            sender.cancel()
    assert unfinished == set(), f"{len(unfinished)} senders got no 2xx in {PHASE_TIMEOUT:g} s"
    assert load.trouble == []
    assert demo.process.running, "the server should have carried on, not exited"

    async with reader(demo) as client, asyncio.timeout(PHASE_TIMEOUT):
        events: list[dict[str, Any]] = []
        report = await verify_online(client, demo.channel, log_key=key, events_out=events)
    sent = [e["data"]["notice"] for e in events if e["type"] == "notice.sent"]
    subjects = {e["data"]["notice"]: e["data"]["subject"] for e in events}

    assert not_ready.json() == {"status": "unavailable", "database": "unreachable"}
    assert not_ready.headers["retry-after"].isdigit()
    assert load.unavailable > 0
    assert report.ok, report.failures
    assert [e["seq"] for e in events] == list(range(1, report.size + 1)), "the log has a gap"
    assert [n for n, times in Counter(sent).items() if times > 1] == [], "a notice logged twice"
    assert load.answered.keys() == load.sent.keys(), "every notice sent is answered 2xx in the end"
    lost = [n for n in load.answered if n not in subjects]
    assert lost == [], f"{len(lost)} of {len(load.answered)} notices answered 2xx were lost"
    assert set(sent) == load.sent.keys(), "the log holds a notice nobody sent"
    assert all(subjects[n] == subject for n, subject in load.sent.items())
    records = [json.loads(line) for line in demo.process.log_lines() if line.startswith("{")]
    assert [r["message"] for r in records if r["level"] == "error"] == [], (
        "an outage is told in warnings"
    )
    assert [r["message"] for r in records if "exception" in r] == [], (
        "an outage is told without tracebacks"
    )
    assert any(r["logger"] == "server.api.unavailable" for r in records), "no word of the 503s"
