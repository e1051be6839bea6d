"""A webhook call as the Standard Webhooks specification shapes it: body, headers, outcome.

https://www.standardwebhooks.com: the body is JSON, ``{"type", "timestamp", "data"}``;
three headers carry what the receiver checks:

- ``webhook-id``: the delivery's id, the same on every try (``server/domain/outbox.py``),
  so a receiver drops a repeat;
- ``webhook-timestamp``: when this try was made, in whole seconds since 1970, so a
  receiver refuses an old request replayed;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with the
  subscription's secret, and, while a rotated-out secret is still honoured, a second
  ``v1,…`` made with it, separated by a space: the receiver accepts either, so it can
  switch secrets when it likes during the overlap.

Secrets are 32 random bytes, shown as ``whsec_`` and their base64 (the specification's
form; it asks for 24 to 64 bytes). The signing is the ``standardwebhooks`` package's, so
that what the server sends is what that package's ``Webhook.verify`` accepts.

Pure: nothing here reads a clock, a database or the network.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from standardwebhooks import Webhook

from client.protocol import schemas
from client.protocol.times import format_time

__all__ = [
    "SECRET_BYTES",
    "SECRET_PREFIX",
    "SigningSecrets",
    "WebhookCall",
    "body",
    "is_secret",
    "new_secret",
    "outcome_of",
    "signed_headers",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 - a public prefix, as secret scanners know it
SECRET_BYTES = 32
"""Random bytes in a new secret: 256 bits, within the specification's 24 to 64."""


def new_secret() -> str:
    """A new signing secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def is_secret(text: str) -> bool:
    """Whether ``text`` has the form of a signing secret this server makes."""
    if not text.startswith(SECRET_PREFIX):
        return False
    try:
        raw = base64.b64decode(text[len(SECRET_PREFIX) :], validate=True)
    except ValueError:
        return False
    return len(raw) == SECRET_BYTES


@dataclass(frozen=True, slots=True)
class SigningSecrets:
    """A subscription's secrets in clear, as a call needs them (never stored like this).

    Attributes:
        current: The secret in force.
        previous: The secret it replaced, while still honoured.
        previous_until: Until when the previous secret signs too.
    """

    current: str
    previous: str | None = None
    previous_until: datetime | None = None

    def __repr__(self) -> str:  # a secret must not reach a log line through a repr
        return f"SigningSecrets(previous_until={self.previous_until!r})"

    def in_force(self, now: datetime) -> list[str]:
        """The secrets that sign a call made at ``now``: the current one first."""
        honoured = self.previous is not None and (
            self.previous_until is not None and now < self.previous_until
        )
        return [self.current, self.previous] if honoured and self.previous else [self.current]


def body(event: schemas.Event) -> str:
    """The JSON body of a call for ``event``: its type, its time, and the event itself.

    ``data`` is the whole event exactly as the REST API serves it (channel, seq, type,
    at, actor, data), so a receiver can check it against the channel's log and its
    proofs like any other copy.
    """
    payload = {
        "type": str(event.type),
        "timestamp": format_time(event.at),
        "data": event.model_dump(mode="json"),
    }
    # Compact and fixed: the bytes signed are the bytes sent.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def signed_headers(
    msg_id: str, timestamp: datetime, payload: str, secrets_: Sequence[str]
) -> dict[str, str]:
    """The Standard Webhooks headers of one call, signed with each of ``secrets_``.

    Args:
        msg_id: the delivery's id (the same on every try).
        timestamp: when this try is made (whole seconds are sent and signed).
        payload: the body, exactly as it will be sent.
        secrets_: the secrets in force, ``whsec_…``; the current one first.

    Raises:
        ValueError: no secret, or an id with a ``.`` in it (it would blur what is signed).
    """
    if not secrets_:
        raise ValueError("a webhook call is signed with at least one secret")
    if "." in msg_id:
        raise ValueError("a webhook id has no '.': the signed text is 'id.timestamp.body'")
    signatures = [Webhook(secret).sign(msg_id, timestamp, payload) for secret in secrets_]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }


@dataclass(frozen=True, slots=True)
class WebhookCall:
    """How one call went, as the subscription's record counts it.

    Attributes:
        ok: The receiver took it (a 2xx answer).
        permanent: Trying again is pointless (410 Gone: the receiver wants no more).
        error: Why not, short and free of secrets; ``None`` when it went through. It
            may name an address or quote the receiver: it goes to the party's own
            delivery log.
        kind: What went wrong in a word or two (``HTTP 503``, ``timed out``, ``connection
            refused``, ``address refused``…), naming no address or host and quoting
            nobody: all that the channel's log, which both parties read, says of it.
    """

    ok: bool
    permanent: bool = False
    error: str | None = None
    kind: str | None = None


def outcome_of(status_code: int) -> WebhookCall:
    """What a receiver's answer means (the specification's "HTTP etiquette").

    2xx: taken. 3xx: a failure, since redirects are not followed (the subscription's URL
    should be updated instead). 410 Gone: the receiver wants no more calls: the
    subscription is disabled at once. Anything else: a failure, tried again later.
    """
    if 200 <= status_code < 300:
        return WebhookCall(ok=True)
    if 300 <= status_code < 400:
        return WebhookCall(
            ok=False,
            error=f"HTTP {status_code}: redirects are not followed",
            kind=f"HTTP {status_code}",
        )
    if status_code == 410:
        return WebhookCall(
            ok=False, permanent=True, error="HTTP 410: the receiver is gone", kind="HTTP 410"
        )
    return WebhookCall(ok=False, error=f"HTTP {status_code}", kind=f"HTTP {status_code}")
