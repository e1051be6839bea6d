"""``hotline serve --workers N``: several processes on one port, watched by a supervisor.

On PostgreSQL, with two workers: both answer on the one port; SIGTERM stops them all and
the supervisor exits 0; a worker killed with SIGKILL is started again while the other goes
on answering. On SQLite more than one worker is refused before anything starts.

Which worker holds a connection is read from the kernel, not from the server: the TCP
table (``/proc/net/tcp``) gives the inode of the server's end of the connection, and the
worker whose ``/proc/<pid>/fd`` links to it is the one that accepted it. The workers' own
log lines must then name the same process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.e2e.conftest import COMMAND_TIMEOUT, Launcher, ServerProcess, clean_env
from tests.e2e.ws_helpers import Peer

POSTGRES = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
"""Runs a test on a fresh PostgreSQL database only (skipped without one, as elsewhere)."""

WORKERS = 2
PROBES = 16
"""Connections opened at once in one round of looking for the workers that answer."""
ROUNDS = 20
"""Rounds of ``PROBES`` connections before giving up on seeing a worker answer."""
TIMEOUT = 10.0
"""Seconds any one request or message may take."""
RESTART_TIMEOUT = 60.0
"""Seconds a killed worker's successor may take to start serving (two cores, busy)."""

Entry = dict[str, Any]


# -- what the supervisor and its workers say ------------------------------------------------


def entries(server: ServerProcess) -> list[Entry]:
    """The server's JSON log lines so far."""
    return [json.loads(line) for line in server.log_lines() if line.startswith("{")]


def started_workers(server: ServerProcess) -> dict[int, int]:
    """Each worker's number and the process id of the last worker started under it."""
    return {
        entry["worker"]: entry["pid"]
        for entry in entries(server)
        if entry["message"] == "worker started"
    }


def serving_pids(server: ServerProcess) -> set[int]:
    """The workers that have said they serve."""
    return {entry["pid"] for entry in entries(server) if entry["message"] == "worker serving"}


async def until(condition: Callable[[], bool], *, within: float, what: str) -> None:
    """Look every tenth of a second until ``condition()`` holds; fail after ``within`` s."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # the log is a file another process writes: no event
    assert condition(), what


def parent_of(pid: int) -> int:
    """The parent process id of ``pid``, from ``/proc/<pid>/stat``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])  # after "pid (name) state"


def gone(pid: int) -> bool:
    """Whether no process ``pid`` exists any more."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# -- which worker holds a connection --------------------------------------------------------


def holder(client: tuple[str, int], server_port: int, pids: Iterable[int]) -> int | None:
    """The process among ``pids`` holding the server's end of the TCP connection from ``client``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if (
                int(local.rsplit(":", 1)[1], 16) == server_port
                and int(remote.rsplit(":", 1)[1], 16) == client[1]
            ):
                inodes.add(f"socket:[{inode}]")
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except FileNotFoundError:  # closed while we looked
                continue
    return None


def port_of(url: str) -> int:
    """The port in ``url``."""
    port = urlsplit(url).port
    assert port is not None
    return port


async def probe_round(url: str, pids: Iterable[int]) -> dict[str, int | None]:
    """``PROBES`` requests at once, each on its own connection: request id to answering pid."""
    pids = list(pids)
    limits = httpx.Limits(max_connections=PROBES, max_keepalive_connections=PROBES)
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT, limits=limits) as http:
        ids = [f"probe-{uuid.uuid4().hex[:12]}" for _ in range(PROBES)]
        answers = await asyncio.gather(
            *(http.get("/healthz", headers={"x-request-id": rid}) for rid in ids)
        )
        assert [answer.status_code for answer in answers] == [200] * PROBES
        # The connections are still open, in the pool: look up who holds each.
        return {
            rid: holder(
                answer.extensions["network_stream"].get_extra_info("client_addr"),
                port_of(url),
                pids,
            )
            for rid, answer in zip(ids, answers, strict=True)
        }


