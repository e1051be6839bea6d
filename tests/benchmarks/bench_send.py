"""How long one send takes on a real Hotline server, beside the floors of this machine.

Run from the repository root (docs/reference/benchmarks.md explains the figures)::

    python tests/benchmarks/bench_send.py --sends 300 --runs 3

It starts ``python -m server demo --json`` on a fresh SQLite file in a temporary directory
and, in each run, times N of each of these, one after another and interleaved (a send, a
round trip, a commit, a send, ...):

- **send**: ``POST …/notices`` of a new notice, answered 201, over one keep-alive HTTP
  connection: the latency a single client sees, with nothing in parallel;
- **HTTP floor**: ``GET /healthz`` over the same connection: a round trip through the same
  server, with no token and no database;
- **commit floor**: a one-row insert, committed, with Python's ``sqlite3`` on a file in WAL
  mode with ``synchronous=FULL`` (as the server's SQLite runs): the price of one durable
  commit on this disk.

A send can be no faster than one commit plus one round trip; the ratios say how far above
those floors it is. The script is not a test (its name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

START_TIMEOUT = 90.0
"""Seconds the server may take to migrate, seed and listen: with ``HOTLINE_WORKERS``, to
start every worker too (each a fresh interpreter; the supervisor allows them 60 s)."""
STOP_TIMEOUT = 40.0
"""Seconds the server may take to exit after SIGTERM (a supervisor gives its workers 30)."""
REQUEST_TIMEOUT = 10.0
"""Seconds one request may take."""


@dataclass(frozen=True, slots=True)
class Summary:
    """Latencies of one run of one measurement, in milliseconds."""

    median: float
    p90: float
    p99: float
    mean: float
    per_second: float

    @classmethod
    def of(cls, seconds: list[float], elapsed: float) -> Summary:
        """Summarise per-operation times in seconds, which add up to ``elapsed``."""
        ms = [s * 1000 for s in seconds]
        cuts = statistics.quantiles(ms, n=100, method="inclusive")
        return cls(
            median=statistics.median(ms),
            p90=cuts[89],
            p99=cuts[98],
            mean=statistics.fmean(ms),
            per_second=len(ms) / elapsed,
        )


class Server:
    """The demo server as a child process, its log in a file, its JSON line read in time.

    ``env`` adds to (or overrides) the environment it inherits, less any ``HOTLINE_``
    setting: ``PYTHONPATH`` to run another tree's code, for instance. The database is
    ``database_url`` if given, else the file ``hotline.db`` in ``directory``.
    """

    def __init__(
        self,
        directory: Path,
        *,
        env: Mapping[str, str] | None = None,
        database_url: str | None = None,
    ) -> None:
        self.log = directory / "server.log"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env = {**inherited, **(env or {})}
        database_url = database_url or f"sqlite:///{directory / 'hotline.db'}"
        command = [sys.executable, "-m", "server", "demo", "--json", "--port", "0"]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [*command, "--database-url", database_url],
                cwd=directory,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,  # a file, not a pipe: it can never fill up and stall the server
            )
        announced = self._first_line(START_TIMEOUT)
        self.url: str = announced["url"]
        self.channel: str = announced["channel"]
        self.tokens: dict[str, str] = {o["id"]: o["token"] for o in announced["operators"]}

    def _first_line(self, timeout: float) -> dict[str, Any]:
        line: Future[bytes] = Future()

        def read() -> None:
            assert self.process.stdout is not None
            with self.process.stdout as stream:
                line.set_result(stream.readline())
                stream.read()  # nothing more is expected; read to the end all the same

        threading.Thread(target=read, name="server-stdout", daemon=True).start()
        try:
            first = line.result(timeout)
        except TimeoutError:
            self.stop()
            raise SystemExit(f"the server did not start within {timeout:g} s") from None
        if not first:
            self.stop()
            raise SystemExit(f"the server exited before it started:\n{self.log.read_text()}")
        announced: dict[str, Any] = json.loads(first)
        return announced

    def processes(self) -> list[int]:
        """The server's process and every process under it, the server's first.

        One process, or with ``HOTLINE_WORKERS`` above one a supervisor, its workers and
        multiprocessing's resource tracker.
        """
        return descendants(self.process.pid)

    def stop(self) -> int:
        """SIGTERM, then wait; SIGKILL if it will not go. Returns the exit status.

        What SIGKILL ends is every process of the server, so that no worker outlives it.
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            for pid in reversed(self.processes()):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            return self.process.wait()


def descendants(root: int) -> list[int]:
    """Process ``root`` and every process under it, ``root`` first, then by generation.

    Read from /proc, where the fourth field of a process's ``stat`` is its parent.
    """
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # it exited meanwhile
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, unseen = [], [root]
    while unseen:
        pid = unseen.pop(0)
        found.append(pid)
        unseen += sorted(children.get(pid, []))
    return found


