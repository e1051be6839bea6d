"""A receiver of Hotline's webhooks: checks each call's signature, drops repeats, logs the event.

Hotline signs its webhook calls by the Standard Webhooks specification
(https://www.standardwebhooks.com), so any of that specification's libraries can check
them; this one uses the Python package ``standardwebhooks`` and the standard library's
HTTP server, and nothing of Hotline::

    pip install standardwebhooks
    python receiver.py --port 8001 --secret whsec_…

For every call it:

1. checks the signature in ``webhook-signature`` against the body and the
   ``webhook-id`` and ``webhook-timestamp`` headers, with the secret (or secrets) it was
   given, and refuses a call that does not verify, or whose timestamp is more than five
   minutes off its own clock (a call recorded and replayed later), with ``401``;
2. answers a call whose ``webhook-id`` it has seen already with ``200`` and does nothing
   else: Hotline may send a call twice (it retries when it hears no answer), and the id
   is the same on every try;
3. prints the event as one line of JSON on its standard output, and answers ``204``.

A body over 1 MiB is refused with ``413`` before it is read, and a ``Content-Length``
that is not a length (negative, not a number, or two different ones) with ``400``.

Answer with a 2xx as soon as the call is safely taken: anything else (or no answer
within Hotline's time limit) is a failure that Hotline tries again later, and too many
failures in a row disable the subscription.

Secrets: ``--secret`` may be given twice while you move to a rotated secret: during the
overlap Hotline signs every call with the old and the new secret, and a call is taken if
either verifies. ``HOTLINE_WEBHOOK_SECRET`` is read when ``--secret`` is not given.

For tests, ``--fail-first N`` answers ``503`` to the first N calls, to watch Hotline try
again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from standardwebhooks import Webhook, WebhookVerificationError

__all__ = ["Receiver", "main", "make_server"]

MAX_BODY = 1024 * 1024
"""The largest body read; Hotline's events are a few kilobytes."""
REMEMBERED_IDS = 100_000
"""How many ``webhook-id`` values are kept to drop repeats (the oldest are forgotten)."""


class Receiver:
    """What the HTTP handler calls: verification, repeats, and what was received.

    Args:
        secrets: the subscription's secrets, ``whsec_…``; a call is taken if one verifies.
        fail_first: answer ``503`` to this many calls first (to test retries).
        out: where each event taken is printed as a line of JSON; ``None``: nowhere.
    """

    def __init__(
        self, secrets: Sequence[str], *, fail_first: int = 0, out: TextIO | None = sys.stdout
    ) -> None:
        if not secrets:
            raise ValueError("give the subscription's secret")
        self._verifiers = [Webhook(secret) for secret in secrets]
        self.fail_first = fail_first
        self.out = out
        self.calls = 0
        """Calls answered so far, whatever the answer."""
        self.received: list[dict[str, Any]] = []
        """The payloads taken, in order, each once."""
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)
        """Notified after every call (a test waits on it)."""

    def handle(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """Answer one call: the HTTP status and a short text."""
        with self.changed:
            try:
                return self._answer(headers, body)
            finally:
                self.calls += 1
                self.changed.notify_all()

    def _answer(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        if self.calls < self.fail_first:
            return 503, "failing on purpose (--fail-first)"
        payload = self._verified(headers, body)
        if payload is None:
            return 401, "signature or timestamp does not verify"
        msg_id = headers["webhook-id"]
        if msg_id in self._seen:
            return 200, "already received"
        self._seen[msg_id] = None
        if len(self._seen) > REMEMBERED_IDS:
            self._seen.popitem(last=False)
        self.received.append(payload)
        if self.out is not None:
            event = payload.get("data", {})
            line = {
                "webhook_id": msg_id,
                "type": payload.get("type"),
                "channel": event.get("channel"),
                "seq": event.get("seq"),
                "data": event.get("data"),
            }
            print(json.dumps(line), file=self.out, flush=True)
        return 204, ""

    def _verified(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any] | None:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return None
        for verifier in self._verifiers:
            try:
                payload = verifier.verify(text, dict(headers))
            except WebhookVerificationError:
                continue
            return payload if isinstance(payload, dict) else None
        return None


def make_server(address: tuple[str, int], receiver: Receiver) -> ThreadingHTTPServer:
    """An HTTP server answering every ``POST`` with ``receiver``; port 0 picks a free one."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "hotline-webhook-receiver/1"

        def do_POST(self) -> None:
            length = self._length()
            if length is None:
                self._refuse(400, "Content-Length is not a length")
                return
            if length > MAX_BODY:
                self._refuse(413, "too large")
                return
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, text = receiver.handle(headers, self.rfile.read(length))
            self._reply(status, text)

        def _length(self) -> int | None:
            """The body's length as the call states it: ``None`` if that is not a length.

            Only plain digits are a length: ``int()`` would take ``-1``, and reading ``-1``
            bytes reads until the caller hangs up, holding a thread as long as it likes. A
            length too long to be allowed is returned as one more than allowed.
            """
            stated = {value.strip() for value in self.headers.get_all("content-length", [])}
            if not stated:
                return 0
            if len(stated) > 1:
                return None  # two different lengths: which body is this?
            (value,) = stated
            if not (value.isascii() and value.isdigit()):
                return None
            digits = value.lstrip("0") or "0"
            if len(digits) > len(str(MAX_BODY)):
                return MAX_BODY + 1  # not parsed: int() refuses thousands of digits
            return int(digits)

        def _refuse(self, status: int, text: str) -> None:
            # The body is left unread, so nothing more on this connection is a call.
            self.close_connection = True
            self._reply(status, text)

        def _reply(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            if status != HTTPStatus.NO_CONTENT:
                self.send_header("content-type", "text/plain; charset=utf-8")
                self.send_header("content-length", str(len(data)))
            self.end_headers()
            if status != HTTPStatus.NO_CONTENT:
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            print(format % args, file=sys.stderr)

    return ThreadingHTTPServer(address, Handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the receiver until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on (0: any)")
    parser.add_argument(
        "--secret",
        action="append",
        help="the subscription's secret, whsec_… (twice while moving to a rotated one)",
    )
    parser.add_argument(
        "--fail-first", type=int, default=0, metavar="N", help="answer 503 to the first N calls"
    )
    args = parser.parse_args(argv)
    secrets = args.secret or [os.environ.get("HOTLINE_WEBHOOK_SECRET", "")]
    if not all(secrets):
        parser.error("give the secret with --secret or HOTLINE_WEBHOOK_SECRET")
    receiver = Receiver(secrets, fail_first=args.fail_first)
    with make_server((args.host, args.port), receiver) as server:
        # The port chosen (--port 0: any free one), for whoever started the receiver.
        print(f"listening on http://{args.host}:{server.server_port}/", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