async def probe_until_seen(url: str, pids: Iterable[int], wanted: set[int]) -> dict[str, int]:
    """Probe until every pid in ``wanted`` has answered; request id to answering pid."""
    seen: dict[str, int] = {}
    for _ in range(ROUNDS):
        answered = await probe_round(url, pids)
        assert None not in answered.values(), f"a connection held by no worker: {answered}"
        seen.update({rid: pid for rid, pid in answered.items() if pid is not None})
        if wanted <= set(seen.values()):
            return seen
    pytest.fail(f"{ROUNDS * PROBES} connections reached only {set(seen.values())}, not {wanted}")


# -- the tests ------------------------------------------------------------------------------


@POSTGRES
async def test_two_workers_answer_on_one_port_and_all_stop_cleanly_on_sigterm(
    database_url: str, launch: Launcher
) -> None:
    demo = launch.demo(database_url, env={"HOTLINE_WORKERS": str(WORKERS)})
    supervisor = demo.process
    workers = started_workers(supervisor)
    pids = set(workers.values())
    assert sorted(workers) == [1, 2]
    assert len(pids) == WORKERS
    assert {parent_of(pid) for pid in pids} == {supervisor.process.pid}
    async with httpx.AsyncClient(base_url=demo.url, timeout=TIMEOUT) as http:
        me = await http.get("/api/v1/me", headers=demo.auth("ana"))  # tokens made once, shared
    assert me.status_code == 200, me.text

    seen = await probe_until_seen(demo.url, pids, wanted=pids)

    assert supervisor.stop(signal.SIGTERM) == 0
    assert all(gone(pid) for pid in pids)
    log = entries(supervisor)
    messages = [(entry["message"], entry.get("pid")) for entry in log]
    announced = messages.index(("serving", None))
    assert all(messages.index(("worker serving", pid)) < announced for pid in pids), (
        "the demo announced itself before every worker served"
    )
    stopped = [entry for entry in log if entry["message"] == "worker stopped"]
    assert {(entry["pid"], entry["status"]) for entry in stopped} == {(pid, 0) for pid in pids}
    requests = {
        entry["request_id"]: (entry["worker"], entry["pid"])
        for entry in log
        if entry["message"] == "request" and entry["request_id"] in seen
    }
    assert {rid: pid for rid, (_, pid) in requests.items()} == seen, (
        "each request's log line names the worker the kernel says answered it"
    )
    assert {workers[number] for number, _ in requests.values()} == pids


@POSTGRES
async def test_a_worker_killed_with_sigkill_is_started_again_while_the_other_answers(
    database_url: str, launch: Launcher
) -> None:
    server = launch.start(
        "serve", "--workers", str(WORKERS), "--port", "0", "--database-url", database_url
    )
    url = server.wait_for_url()
    first = started_workers(server)
    killed, other = first[1], first[2]

    os.kill(killed, signal.SIGKILL)
    no_keepalive = httpx.Limits(max_keepalive_connections=0)  # a new connection each time
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT, limits=no_keepalive) as http:
        answers = [(await http.get("/healthz")).status_code for _ in range(40)]
    assert answers == [200] * 40, "the port stops answering while a worker is down"

    def replaced() -> bool:
        successor = started_workers(server)[1]
        return successor != killed and successor in serving_pids(server)

    await until(replaced, within=RESTART_TIMEOUT, what="the killed worker was not replaced")
    successor = started_workers(server)[1]
    assert parent_of(successor) == server.process.pid
    exits = [entry for entry in entries(server) if entry["message"].startswith("a worker exited")]
    assert [(e["worker"], e["pid"], e["status"]) for e in exits] == [(1, killed, -9)]
    await probe_until_seen(url, [successor, other], wanted={successor})

    assert server.stop(signal.SIGTERM) == 0
    assert gone(successor)
    assert gone(other)


