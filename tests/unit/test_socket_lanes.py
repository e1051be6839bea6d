"""The pieces a socket is served with, without a socket: its lanes, and uvicorn's protocol parts.

A lane (``server/api/websocket.py``) is a bounded queue served in order by a task that
exists only while it has work. ``server/socket_protocol.py`` gives uvicorn's protocol a
lighter receive queue and flag, and a transport that sends one turn's writes together.
Over real sockets: ``tests/e2e/test_websocket_live.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server.api.websocket import _Lane
from server.socket_protocol import _Batching, _Flag, _Inbox


class Served:
    """What a lane served, and what it was told failed."""

    def __init__(self) -> None:
        self.items: list[int] = []
        self.failures: list[BaseException] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def serve(self, item: int) -> None:
        await self.gate.wait()
        if item < 0:
            raise ValueError(item)
        self.items.append(item)

    def lane(self, limit: int = 10) -> _Lane[int]:
        return _Lane(self.serve, limit=limit, failed=self.failures.append, name="test-lane")


async def settled() -> None:
    """Let every task that can run, run (a few turns of the loop, no timer)."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_a_lane_serves_its_items_in_order_with_a_task_only_while_it_has_work() -> None:
    served = Served()
    lane = served.lane()
    idle = len(asyncio.all_tasks())

    for item in range(5):
        assert lane.put(item)
    working = len(asyncio.all_tasks())
    await settled()

    assert served.items == [0, 1, 2, 3, 4]
    assert working == idle + 1
    assert len(asyncio.all_tasks()) == idle
    assert lane.put(5)
    await settled()
    assert served.items[-1] == 5


async def test_a_full_lane_refuses_more_until_it_has_served_some() -> None:
    served = Served()
    served.gate.clear()  # the first item is taken, then the lane waits
    lane = served.lane(limit=2)

    accepted = [lane.put(item) for item in range(4)]
    await settled()
    accepted.append(lane.put(4))  # the first is being served: room for one
    accepted.append(lane.put(5))
    served.gate.set()
    await settled()

    assert accepted == [True, True, False, False, True, False]
    assert served.items == [0, 1, 4]


async def test_a_lane_whose_item_fails_reports_it_and_takes_nothing_more() -> None:
    served = Served()
    lane = served.lane()

    for item in (1, -1, 2):
        lane.put(item)
    await settled()
    assert lane.put(3)  # dropped: the connection is ending

    assert served.items == [1]
    assert [type(failure) for failure in served.failures] == [ValueError]
    await settled()
    assert served.items == [1]


async def test_a_stopped_lane_cancels_its_work_and_drops_what_comes_later() -> None:
    served = Served()
    served.gate.clear()
    lane = served.lane()
    lane.put(1)
    lane.put(2)
    await settled()

    await lane.stop()
    lane.put(3)
    served.gate.set()
    await settled()

    assert served.items == []
    assert served.failures == []


async def test_the_inbox_hands_over_in_order_and_wakes_its_reader() -> None:
    inbox = _Inbox()
    reading = asyncio.create_task(inbox.get())
    await settled()
    assert not reading.done()

    inbox.put_nowait({"type": "websocket.connect"})
    inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})

    assert await reading == {"type": "websocket.connect"}
    assert not inbox.empty()
    assert await inbox.get() == {"type": "websocket.disconnect", "code": 1000}
    assert inbox.empty()


async def test_a_reader_cancelled_while_waiting_leaves_the_inbox_usable() -> None:
    inbox = _Inbox()
    reading = asyncio.create_task(inbox.get())
    await settled()
    reading.cancel()
    await settled()

    inbox.put_nowait({"type": "websocket.connect"})

    assert await inbox.get() == {"type": "websocket.connect"}


async def test_the_flag_lets_waiters_through_only_while_set() -> None:
    flag = _Flag()
    waiting = [asyncio.create_task(flag.wait()) for _ in range(2)]
    await settled()
    assert not any(task.done() for task in waiting)

    flag.set()
    await asyncio.gather(*waiting)
    flag.clear()
    later = asyncio.create_task(flag.wait())
    await settled()

    assert not later.done()
    flag.set()
    await later


class FakeTransport:
    """A transport that records each write it is given as one system call would."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.sent.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0


def batching() -> tuple[_Batching, FakeTransport]:
    real = FakeTransport()
    transport: Any = real  # a stand-in for asyncio.Transport
    return _Batching(transport, asyncio.get_running_loop()), real


async def test_writes_of_one_turn_of_the_loop_leave_in_one_call() -> None:
    transport, real = batching()

    for frame in (b"a", b"b", b"c"):
        transport.write(frame)
    assert real.sent == []
    await settled()
    transport.write(b"d")
    await settled()

    assert real.sent == [b"abc", b"d"]


async def test_closing_sends_what_was_written_first() -> None:
    transport, real = batching()

    transport.write(b"close frame")
    transport.close()
    await settled()

    assert real.sent == [b"close frame"]
    assert real.closed


async def test_what_a_lost_connection_was_to_be_sent_is_dropped() -> None:
    transport, real = batching()

    transport.write(b"too late")
    real.closed = True  # the peer went away before the turn ended
    await settled()

    assert real.sent == []


@pytest.mark.parametrize("name", ["is_closing", "get_write_buffer_size"])
async def test_everything_else_is_the_real_transports(name: str) -> None:
    transport, real = batching()

    assert getattr(transport, name)() == getattr(real, name)()
