"""The browser face on a real Hotline server: the console's first screen, event to screen, and
the SDK's verification of a catch-up, in Debian's Chromium driven by Playwright.

Run from the repository root (docs/reference/benchmarks-browser.md explains the figures)::

    python tests/benchmarks/bench_browser.py --runs 5 --notices 1000 --sends 200 \
        --events 10000

It starts ``python -m server demo --json`` on fresh SQLite files (with the ``Server`` of
``bench_send.py``: a server for each run of the first part, one for the second, one for
the third), talks to them over 127.0.0.1, and drives ``/usr/bin/chromium`` (headless, one
browser process, a fresh context, so no cache and no storage, for every run):

- **event to screen**: carla's console open and live on a channel that holds only the
  ``--warmup`` notices sent first; ana sends ``--sends`` notices over REST, one at a
  time, each once carla's console has shown the one before and confirmed its receipt.
  Timed from just before the POST until the row is in carla's page (a MutationObserver)
  and until the next animation frame, with the socket's arrival of ``notice.sent`` as a
  leg. Each run on a server of its own, so that each starts from the same few notices.
- **first screen**: ana and ben send ``--notices`` notices over REST; carla and dev
  confirm receipt of some, acknowledge some, object to some; ana cancels some, so that
  every status shows. Each run opens ``/#token=<ana's token>`` (the demo's sign-in link)
  and times, from the start of the navigation, until the inbox holds one row per notice
  and the rows' statuses are those the server counts: the console has read, verified and
  folded the whole log and put it in the page; then until the next animation frame.
  Then event to screen again, on that channel, with its notices shown.
- **catch-up**: a channel grown to ``--events`` events (notices and their receipts, over
  REST); a page of the server's origin imports ``/sdk/hotline.js`` and times a
  subscription from ``after=0`` until it has delivered the last event, verified against
  the signed checkpoints; the same with ``verify: false`` (the transport alone); and, on
  the messages a plain WebSocket received, the verification alone (the ``ChannelAuditor``
  the subscription uses) and its parts: canonical JSON, SHA-256, the running Merkle
  range, the checkpoints' Ed25519 signatures.

Times in a page are ``performance.now()``; the script's own are ``time.monotonic()``,
and the offset between the two clocks is measured by round trips into the page (both
are the machine's monotonic clock; the error is at most half the shortest round trip,
printed). With ``--profile DIR`` one more first screen and one more catch-up are run
under Chromium's CPU profiler and tracing (and the server under py-spy, if installed),
saved to DIR and summarised; their figures are not the benchmark's. The script is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from bench_live import bearer, filesystem_of, py_spy, sampled, verdict
from bench_send import Server, cpu_model
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.browser.conftest import CHROMIUM_ARGS, chromium_path

STEP = 10.0
"""Seconds any one request, page load or awaited change on a page may take."""
PHASE_TIMEOUT = 900.0
"""Seconds any one phase (seeding, a run's sends, a catch-up) may take."""
SEED_CONCURRENCY = 16
"""Requests in flight at once while seeding."""
CALIBRATIONS = 25
"""Round trips into a page to find the offset between its clock and ours."""
TARGETS = {"first screen": 1000.0, "event to screen p50": 50.0, "catch-up": 2000.0}
"""The issue's targets, in milliseconds."""

Json = dict[str, Any]

SUBJECTS = (
    "Water main renewal, Mill Lane",
    "Hydrant flushing, Elm Street",
    "Valve replacement, Station Road",
    "Leak repair, Church Street junction",
    "Meter pit works, Riverside Avenue",
    "Pressure testing, Hill Road",
)
AREAS = ("Mill Lane, numbers 2-40", "Elm Street", "Station Road bridge", None)
BODY = "Open trench on the north lane; one lane closed with signals."
OBJECTION = "Resurfacing of this street ends on Friday; please start after it."


# -- figures ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figures:
    """Median, quartiles and extremes of some times in milliseconds."""

    median: float
    low: float
    high: float
    p99: float
    count: int

    @classmethod
    def of(cls, ms: Iterable[float]) -> Figures:
        """Summarise times in milliseconds (at least one)."""
        values = sorted(ms)
        p99 = (
            statistics.quantiles(values, n=100, method="inclusive")[98]
            if len(values) > 1
            else values[0]
        )
        return cls(statistics.median(values), values[0], values[-1], p99, len(values))

    def __str__(self) -> str:
        return f"{self.median:9.1f} {self.low:9.1f} {self.high:9.1f}"


def header(title: str) -> str:
    """A table's first line: its title, then the names of the columns."""
    return f"{title:<44}{'median':>9} {'min':>9} {'max':>9}"


def row(label: str, figures: object) -> str:
    """A line of a table: a label, then figures."""
    return f"  {label:<42}{figures}"


# -- seeding over REST --------------------------------------------------------------------


def draft(number: int, notice: str) -> Json:
    """A varied, realistic notice: subject, body, priority, area, sometimes a window."""
    body: Json = {
        "id": notice,
        "subject": f"{SUBJECTS[number % len(SUBJECTS)]} ({number + 1})",
        "body": BODY,
        "priority": ("routine", "routine", "important", "urgent")[number % 4],
    }
    area = AREAS[number % len(AREAS)]
    if area is not None:
        body["area"] = area
    if number % 3 == 0:
        start = datetime(2026, 12, 7, 7, tzinfo=UTC) + timedelta(days=number % 20)
        end = start + timedelta(hours=10)
        body["activity"] = {"starts_at": start.isoformat(), "ends_at": end.isoformat()}
    return body


async def in_parallel(
    work: list[Callable[[httpx.AsyncClient], Awaitable[None]]], server: Server
) -> float:
    """Run every item with at most ``SEED_CONCURRENCY`` at once; return the seconds taken."""
    queue = iter(work)
    limits = httpx.Limits(max_connections=SEED_CONCURRENCY)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=server.url, timeout=STEP * 6, limits=limits) as http:

        async def worker() -> None:
            for item in queue:  # one shared iterator: each item is taken once
                await item(http)

        async with asyncio.timeout(PHASE_TIMEOUT):
            await asyncio.gather(*(worker() for _ in range(SEED_CONCURRENCY)))
    return time.perf_counter() - started