@POSTGRES
def test_ctrl_c_as_soon_as_the_demo_announces_its_workers_stops_them_all_with_status_0(
    database_url: str, launch: Launcher
) -> None:
    """The signal may come just as the supervisor goes back to waiting: it must not be lost."""
    server = launch.start(
        "demo",
        "--json",
        "--port",
        "0",
        "--database-url",
        database_url,
        env={"HOTLINE_WORKERS": str(WORKERS)},
    )
    server.read_first_line()
    status = server.stop(signal.SIGINT)

    pids = set(started_workers(server).values())
    assert status == 0
    assert all(gone(pid) for pid in pids)
    assert [entry for entry in entries(server) if entry["level"] == "error"] == []
    stopping = [entry for entry in entries(server) if entry["message"] == "stopping the workers"]
    assert [entry["signal"] for entry in stopping] == ["SIGINT"]


def test_more_than_one_worker_on_sqlite_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    sqlite = f"sqlite:///{tmp_path / 'hotline.db'}"
    by_flag = subprocess.run(
        [sys.executable, "-m", "server", "serve", "--workers", "2", "--database-url", sqlite],
        cwd=tmp_path,
        env=clean_env(COLUMNS="300"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    by_environment = subprocess.run(
        [sys.executable, "-m", "server", "demo", "--database-url", sqlite],
        cwd=tmp_path,
        env=clean_env(COLUMNS="300", HOTLINE_WORKERS="3"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )

    for refused, workers in ((by_flag, 2), (by_environment, 3)):
        assert refused.returncode == 2, refused.stderr
        assert f"error: {workers} workers need PostgreSQL" in refused.stderr
        assert "SQLite lets one process write at a time" in refused.stderr
        assert "cannot tell one process what another committed" in refused.stderr
        assert refused.stdout == ""
    assert sorted(path.name for path in tmp_path.iterdir()) == [], "something was started"


@POSTGRES
async def test_a_socket_on_one_worker_hears_notices_sent_through_either(
    database_url: str, launch: Launcher
) -> None:
    """Needs the fan-out across processes (PostgreSQL NOTIFY, server/cluster.py)."""
    demo = launch.demo(database_url, env={"HOTLINE_WORKERS": str(WORKERS)})
    pids = set(started_workers(demo.process).values())
    ws_url = "ws://" + urlsplit(demo.url).netloc + "/api/v1/ws"
    async with AsyncExitStack() as stack:
        peers: dict[int, Peer] = {}
        for _ in range(ROUNDS * 2):
            connection = await stack.enter_async_context(
                connect(ws_url, open_timeout=TIMEOUT, close_timeout=TIMEOUT, proxy=None)
            )
            peer = Peer(connection)
            await peer.hello(demo.tokens["carla"])
            await peer.subscribe(demo.channel, 0)
            pid = holder(connection.local_address, port_of(demo.url), pids)
            assert pid is not None
            peers.setdefault(pid, peer)
            if set(peers) == pids:
                break
        assert set(peers) == pids, f"{ROUNDS * 2} sockets all reached {set(peers)}"

        sent = [
            await send_through(demo.url, pid, pids, demo.auth("ana"), demo.notices) for pid in pids
        ]

        for pid, peer in peers.items():
            await peer.events_up_to(len(sent), within=TIMEOUT)
            heard = [e["data"]["notice"] for e in peer.events if e["type"] == "notice.sent"]
            assert heard == sent, f"the socket on worker {pid} heard {heard}, not {sent}"


async def send_through(url: str, pid: int, pids: set[int], auth: dict[str, str], path: str) -> str:
    """Send a notice on a connection held by worker ``pid``; its id."""
    for _ in range(ROUNDS * PROBES):
        one = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT, limits=one) as http:
            answer = await http.get("/healthz")
            client = answer.extensions["network_stream"].get_extra_info("client_addr")
            if holder(client, port_of(url), pids) != pid:
                continue
            notice = {"id": str(uuid.uuid4()), "subject": f"Through worker {pid}"}
            sent = await http.post(path, headers=auth, json=notice)  # on the same connection
            assert sent.status_code == 201, sent.text
            return notice["id"]
    pytest.fail(f"no connection reached worker {pid}")