def code_of(tree: Path) -> str:
    """Where ``import server`` finds the server with ``PYTHONPATH=tree``: proof of the code run."""
    found = subprocess.run(
        [sys.executable, "-c", "import server; print(server.__file__)"],
        cwd=tree,  # `-c` puts the working directory first: the tree too, as PYTHONPATH does
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return found.stdout.strip()


def timed(operations: dict[str, Callable[[], None]], rounds: int) -> dict[str, Summary]:
    """Run each operation once a round, ``rounds`` times, and summarise each one's times.

    Interleaving means the operations share whatever else the machine is doing at the
    time, so the ratios between them hold even when the absolute figures wander.
    """
    times: dict[str, list[float]] = {label: [] for label in operations}
    elapsed = dict.fromkeys(operations, 0.0)
    for _ in range(rounds):
        for label, operation in operations.items():
            started = time.perf_counter()
            operation()
            took = time.perf_counter() - started
            times[label].append(took)
            elapsed[label] += took
    return {label: Summary.of(times[label], elapsed[label]) for label in operations}


def sender(client: httpx.Client, server: Server) -> Callable[[], None]:
    """One send of a fresh notice by ana; anything but 201 stops the benchmark."""
    path = f"/api/v1/channels/{server.channel}/notices"
    headers = {"Authorization": f"Bearer {server.tokens['ana']}"}

    def send() -> None:
        body = {
            "id": str(uuid.uuid4()),
            "subject": "Water main renewal, Mill Lane",
            "body": "Open trench on the north lane; one lane closed with signals.",
        }
        response = client.post(path, headers=headers, json=body)
        if response.status_code != 201:
            raise SystemExit(f"send answered {response.status_code}: {response.text}")

    return send


def health(client: httpx.Client) -> Callable[[], None]:
    """One ``GET /healthz``: the server's HTTP round trip with nothing behind it."""

    def get() -> None:
        response = client.get("/healthz")
        if response.status_code != 200:
            raise SystemExit(f"/healthz answered {response.status_code}")

    return get


def committer(directory: Path) -> tuple[Callable[[], None], sqlite3.Connection]:
    """One durable one-row commit to a SQLite file in WAL mode with ``synchronous=FULL``."""
    connection = sqlite3.connect(directory / "floor.db")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE IF NOT EXISTS row (id TEXT PRIMARY KEY, body TEXT)")
    connection.commit()
    body = "Open trench on the north lane; one lane closed with signals." * 3

    def commit() -> None:
        connection.execute("INSERT INTO row VALUES (?, ?)", (str(uuid.uuid4()), body))
        connection.commit()

    return commit, connection


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, where there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def row(label: str, s: Summary) -> str:
    """One line of the table: a measurement's figures in one run."""
    figures = f"{s.median:8.2f}{s.p90:8.2f}{s.p99:8.2f}{s.mean:8.2f}{s.per_second:10.0f}"
    return f"  {label:<14}{figures}"


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, start the server, measure, print, and stop the server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=300, help="operations per run (300)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement (3)")
    parser.add_argument(
        "--warmup", type=int, default=30, help="untimed sends and round trips first (30)"
    )
    args = parser.parse_args(argv)
    if args.sends < 2 or args.runs < 1:
        parser.error("need --sends of at least 2 and --runs of at least 1")

    print(f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, ", end="")
    print(f"{cpu_model()}, {os.cpu_count()} cores")
    print(f"{args.runs} runs of {args.sends} operations each; times in ms\n")

    results: dict[str, list[Summary]] = {"send": [], "HTTP floor": [], "commit floor": []}
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        directory = Path(tmp)
        server = Server(directory)
        commit, connection = committer(directory)
        try:
            with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT) as client:
                operations = {
                    "send": sender(client, server),
                    "HTTP floor": health(client),
                    "commit floor": commit,
                }
                timed(operations, args.warmup)
                for run in range(1, args.runs + 1):
                    print(f"run {run}          median     p90     p99    mean     ops/s")
                    for label, summary in timed(operations, args.sends).items():
                        results[label].append(summary)
                        print(row(label, summary))
        finally:
            connection.close()
            status = server.stop()
            if status != 0:
                print(f"\n(the server exited with status {status} after SIGTERM)")

    medians = {label: statistics.median(s.median for s in runs) for label, runs in results.items()}
    send = medians["send"]
    floor = medians["HTTP floor"] + medians["commit floor"]
    print("\nmedian of the run medians")
    print(f"  send          {send:8.2f} ms   ({1000 / send:.0f} sends/s one after another)")
    for label in ("HTTP floor", "commit floor"):
        print(f"  {label:<14}{medians[label]:8.2f} ms   send is {send / medians[label]:.1f}x")
    print(f"  both floors   {floor:8.2f} ms   send is {send / floor:.1f}x")


if __name__ == "__main__":
    main()
