"""How long checking a bearer token takes, in process, on SQLite and PostgreSQL.

Run from the repository root::

    git worktree add /tmp/hotline-before 3b64242   # the code before the token cache
    python tests/benchmarks/bench_tokens.py --before /tmp/hotline-before \\
        --postgres postgresql://postgres@127.0.0.1/test

For each database, and each tree (this one, and ``--before`` if given), in a process of
its own: a fresh database migrated to that tree's head, one operator with one token, then
``access.authenticate(db, token)`` called N times one after another (after untimed warm-up
calls), and N more as ``--concurrency`` calls at once, as a busy server would make them.
It prints the median and 99th percentile of one sequential call in microseconds, the
process CPU time per call, and the calls per second at once. The trees take turns, so a
change in the machine's load falls on both. The script is not a test (its name does not
start with ``test_``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

WARM_UP = 200
"""Untimed calls before the timed ones."""


async def measure(url: str, calls: int, concurrency: int) -> dict[str, float]:
    """Time ``authenticate`` on a fresh database at ``url``, with this process's ``server``."""
    from server.service import access, admin
    from server.store.db import Database
    from server.store.migrate import upgrade

    db = Database(url)
    try:
        await upgrade(db)
        await admin.create_party(db, "water", name="Riverside Water")
        await admin.create_operator(db, "ana", party="water", name="Ana Lopez")
        _, token = await access.issue_token(db, "ana")
        for _ in range(WARM_UP):
            assert await access.authenticate(db, token) is not None
        took = []
        cpu = time.process_time()
        for _ in range(calls):
            start = time.perf_counter()
            await access.authenticate(db, token)
            took.append(time.perf_counter() - start)
        cpu = time.process_time() - cpu

        async def one_of_many() -> None:
            for _ in range(calls // concurrency):
                assert await access.authenticate(db, token) is not None

        start = time.perf_counter()
        await asyncio.gather(*(one_of_many() for _ in range(concurrency)))
        at_once = (calls // concurrency) * concurrency / (time.perf_counter() - start)
    finally:
        await db.dispose()
    took.sort()
    return {
        "median_us": statistics.median(took) * 1e6,
        "p99_us": took[int(len(took) * 0.99) - 1] * 1e6,
        "cpu_us": cpu / calls * 1e6,
        "per_second_at_once": at_once,
    }


async def _postgres_database(server_url: str, action: str, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(server_url)
    try:
        if action == "create":
            await connection.execute(f'CREATE DATABASE "{name}"')
        else:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def run_in(tree: Path, kind: str, args: argparse.Namespace) -> dict[str, float]:
    """One measurement in a fresh process that imports ``server`` from ``tree``."""
    with tempfile.TemporaryDirectory() as folder:
        if kind == "sqlite":
            url = f"sqlite:///{folder}/hotline.db"
        else:
            name = f"hotline_bench_{uuid.uuid4().hex[:12]}"
            asyncio.run(_postgres_database(args.postgres, "create", name))
            url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--measure",
                    url,
                    "--calls",
                    str(args.calls),
                    "--concurrency",
                    str(args.concurrency),
                ],
                cwd=tree,
                env={**os.environ, "PYTHONPATH": str(tree)},
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            if kind == "postgres":
                asyncio.run(_postgres_database(args.postgres, "drop", name))
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="timed calls of each kind")
    parser.add_argument("--concurrency", type=int, default=64, help="calls at once")
    parser.add_argument("--runs", type=int, default=3, help="turns of each tree")
    parser.add_argument("--before", type=Path, help="a worktree of the code to compare with")
    parser.add_argument("--postgres", help="a PostgreSQL server URL; omit to skip")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, args.calls, args.concurrency))))
        return
    trees = {"after": Path(__file__).resolve().parents[2]}
    if args.before is not None:
        trees = {"before": args.before.resolve(), **trees}
    kinds = ["sqlite"] + (["postgres"] if args.postgres else [])
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for run in range(args.runs):
        order = list(trees) if run % 2 == 0 else list(reversed(trees))
        for kind in kinds:
            for label in order:
                results.setdefault((kind, label), []).append(run_in(trees[label], kind, args))
    print(f"authenticate, {args.calls} calls, median of {args.runs} runs per figure")
    print(
        f"{'database':<10} {'code':<7} {'median µs':>10} {'p99 µs':>8} {'CPU µs':>8} "
        f"{'calls/s, ' + str(args.concurrency) + ' at once':>22}"
    )
    for (kind, label), runs in results.items():
        figure: dict[str, Any] = {
            key: statistics.median(run[key] for run in runs) for key in runs[0]
        }
        print(
            f"{kind:<10} {label:<7} {figure['median_us']:>10.0f} {figure['p99_us']:>8.0f} "
            f"{figure['cpu_us']:>8.0f} {figure['per_second_at_once']:>22.0f}"
        )


if __name__ == "__main__":
    main()
