"""The server's key files on first start: one key wins, none is read half written or replaced.

Several workers of one server start at once and each finds no key file. The log key
(``server/keys.py``) and the secrets key (``server/secrets.py``) are both made by
``server/keyfile.py``; each is tested here with workers racing on threads, and with the
one interleaving that used to break a start: a second worker reading the file while the
first had it open and nothing written yet.
"""

from __future__ import annotations

import base64
import os
import stat
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from server.keyfile import make_key_file
from server.keys import LogKeys
from server.secrets import SecretBox

WORKERS = 8
NAME = "hotline.example"


def log_key(path: Path) -> str:
    """What a worker starting on ``path`` would sign with (its verifier key)."""
    return LogKeys.load_or_create(path, name=NAME).verifier_key


def secrets_key(path: Path) -> str:
    """Which key a worker starting on ``path`` holds: a sealed secret shows which opens it."""
    return SecretBox.load_or_create(path).seal("whsec_probe", bound_to="probe")


def all_at_once(start: Callable[[Path], str], path: Path) -> list[str]:
    """``start(path)`` on several threads released together."""
    barrier = threading.Barrier(WORKERS)

    def worker() -> str:
        barrier.wait()
        return start(path)

    with ThreadPoolExecutor(WORKERS) as pool:
        return [future.result() for future in [pool.submit(worker) for _ in range(WORKERS)]]


def leftovers(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p != path)


def test_workers_making_the_log_key_at_once_all_sign_with_the_same_one(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "log.key"

    keys = all_at_once(log_key, path)

    assert set(keys) == {log_key(path)}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert leftovers(path) == [], "no temporary file is left behind"


def test_workers_making_the_secrets_key_at_once_all_hold_the_same_one(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "secrets.key"

    sealed = all_at_once(secrets_key, path)

    box = SecretBox.load_or_create(path)
    assert {box.open(s, bound_to="probe") for s in sealed} == {"whsec_probe"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert leftovers(path) == []


@pytest.mark.parametrize("start", [log_key, secrets_key], ids=["log key", "secrets key"])
def test_a_worker_starting_while_another_writes_its_key_gets_a_whole_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start: Callable[[Path], str]
) -> None:
    path = tmp_path / "key"
    real_fdopen = os.fdopen
    second: list[str] = []

    def first_opens_its_file(fd: int, *args: Any, **kwargs: Any) -> Any:
        # The first worker has its file open, nothing written: the second starts now.
        if not second:
            second.append("starting")
            second[0] = start(path)
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", first_opens_its_file)
    first = start(path)
    monkeypatch.undo()

    again = start(path)
    if start is secrets_key:  # each seal is new: compare the keys by opening
        box = SecretBox.load_or_create(path)
        assert box.open(first, bound_to="probe") == box.open(second[0], bound_to="probe")
    else:
        assert first == second[0] == again
    assert leftovers(path) == []


def test_a_log_key_file_that_exists_is_read_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    LogKeys.load_or_create(path, name=NAME)
    before = path.read_bytes()

    assert not make_key_file(path, "PRIVATE+KEY+other")
    assert path.read_bytes() == before
    assert log_key(path) == log_key(path)
    assert path.read_bytes() == before


def test_a_secrets_key_file_that_exists_is_read_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "secrets.key"
    key = bytes(range(32))
    path.write_text(base64.b64encode(key).decode() + "\n")
    path.chmod(0o600)
    sealed = SecretBox(key).seal("whsec_kept", bound_to="row")

    box = SecretBox.load_or_create(path)

    assert box.open(sealed, bound_to="row") == "whsec_kept"
    assert path.read_text() == base64.b64encode(key).decode() + "\n"
    assert leftovers(path) == []