def posting(server: Server, who: str, path: str, body: Json | None, expect: int = 200) -> Any:
    """A unit of seeding work: one POST as ``who``; anything unexpected stops the benchmark."""

    async def post(http: httpx.AsyncClient) -> None:
        url = f"/api/v1/channels/{server.channel}{path}"
        answer = await http.post(url, headers=bearer(server.tokens[who]), json=body)
        if answer.status_code != expect:
            raise SystemExit(f"POST {path} answered {answer.status_code}: {answer.text}")

    return post


def sends(server: Server, notices: list[str], senders: tuple[str, ...]) -> list[Any]:
    """Work items that send each notice, the senders taking turns."""
    return [
        posting(server, senders[n % len(senders)], "/notices", draft(n, notice), 201)
        for n, notice in enumerate(notices)
    ]


async def head_of(server: Server) -> int:
    """The demo channel's last sequence number."""
    async with httpx.AsyncClient(base_url=server.url, timeout=STEP) as http:
        answer = await http.get(
            f"/api/v1/channels/{server.channel}", headers=bearer(server.tokens["ana"])
        )
        answer.raise_for_status()
        head: int = answer.json()["head"]
    return head


async def notices_of(server: Server, status: str | None = None, most: int = 10**6) -> list[Json]:
    """The channel's notices (``id``, ``seq``, ``status``, ...), newest first, as served."""
    found: list[Json] = []
    cursor: str | None = None
    async with httpx.AsyncClient(base_url=server.url, timeout=STEP) as http:
        while len(found) < most:
            params: Json = {"limit": min(200, most)}
            params |= {"cursor": cursor} if cursor else {}
            params |= {"status": status} if status else {}
            answer = await http.get(
                f"/api/v1/channels/{server.channel}/notices",
                headers=bearer(server.tokens["ana"]),
                params=params,
            )
            answer.raise_for_status()
            page = answer.json()
            found += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    return found[:most]


async def settled(server: Server) -> None:
    """Wait until no notice awaits its receipt: a console confirms them once caught up."""
    async with asyncio.timeout(STEP * 6):
        # The server has nothing to wait on for this; ask it again until it says so.
        while await notices_of(server, "sent", most=1):  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def seed_first_screen(server: Server, count: int) -> tuple[int, list[list[str]]]:
    """``count`` notices from water, then every status: the head, and each notice's status.

    Of every ten notices, in log order: two are left as sent, two received, three
    acknowledged, two objected to (a decision logs the receipt too), and one cancelled by
    ana. The ten newest notices' turn comes last, one at a time, so the log's last event
    changes the status of a notice the inbox shows at the top. (The urgent notices that
    await a decision fall due an hour after they are sent, when the server logs
    ``notice.overdue``: the first screens run well within that hour.)

    Returns:
        The channel's head, and ``[id, status]`` of every notice, newest first.
    """
    notices = [str(uuid.uuid4()) for _ in range(count)]
    took = await in_parallel(sends(server, notices, ("ana", "ben")), server)
    print(f"  sent {count} notices in {took:.1f} s ({count / took:.0f}/s)")
    in_order = [n["id"] for n in reversed(await notices_of(server))]  # oldest first
    work = []
    for rank, notice in enumerate(in_order):
        roads = ("carla", "dev")[rank % 2]
        path = f"/notices/{notice}"
        match rank % 10:
            case 2 | 3:
                work.append(posting(server, roads, f"{path}/receipt", None))
            case 4 | 5 | 6:
                body = {"decision": "acknowledged"}
                work.append(posting(server, roads, f"{path}/decision", body))
            case 7 | 8:
                body = {"decision": "objected", "reason": OBJECTION}
                work.append(posting(server, roads, f"{path}/decision", body))
            case 9:
                body = {"reason": "Works postponed to the spring."}
                work.append(posting(server, "ana", f"{path}/cancellation", body))
    newest = work[-8:]  # the ten newest notices' changes: every residue but 0 and 1 has one
    took = await in_parallel(work[:-8], server)
    print(f"  {len(work) - 8} receipts, decisions and cancellations in {took:.1f} s")
    async with httpx.AsyncClient(base_url=server.url, timeout=STEP) as http:
        for item in newest:
            await item(http)
    listed = await notices_of(server)
    counts = Counter(n["status"] for n in listed)
    shown = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"  notices: {shown}")
    return await head_of(server), [[n["id"], n["status"]] for n in listed]


