"""The server runs on uvloop's event loop where uvloop is installed, else on asyncio's."""

from __future__ import annotations

import asyncio
import sys

import pytest

from server.serve import run_loop


def loop_of_serve() -> type[asyncio.AbstractEventLoop]:
    """The class of the event loop ``run_loop`` runs the server's coroutine on."""
    found: list[type[asyncio.AbstractEventLoop]] = []

    async def look() -> None:
        found.append(type(asyncio.get_running_loop()))

    run_loop(look())
    return found[0]


def test_the_server_runs_on_uvloop_where_it_is_installed() -> None:
    uvloop = pytest.importorskip("uvloop")

    assert issubclass(loop_of_serve(), uvloop.Loop)


def test_without_uvloop_the_server_runs_on_asyncios_own_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # importing it now fails

    assert issubclass(loop_of_serve(), asyncio.BaseEventLoop)
