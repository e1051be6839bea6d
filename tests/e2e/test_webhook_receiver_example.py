"""The example webhook receiver, run as its README says, refusing a body it should not read.

``docs/examples/webhook-receiver/receiver.py`` is started as its own process and spoken to
over a raw socket, since a client library would not send the malformed headers tested here.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from tests.e2e.conftest import clean_env

RECEIVER = Path(__file__).parents[2] / "docs" / "examples" / "webhook-receiver" / "receiver.py"
SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
STEP = 5.0
"""Seconds any one answer may take: a receiver that holds a call longer has failed."""


@pytest.fixture
def port() -> Iterator[int]:
    """The port of a receiver started as ``python receiver.py --port 0 --secret …``."""
    process = subprocess.Popen(
        [sys.executable, str(RECEIVER), "--port", "0", "--secret", SECRET],
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line
        yield int(line.rstrip().rstrip("/").rsplit(":", 1)[1])
    finally:
        process.terminate()
        process.wait(STEP)
        if process.stderr is not None:
            process.stderr.close()


def call(port: int, head: list[str], body: bytes = b"") -> str:
    """Send one POST with these header lines (the body left as is) and read its answer.

    The socket stays open for writing, as a caller holding its connection would: an answer
    that comes only once the caller hangs up times out here.
    """
    request = "\r\n".join(["POST /hotline HTTP/1.1", "Host: 127.0.0.1", *head, "", ""])
    with socket.create_connection(("127.0.0.1", port), timeout=STEP) as sock:
        sock.sendall(request.encode() + body)
        answer = b""
        with contextlib.suppress(TimeoutError):
            while b"\r\n\r\n" not in answer and (chunk := sock.recv(4096)):
                answer += chunk
    return answer.decode("latin-1")


def status(answer: str) -> int:
    assert answer, "no answer"
    return int(answer.split(" ", 2)[1])


@pytest.mark.parametrize("length", ["-1", "-100", "abc", "1e3", "+5", " 0x10", "1_0"])
def test_a_content_length_that_is_not_a_length_is_refused_at_once(port: int, length: str) -> None:
    answer = call(port, [f"Content-Length: {length}"], b'{"type": "notice.sent"}')

    assert status(answer) == 400


def test_two_different_content_lengths_are_refused(port: int) -> None:
    answer = call(port, ["Content-Length: 2", "Content-Length: 20"], b"{}")

    assert status(answer) == 400


@pytest.mark.parametrize("length", [str(1024 * 1024 + 1), "9" * 5000])
def test_a_body_over_a_mebibyte_is_refused_unread(port: int, length: str) -> None:
    answer = call(port, [f"Content-Length: {length}"], b"{}")

    assert status(answer) == 413


def test_a_signed_call_is_still_taken_and_an_unsigned_one_refused(port: int) -> None:
    body = '{"type": "notice.sent", "timestamp": "2026-11-21T09:00:00.000Z", "data": {}}'
    msg_id = "18aa4bb9-8d4a-5446-b185-89306e76348f"
    now = datetime.now(UTC)
    signature = Webhook(SECRET).sign(msg_id, now, body)
    signed = [
        f"Content-Length: {len(body)}",
        f"webhook-id: {msg_id}",
        f"webhook-timestamp: {int(now.timestamp())}",
        f"webhook-signature: {signature}",
    ]

    assert status(call(port, signed, body.encode())) == 204
    assert status(call(port, signed, body.encode())) == 200, "a repeat is dropped"
    assert status(call(port, [f"Content-Length: {len(body)}"], body.encode())) == 401