async def grow_to(server: Server, events: int) -> float:
    """Grow the channel to exactly ``events`` events: notices from water and their receipts."""
    head = await head_of(server)
    if head > events:
        raise SystemExit(f"the channel already holds {head} events, more than {events}")
    notices = [str(uuid.uuid4()) for _ in range((events - head + 1) // 2)]
    # An odd number missing: the last notice goes without a receipt.
    received = notices[: (events - head) // 2]
    started = time.perf_counter()
    took = await in_parallel(sends(server, notices, ("ana", "ben")), server)
    print(f"  sent {len(notices)} notices in {took:.1f} s ({len(notices) / took:.0f}/s)")
    receipts = [
        posting(server, ("carla", "dev")[n % 2], f"/notices/{notice}/receipt", None)
        for n, notice in enumerate(received)
    ]
    took = await in_parallel(receipts, server)
    print(f"  {len(receipts)} receipts in {took:.1f} s ({len(receipts) / took:.0f}/s)")
    if (head := await head_of(server)) != events:
        raise SystemExit(f"the channel holds {head} events, not {events}")
    return time.perf_counter() - started


# -- the browser --------------------------------------------------------------------------

CONSOLE_PROBE = r"""
(config) => {
  // Marks of a console page, in performance.now() milliseconds since the navigation began.
  const bench = (window.__bench = {
    marks: {}, arrivals: {}, seen: {}, painted: {}, want: new Set(), checks: 0,
  });
  const now = () => performance.now();
  const mark = (name) => { if (!(name in bench.marks)) bench.marks[name] = now(); };
  const Native = window.WebSocket;
  // The socket's messages, timed as they arrive, before the SDK's own listener runs.
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      mark("socket");
      this.addEventListener("message", (message) => {
        const text = message.data;
        if (typeof text !== "string" || !text.startsWith('{"type":"event"')) return;
        mark("first event");
        const seq = Number(/"seq":(\d+)/.exec(text)?.[1]);
        if (seq === config.head) mark("last event");
        if (bench.want.size && text.includes('"notice.sent"')) {
          const id = /"notice":"([0-9a-f-]{36})"/.exec(text)?.[1];
          if (id && bench.want.has(id) && !(id in bench.arrivals)) bench.arrivals[id] = now();
        }
      });
    }
  };
  const painted = (record) => requestAnimationFrame(() => record(now()));
  // Done: the inbox shows the newest notices first, each with the status the server gives
  // it, and either every notice or a button for the rest. The log's last event changes
  // one of the ten newest, so this holds only once the whole log is verified and folded.
  const check = () => {
    const expected = config.expected;
    const list = document.getElementById("inbox-list");
    if (!expected || !list || "done" in bench.marks) return;
    bench.checks += 1;
    const rows = list.querySelectorAll("li[data-notice]");
    if (rows.length === 0) return;
    mark("first row");
    const more = document.getElementById("inbox-more");
    if (rows.length !== expected.length && (!more || more.hidden)) return;
    if (rows.length > expected.length) return;
    for (const [i, row] of rows.entries()) if (row.dataset.notice !== expected[i][0]) return;
    mark("rows");
    for (const [i, row] of rows.entries()) {
      if (!row.querySelector(`.badge.status-${expected[i][1]}`)) return;
    }
    mark("done");
    painted((at) => { bench.marks.painted = at; });
  };
  new MutationObserver((records) => {
    if (bench.want.size) {
      for (const record of records) {
        for (const node of record.addedNodes) {
          const id = node.dataset?.notice;
          if (id && bench.want.has(id) && !(id in bench.seen)) {
            bench.seen[id] = now();
            painted((at) => { bench.painted[id] = at; });
          }
        }
      }
    }
    check();
  }).observe(document, { childList: true, subtree: true });
}
"""
"""Installed in console pages before any of their scripts: timings, and the done condition."""

CATCH_UP = r"""
async ({ channel, token, events, verify }) => {
  const sdk = await import("/sdk/hotline.js");
  const client = new sdk.HotlineClient({ baseUrl: location.origin, token });
  const warnings = [];
  const started = performance.now();
  let first = null;
  let subscription;
  const last = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the catch-up took too long")), 120_000);
    subscription = client.subscribe(channel, {
      after: 0,
      verify,
      store: new sdk.MemoryStore(),
      confirmReceipts: false,
      logger: { warn: (...args) => warnings.push(args.join(" ")) },
      onEvent: (event) => {
        first ??= performance.now();
        if (event.seq === events) { clearTimeout(timer); resolve(performance.now()); }
      },
      onError: (error) => { clearTimeout(timer); reject(error); },
    });
  });
  subscription.close();
  if (verify && subscription.checkpoint?.size !== events) {
    throw new Error(`verified up to ${subscription.checkpoint?.size}, not ${events}`);
  }
  return { total: last - started, first: first - started, warnings };
}
"""
"""A subscription from after=0 in a page, until the last event is delivered."""

VERIFY_ONLY = r"""
async ({ channel, token, events }) => {
  const sdk = await import("/sdk/hotline.js");
  const client = new sdk.HotlineClient({ baseUrl: location.origin, token });
  const key = await client.logKey();
  // The messages as the subscription's socket gets them, taken by a plain WebSocket.
  const texts = [];
  const opened = performance.now();
  let subscribed = null;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the socket took too long")), 120_000);
    const socket = new WebSocket(sdk.wsUrl(location.origin));
    socket.onopen = () => socket.send(JSON.stringify({ type: "hello", token }));
    socket.onerror = () => reject(new Error("the socket failed"));
    socket.onmessage = ({ data }) => {
      if (data.startsWith('{"type":"welcome"')) {
        socket.send(JSON.stringify({ type: "subscribe", channel, after: 0 }));
      } else if (data.startsWith('{"type":"subscribed"')) {
        subscribed = JSON.parse(data);
      } else if (data.startsWith('{"type":"event"')) {
        texts.push(data);
        if (texts.length === events) { clearTimeout(timer); socket.close(); resolve(); }
      }
    };
  });
  const received = performance.now() - opened;
  const time = async (work) => {
    const started = performance.now();
    await work();
    return performance.now() - started;
  };
  let messages;
  const parse = await time(() => { messages = texts.map((text) => JSON.parse(text)); });
  const proofs = (oldSize, size) => client.consistencyProof(channel, oldSize, size);
  let auditor;
  const audit = await time(async () => {
    auditor = await sdk.ChannelAuditor.create(channel, [key], proofs);
    await auditor.checkCheckpoint(subscribed.checkpoint);
    for (const { event, checkpoint } of messages) {
      await auditor.add(event, event, checkpoint ?? null);
    }
    await auditor.markHandled(events);
  });
  if (auditor.checkpoint.size !== events) throw new Error("the audit did not reach the end");
  // Its parts, one at a time.
  let canonical;
  const json = await time(() => {
    canonical = messages.map(({ event }) => sdk.canonicalJson(event));
  });
  let leaves;
  const sha = await time(async () => {
    leaves = [];
    for (const bytes of canonical) leaves.push(await sdk.leafHash(bytes));
  });
  const range = await time(async () => {
    const running = new sdk.CompactRange();
    for (const leaf of leaves) await running.append(leaf);
    await running.root();
  });
  const notes = messages.filter((m) => m.checkpoint).map((m) => m.checkpoint);
  notes.push(subscribed.checkpoint);
  const signatures = await time(async () => {
    for (const note of notes) await sdk.openCheckpoint(note, [key], { origin: auditor.origin });
  });
  const bytes = texts.reduce((sum, text) => sum + text.length, 0);
  return { received, parse, audit, json, sha, range, signatures, notes: notes.length, bytes };
}
"""
"""The messages of a catch-up taken by a plain socket, then the verification alone, timed."""


async def launch(playwright: Any) -> Browser:
    """Debian's Chromium (or ``HOTLINE_CHROMIUM``), headless, as the browser tests launch it."""
    browser: Browser = await playwright.chromium.launch(
        executable_path=str(chromium_path()), args=CHROMIUM_ARGS
    )
    return browser


async def console_page(browser: Browser, config: Json) -> tuple[BrowserContext, Page]:
    """A fresh context whose page carries ``CONSOLE_PROBE`` (not yet navigated)."""
    context = await browser.new_context()
    await context.add_init_script(script=f"({CONSOLE_PROBE})({json.dumps(config)})")
    page = await context.new_page()
    page.set_default_timeout(STEP * 1000)
    return context, page


def sign_in_link(server: Server, operator: str) -> str:
    """The demo's sign-in link: the token in the fragment, which is never sent."""
    return f"{server.url}/#token={server.tokens[operator]}"


async def clock_offset(page: Page) -> tuple[float, float]:
    """The page's ``performance.now()`` minus our ``time.monotonic()``, in ms; and its error.

    The smallest of ``CALIBRATIONS`` round trips bounds the error by half its length.
    """
    best = (float("inf"), 0.0)
    for _ in range(CALIBRATIONS):
        before = time.monotonic()
        inside: float = await page.evaluate("performance.now()")
        after = time.monotonic()
        rtt = (after - before) * 1000
        if rtt < best[0]:
            best = (rtt, inside - (before + after) * 500)
    return best[1], best[0] / 2


# -- (1) the first screen -----------------------------------------------------------------


async def first_screen(
    browser: Browser, server: Server, head: int, expected: list[list[str]]
) -> Json:
    """One first screen in a fresh context: the marks of ``CONSOLE_PROBE``, in ms."""
    config = {"expected": expected, "head": head}
    context, page = await console_page(browser, config)
    try:
        await page.goto(sign_in_link(server, "ana"), wait_until="commit")
        await page.wait_for_function(
            "() => 'painted' in window.__bench.marks", timeout=STEP * 6 * 1000
        )
        marks: Json = await page.evaluate(
            """() => {
              const navigation = performance.getEntriesByType("navigation")[0];
              const paint = performance.getEntriesByName("first-contentful-paint")[0];
              const files = performance.getEntriesByType("resource")
                .filter((entry) => new URL(entry.name).pathname.endsWith(".js"));
              return {
                ...window.__bench.marks,
                "modules fetched": Math.max(...files.map((entry) => entry.responseEnd)),
                modules: files.length,
                "page loaded": navigation.loadEventEnd,
                "first contentful paint": paint?.startTime ?? null,
                checks: window.__bench.checks,
              };
            }"""
        )
    finally:
        await context.close()
    return marks


FIRST_SCREEN_MARKS = (
    "first contentful paint",
    "modules fetched",
    "page loaded",
    "socket",
    "first event",
    "first row",
    "last event",
    "rows",
    "done",
    "painted",
)
"""The marks printed, in the order they usually come."""


def print_first_screen(number: int, runs: int, marks: Json) -> None:
    """One run's marks."""
    print(f"run {number} of {runs}: first screen, ms since the navigation began")
    print(f"  ({marks['modules']} JavaScript modules)")
    for name in FIRST_SCREEN_MARKS:
        value = marks.get(name)
        print(f"  {name:<26}{'-' if value is None else f'{value:9.1f}'}")


# -- (2) event to screen ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Screen:
    """One run of event to screen: each leg, in ms from just before the POST."""

    answered: Figures
    arrived: Figures
    in_dom: Figures
    painted: Figures
    samples: tuple[float, ...]
    """Every notice's time to the next animation frame, for figures over all runs."""
    error_ms: float
    """The clock offset's error bound."""
    drift_ms: float
    """How far the offset moved between the run's start and end."""


async def event_to_screen(browser: Browser, server: Server, sends: int) -> Screen:
    """carla's console, live; ana sends ``sends`` notices one at a time over REST.

    Timing starts once the console shows the newest notice already in the channel and
    has confirmed receipt of every notice it owed.
    """
    config = {"expected": None, "head": -1}
    context, page = await console_page(browser, config)
    answered, arrived, in_dom, painted = [], [], [], []
    try:
        newest = await notices_of(server, most=1)
        await page.goto(sign_in_link(server, "carla"), wait_until="commit")
        await page.wait_for_function(
            """(id) => {
              const top = document.querySelector('#inbox-list li[data-notice]');
              return id === null ? !!document.querySelector('#inbox-list .empty')
                                 : top?.dataset.notice === id;
            }""",
            arg=newest[0]["id"] if newest else None,
            timeout=STEP * 6 * 1000,
        )
        await settled(server)
        offset, error = await clock_offset(page)
        async with httpx.AsyncClient(base_url=server.url, timeout=STEP) as http:
            path = f"/api/v1/channels/{server.channel}/notices"
            await http.get("/healthz")  # connected before the first clock starts
            async with asyncio.timeout(PHASE_TIMEOUT):
                for number in range(sends):
                    notice = str(uuid.uuid4())
                    await page.evaluate("(id) => window.__bench.want.add(id)", notice)
                    body = draft(number, notice)
                    started = time.monotonic()
                    answer = await http.post(path, headers=bearer(server.tokens["ana"]), json=body)
                    done = time.monotonic()
                    if answer.status_code != 201:
                        raise SystemExit(f"send answered {answer.status_code}: {answer.text}")
                    await page.wait_for_function("(id) => id in window.__bench.painted", arg=notice)
                    await page.wait_for_selector(
                        f"#inbox-list li[data-notice='{notice}'] .status-delivered",
                        state="attached",
                    )
                    timing: Json = await page.evaluate(
                        """(id) => [window.__bench.arrivals[id], window.__bench.seen[id],
                                    window.__bench.painted[id]]""",
                        notice,
                    )
                    origin = started * 1000 + offset  # the POST's start on the page's clock
                    answered.append((done - started) * 1000)
                    arrived.append(timing[0] - origin)
                    in_dom.append(timing[1] - origin)
                    painted.append(timing[2] - origin)
        offset_after, _ = await clock_offset(page)
    finally:
        await context.close()
    return Screen(
        answered=Figures.of(answered),
        arrived=Figures.of(arrived),
        in_dom=Figures.of(in_dom),
        painted=Figures.of(painted),
        samples=tuple(painted),
        error_ms=error,
        drift_ms=offset_after - offset,
    )


def screen_header(title: str) -> str:
    """The title line of an event-to-screen table."""
    return f"{title:<44}{'median':>9} {'p99':>9} {'max':>9}"


def print_screen(title: str, screen: Screen) -> None:
    """One run of event to screen."""
    print(screen_header(title))
    for label, figures in (
        ("POST answered", screen.answered),
        ("notice.sent on carla's socket", screen.arrived),
        ("row in carla's page (DOM)", screen.in_dom),
        ("next animation frame", screen.painted),
    ):
        print(row(label, f"{figures.median:9.1f} {figures.p99:9.1f} {figures.high:9.1f}"))
    print(
        f"  clocks: offset error under {screen.error_ms:.2f} ms, "
        f"drift over the run {screen.drift_ms:+.2f} ms\n"
    )


# -- (3) the SDK's catch-up ---------------------------------------------------------------


async def blank_page(browser: Browser, server: Server) -> tuple[BrowserContext, Page]:
    """A fresh context's page on the server's origin, the SDK imported once (untimed)."""
    context = await browser.new_context()
    page = await context.new_page()
    page.set_default_timeout(STEP * 1000)
    await page.goto(f"{server.url}/healthz")
    await page.evaluate("async () => { await import('/sdk/hotline.js'); }")
    return context, page


async def catch_up(browser: Browser, server: Server, events: int) -> Json:
    """The three catch-ups, each in its own fresh context: verified, unverified, taken apart."""
    arguments = {"channel": server.channel, "token": server.tokens["ana"], "events": events}
    figures: Json = {}
    for name, script, extra in (
        ("verified", CATCH_UP, {"verify": True}),
        ("unverified", CATCH_UP, {"verify": False}),
        ("apart", VERIFY_ONLY, {}),
    ):
        context, page = await blank_page(browser, server)
        try:
            figures[name] = await page.evaluate(script, arguments | extra)
        finally:
            await context.close()
    return figures


def print_catch_up(number: int, runs: int, figures: Json) -> None:
    """One run of the catch-up."""
    verified, unverified, apart = figures["verified"], figures["unverified"], figures["apart"]
    print(f"run {number} of {runs}: catch-up from after=0, ms")
    for label, value in (
        ("subscribe, verify: true (to the last event)", verified["total"]),
        ("  of which until the first event", verified["first"]),
        ("subscribe, verify: false", unverified["total"]),
        ("a plain WebSocket takes every message", apart["received"]),
        ("the verification alone (ChannelAuditor)", apart["audit"]),
        ("  canonical JSON of every event", apart["json"]),
        ("  SHA-256 leaf hash of every event", apart["sha"]),
        ("  every leaf appended to a CompactRange", apart["range"]),
        (f"  {apart['notes']} checkpoints opened (Ed25519)", apart["signatures"]),
        ("JSON.parse of every message", apart["parse"]),
    ):
        print(row(label, f"{value:9.1f}"))
    print(f"  ({apart['bytes'] / 1e6:.1f} MB of messages)\n")


# -- profiling ----------------------------------------------------------------------------


async def profiled(
    browser: Browser, page: Page, work: Callable[[], Awaitable[Any]], output: Path
) -> None:
    """Run ``work`` under Chromium's sampling CPU profiler and its tracing; save, summarise.

    The CPU profile says which JavaScript ran; the trace says what the renderer's main
    thread did besides (style, layout, paint, garbage collection), which the profile
    lumps together as ``(program)``.
    """
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Profiler.enable")
    await cdp.send("Profiler.setSamplingInterval", {"interval": 200})
    await browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
    await cdp.send("Profiler.start")
    try:
        await work()
    finally:
        profile = (await cdp.send("Profiler.stop"))["profile"]
        trace = await browser.stop_tracing()
        await cdp.detach()
    await asyncio.to_thread(output.with_suffix(".cpuprofile").write_text, json.dumps(profile))
    await asyncio.to_thread(output.with_suffix(".trace.json").write_bytes, trace)
    summarise_profile(profile, output.with_suffix(".cpuprofile").name)
    summarise_trace(json.loads(trace), output.with_suffix(".trace.json").name)


TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8"]
"""What the renderer records in a trace: what DevTools' Performance panel shows."""


def summarise_trace(trace: Json, name: str, top: int = 15) -> None:
    """Self time by trace event name on the busiest renderer main thread."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    mains = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M" and e.get("args", {}).get("name") == "CrRendererMain"
    }
    spans: dict[tuple[int, int], list[tuple[float, float, str]]] = {}
    open_spans: dict[tuple[int, int], list[tuple[float, str]]] = {}
    for e in events:
        thread = (e.get("pid"), e.get("tid"))
        if thread not in mains:
            continue
        if e.get("ph") == "X" and "dur" in e:
            spans.setdefault(thread, []).append((e["ts"], e["ts"] + e["dur"], e["name"]))
        elif e.get("ph") == "B":
            open_spans.setdefault(thread, []).append((e["ts"], e["name"]))
        elif e.get("ph") == "E" and open_spans.get(thread):
            begun, label = open_spans[thread].pop()
            spans.setdefault(thread, []).append((begun, e["ts"], label))
    if not spans:
        print(f"  trace {name}: no renderer main thread found\n")
        return
    busiest = max(spans.values(), key=lambda s: sum(end - begin for begin, end, _ in s))
    own: Counter[str] = Counter()
    stack: list[tuple[float, float, str]] = []
    for begin, end, label in sorted(busiest, key=lambda s: (s[0], -s[1])):
        while stack and stack[-1][1] <= begin:
            stack.pop()
        own[label] += end - begin
        if stack:  # nested: its time is not its parent's own
            own[stack[-1][2]] -= min(end, stack[-1][1]) - begin
        stack.append((begin, end, label))
    print(f"  trace {name}: renderer main thread, self time by event")
    for label, micros in own.most_common(top):
        print(f"    {micros / 1000:8.1f} ms  {label}")
    print()


def summarise_profile(profile: Json, name: str, top: int = 15) -> None:
    """Self time by function and by file, from a ``.cpuprofile``."""
    frames = {node["id"]: node["callFrame"] for node in profile["nodes"]}
    by_function: Counter[str] = Counter()
    by_file: Counter[str] = Counter()
    for node, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = frames[node]
        where = frame["url"].rsplit("/", 1)[-1] or frame["functionName"] or "(native)"
        label = f"{frame['functionName'] or '(anonymous)'} {where}:{frame['lineNumber'] + 1}"
        by_function[label if frame["url"] else frame["functionName"]] += delta
        by_file[where] += delta
    total = sum(by_file.values()) or 1
    print(f"  Chromium CPU profile {name}: {total / 1000:.0f} ms sampled; self time")
    busy = total - by_file["(idle)"]
    print(f"    busy (not idle): {busy / 1000:.0f} ms")
    print("    by file:")
    for where, micros in by_file.most_common(top):
        print(f"      {100 * micros / total:5.1f}% {micros / 1000:8.1f} ms  {where}")
    print("    by function:")
    for label, micros in by_function.most_common(top):
        print(f"      {100 * micros / total:5.1f}% {micros / 1000:8.1f} ms  {label[:90]}")
    print()


def spied(output: Path) -> Path | None:
    """Where py-spy writes the server's samples: nowhere if py-spy is not installed."""
    return output if py_spy() is not None else None


async def profile_first_screen(
    browser: Browser, server: Server, head: int, expected: list[list[str]], directory: Path
) -> None:
    """One more first screen, under the profiler, from before the navigation to done."""
    config = {"expected": expected, "head": head}
    context, page = await console_page(browser, config)

    async def work() -> None:
        await page.goto(sign_in_link(server, "ana"), wait_until="commit")
        await page.wait_for_function(
            "() => 'painted' in window.__bench.marks", timeout=STEP * 6 * 1000
        )

    try:
        with sampled(server.process.pid, spied(directory / "first-screen-server.txt")):
            await profiled(browser, page, work, directory / "first-screen")
    finally:
        await context.close()


async def profile_catch_up(browser: Browser, server: Server, events: int, directory: Path) -> None:
    """One more verified catch-up, under the profiler."""
    arguments = {"channel": server.channel, "token": server.tokens["ana"], "events": events}
    context, page = await blank_page(browser, server)

    async def work() -> None:
        await page.evaluate(CATCH_UP, arguments | {"verify": True})

    try:
        with sampled(server.process.pid, spied(directory / "catch-up-server.txt")):
            await profiled(browser, page, work, directory / "catch-up")
    finally:
        await context.close()


# -- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, start the servers and Chromium, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each measurement (5)")
    parser.add_argument("--notices", type=int, default=1000, help="notices, first screen (1000)")
    parser.add_argument("--sends", type=int, default=200, help="sends a run, event to screen (200)")
    parser.add_argument("--events", type=int, default=10000, help="events of the catch-up (10000)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed sends first (20)")
    parser.add_argument("--profile", type=Path, help="also profile in Chromium, into DIR")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.notices < 10 or args.sends < 2 or args.warmup < 0:
        parser.error("need --runs >= 1, --notices >= 10, --sends >= 2, --warmup >= 0")
    if args.events < 10:
        parser.error("need --events >= 10")
    if not chromium_path().is_file():
        parser.error(f"{chromium_path()} is missing: apt-get install chromium")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    asyncio.run(measure(args))


async def measure(args: argparse.Namespace) -> None:
    """Everything, in order: event to screen, first screen (and event to screen), catch-up."""
    with tempfile.TemporaryDirectory(prefix="hotline-browser-") as tmp:
        directory = Path(tmp)
        async with async_playwright() as playwright:
            browser = await launch(playwright)
            try:
                print(
                    f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, ", end=""
                )
                print(f"Chromium {browser.version} headless, Playwright {version('playwright')}")
                print(f"{cpu_model()}, {os.cpu_count()} cores, {filesystem_of(directory)} at {tmp}")
                load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
                print(f"load average {load}\n")
                fresh = await fresh_channels(browser, directory, args)
                screens = await server_a(browser, directory, args)
                caught = await server_b(browser, directory, args)
            finally:
                await browser.close()
    summarise(args, screens, fresh, caught)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at the end {load}")


@dataclass(frozen=True, slots=True)
class Busy:
    """What server A measured: first screens, and event to screen with those notices."""

    marks: list[Json]
    events: int
    screens: list[Screen]


async def server_a(browser: Browser, directory: Path, args: argparse.Namespace) -> Busy:
    """Seed ``--notices`` notices with every status; first screens; event to screen."""
    (directory / "a").mkdir()
    server = Server(directory / "a")
    try:
        print(f"server A: seeding {args.notices} notices over REST")
        head, expected = await seed_first_screen(server, args.notices)
        print(f"  the channel: {head} events\n")
        marks = []
        await first_screen(browser, server, head, expected)  # warm the server
        for number in range(1, args.runs + 1):
            found = await first_screen(browser, server, head, expected)
            marks.append(found)
            print_first_screen(number, args.runs, found)
        print()
        if args.profile is not None:
            await profile_first_screen(browser, server, head, expected, args.profile)
        screens = []
        for number in range(1, args.runs + 1):
            screen = await event_to_screen(browser, server, args.sends)
            screens.append(screen)
            shown = args.notices + (number - 1) * args.sends
            print_screen(f"run {number}: event to screen, {shown}+ notices", screen)
    finally:
        server.stop()
    return Busy(marks, head, screens)


async def fresh_channels(
    browser: Browser, directory: Path, args: argparse.Namespace
) -> list[Screen]:
    """Event to screen on an empty channel: each run on a server of its own."""
    screens = []
    for number in range(1, args.runs + 1):
        (directory / f"fresh-{number}").mkdir()
        server = Server(directory / f"fresh-{number}")
        try:
            if args.warmup:
                await event_to_screen(browser, server, args.warmup)
            screen = await event_to_screen(browser, server, args.sends)
        finally:
            server.stop()
        screens.append(screen)
        title = f"run {number}: event to screen, {args.warmup}+ notices"
        print_screen(title, screen)
    return screens


async def server_b(browser: Browser, directory: Path, args: argparse.Namespace) -> list[Json]:
    """A fresh channel grown to ``--events`` events: catch-ups."""
    (directory / "b").mkdir()
    server = Server(directory / "b")
    try:
        print(f"server B: growing the channel to {args.events} events over REST")
        took = await grow_to(server, args.events)
        print(f"  grown in {took:.0f} s\n")
        caught = []
        for number in range(1, args.runs + 1):
            figures = await catch_up(browser, server, args.events)
            caught.append(figures)
            print_catch_up(number, args.runs, figures)
        if args.profile is not None:
            await profile_catch_up(browser, server, args.events, args.profile)
    finally:
        server.stop()
    return caught


def summarise(
    args: argparse.Namespace, busy: Busy, fresh: list[Screen], caught: list[Json]
) -> None:
    """The figures over all runs, beside the targets."""
    print(header(f"over {args.runs} runs (of run figures)"))
    done = Figures.of(m["painted"] for m in busy.marks)
    print(row(f"first screen, {args.notices} notices (ms)", done))
    for name, label in (
        ("modules fetched", "the last module fetched"),
        ("page loaded", "the page loaded"),
        ("socket", "the console opened its socket"),
        ("last event", f"the log's last event ({busy.events}) came"),
        ("rows", "the newest notices in place"),
        ("done", "their statuses right: done"),
    ):
        print(row(f"  {label} (ms)", Figures.of(m[name] for m in busy.marks)))
    target = TARGETS["first screen"]
    print(f"    target < {target:g} ms: {verdict(done.median < target)}")
    for title, screens in (
        (f"{args.warmup}+ notices", fresh),
        (f"{args.notices}+ notices", busy.screens),
    ):
        every = Figures.of(itertools.chain.from_iterable(s.samples for s in screens))
        medians = Figures.of(s.painted.median for s in screens)
        print(f"  event to screen, {title}: all {every.count} notices pooled (ms)")
        print(f"    p50 {every.median:.1f}, p99 {every.p99:.1f}, max {every.high:.1f}; ", end="")
        print(f"run medians {medians.low:.1f}-{medians.high:.1f}")
        dom = Figures.of(s.in_dom.median for s in screens)
        socket = Figures.of(s.arrived.median for s in screens)
        print(row("  run medians: row in the DOM (ms)", dom))
        print(row("  run medians: notice.sent on the socket (ms)", socket))
    target = TARGETS["event to screen p50"]
    p50 = Figures.of(itertools.chain.from_iterable(s.samples for s in fresh)).median
    print(f"    target p50 < {target:g} ms ({args.warmup}+ notices): {verdict(p50 < target)}")
    for label, key, part in (
        (f"catch-up of {args.events}, verified (ms)", "verified", "total"),
        ("  unverified (ms)", "unverified", "total"),
        ("  a plain socket takes the messages (ms)", "apart", "received"),
        ("  the verification alone (ms)", "apart", "audit"),
        ("    canonical JSON (ms)", "apart", "json"),
        ("    SHA-256 leaf hashes (ms)", "apart", "sha"),
        ("    CompactRange appends (ms)", "apart", "range"),
        ("    checkpoint signatures (ms)", "apart", "signatures"),
    ):
        print(row(label, Figures.of(c[key][part] for c in caught)))
    target = TARGETS["catch-up"]
    verified = statistics.median(c["verified"]["total"] for c in caught)
    print(f"    target < {target:g} ms: {verdict(verified < target)}")


if __name__ == "__main__":
    main()
