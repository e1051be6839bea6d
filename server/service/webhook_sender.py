"""Call one webhook for one delivery: the delivery worker's sender of kind ``webhook``.

For each delivery the worker hands over (``server/service/deliveries.py``), the sender:

1. loads the subscription (disabled or removed: nothing to send, given up) and the event
   by its channel and sequence number, exactly as the REST API serves it;
2. builds the body ``{"type", "timestamp", "data"}`` and signs it with the secrets in
   force: the current one and, during a rotation's overlap, the previous one
   (``server/domain/webhooks.py``);
3. resolves the URL's host and checks every address with the guard, then connects to an
   address it checked, never to the name: ``Host`` carries the name; for ``https`` TLS
   is also given the name (SNI) and checks the certificate against it. A name that
   resolves elsewhere between the check and the connection (DNS rebinding) reaches
   nothing new;
4. posts, without following redirects, under one time limit for the whole call, and
   reads at most ``HOTLINE_WEBHOOK_MAX_RESPONSE_BYTES`` of the answer (a receiver cannot
   keep the worker reading for ever, nor fill its memory): ``server/service/webhook_http.py``;
5. reports: a 2xx is delivered and resets the subscription's count of deliveries given
   up; anything else is a failed try, which the worker tries again later. Only a
   delivery *given up* counts against the subscription: its last try
   (``HOTLINE_DELIVERY_ATTEMPTS``) failed, or it was refused for good
   (``server/service/webhook_events.py``); so many given up in a row, or a ``410 Gone``,
   disable it. A receiver down for a few seconds while a burst of events is sent fails
   many tries, but gives up no delivery: their next tries find it back.

Plain-HTTP connections are kept open between calls (each is to an address, and carries
its own ``Host``). TLS connections are not: a connection made for one name must not
carry a request for another name that happens to share its address.

A call is cheap in the server's CPU, since every event of a busy channel may make one:
the subscription and the event are read in one query, with no session and no ORM
objects, on SQLite without leaving the event loop's thread
(``server/store/webhook_calls.py``); a host given as an address is not resolved, and a
name's addresses are remembered for a few seconds (each still checked at every call,
``server/service/destinations.py``); the request is written by h11 in one piece and its
answer read by it, without httpx's layers above (``server/service/webhook_http.py``); a
success leaves the subscription's row alone unless it had failures to forget.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
import uuid

import httpx

from client.protocol import schemas
from client.protocol.times import utc_now
from server.config import Settings
from server.domain.address_guard import WebhookAddressRefused
from server.domain.outbox import give_up
from server.domain.webhooks import SigningSecrets, WebhookCall, body, outcome_of, signed_headers
from server.secrets import SecretBox, SecretsError
from server.service.deliveries import Outgoing, Sent
from server.service.destinations import Checked, Guard, RecentAnswers, Unresolved, resolve
from server.service.webhook_events import (
    SUBSCRIPTION_DISABLED,
    SUBSCRIPTION_REMOVED,
    record_failure,
    record_success,
)
from server.service.webhook_http import CallFailed, ConnectFailed, Connections
from server.store.db import Database
from server.store.reach import StoredWebhook
from server.store.webhook_calls import WebhookCalls
from server.store.writer import Publisher

__all__ = ["USER_AGENT", "WebhookSender"]

log = logging.getLogger(__name__)

USER_AGENT = "Hotline-Webhooks/1"


class WebhookSender:
    """Sends deliveries of kind ``webhook``; one per server process.

    Args:
        db: the database.
        settings: the time limit, the answer's size limit, the allowed networks, the
            tries of a delivery, and how many deliveries given up in a row disable a
            subscription.
        secrets: opens the subscriptions' sealed secrets.
        publisher: where a ``webhook.disabled`` event goes once committed (the fan-out).
        guard: the address guard; one made from ``settings`` by default.
        ssl_context: checks the receivers' certificates (a test's authority); httpx's
            by default.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        secrets: SecretBox,
        publisher: Publisher | None = None,
        *,
        guard: Guard | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.db = db
        self.secrets = secrets
        self.publisher = publisher
        self.guard = guard or Guard.from_settings(settings, resolver=RecentAnswers(resolve))
        self.timeout = settings.webhook_timeout_seconds
        self.disable_after = settings.webhook_disable_after
        self.attempts = settings.delivery_attempts
        self._reads = WebhookCalls(db.engine)
        self._connections = Connections(
            max_response_bytes=settings.webhook_max_response_bytes, ssl_context=ssl_context
        )

    async def aclose(self) -> None:
        """Close the connections kept open."""
        await self._reads.close()
        await self._connections.aclose()

    async def send(self, delivery: Outgoing) -> Sent:
        """Make one call for ``delivery`` and say how it went; never raises for the call.

        A subscription that is disabled or gone, or whose secret does not open, gives
        ``permanent``: there is nothing to try again. So does the call that disables it.
        A failed call counts against the subscription only if the delivery is given up
        with it (its last try, or a refusal for good), not at every try.
        """
        try:
            webhook_id = uuid.UUID(delivery.target)
        except ValueError:
            return Sent(ok=False, permanent=True, error="not a webhook id")
        webhook, event = await self._load(webhook_id, delivery.channel, delivery.seq)
        if webhook is None or webhook.removed:
            return Sent(ok=False, permanent=True, error=SUBSCRIPTION_REMOVED)
        if not webhook.enabled:
            return Sent(ok=False, permanent=True, error=SUBSCRIPTION_DISABLED)
        if event is None:
            return Sent(ok=False, permanent=True, error=f"no event {delivery.seq} in the log")
        try:
            secrets = self._secrets(webhook)
        except SecretsError:
            log.error(
                "a webhook's secret does not open with the secrets key",
                extra={"webhook": str(webhook.id), "channel": webhook.channel},
            )
            return Sent(ok=False, permanent=True, error="the secret does not open")
        status, call = await self._call(delivery.id, webhook, event, secrets)
        if call.ok:
            if webhook.failures:
                await record_success(self.db, webhook.id)
            return Sent(ok=True, status_code=status)
        error = call.error or "failed"
        if not (call.permanent or give_up(delivery.attempt, attempts=self.attempts)):
            return Sent(ok=False, status_code=status, error=error)  # tried again later
        disabled = await record_failure(
            self.db,
            webhook.id,
            error=error,
            kind=call.kind or "failed",
            gone=status == 410,
            disable_after=self.disable_after,
            publisher=self.publisher,
        )
        return Sent(ok=False, status_code=status, error=error, permanent=call.permanent or disabled)

    async def _load(
        self, webhook_id: uuid.UUID, channel: str, seq: int
    ) -> tuple[StoredWebhook | None, schemas.Event | None]:
        return await self._reads.read(webhook_id, channel=channel, seq=seq)

    def _secrets(self, webhook: StoredWebhook) -> SigningSecrets:
        bound_to = str(webhook.id)
        previous = None
        if webhook.previous_secret is not None:
            previous = self.secrets.open(webhook.previous_secret, bound_to=bound_to)
        return SigningSecrets(
            current=self.secrets.open(webhook.secret, bound_to=bound_to),
            previous=previous,
            previous_until=webhook.previous_until,
        )

    async def _call(
        self,
        delivery_id: uuid.UUID,
        webhook: StoredWebhook,
        event: schemas.Event,
        secrets: SigningSecrets,
    ) -> tuple[int | None, WebhookCall]:
        """Resolve, check, post: the status code (if any) and what it means."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                checked = await self.guard.check(webhook.url)
                payload = body(event)
                # The receiver compares the timestamp with its own clock: the real time.
                signing = secrets.in_force(self.db.clock.now())
                headers = signed_headers(str(delivery_id), utc_now(), payload, signing)
                return await self._post(checked, payload, headers)
        except Unresolved as exc:
            return None, WebhookCall(ok=False, error=exc.message, kind="name not resolved")
        except WebhookAddressRefused as exc:
            # The name leads somewhere it may not go: no use trying this call again.
            return None, WebhookCall(
                ok=False, permanent=True, error=exc.message, kind="address refused"
            )
        except TimeoutError:
            took = time.monotonic() - started
            error = f"no answer within {took:.1f} s"
            return None, WebhookCall(ok=False, error=error, kind="timed out")

    async def _post(
        self, checked: Checked, payload: str, headers: dict[str, str]
    ) -> tuple[int | None, WebhookCall]:
        destination = checked.destination
        tls = destination.scheme == "https"
        head = [
            (b"host", destination.host_header.encode("ascii")),
            (b"user-agent", USER_AGENT.encode("ascii")),
            *((name.encode("ascii"), value.encode("ascii")) for name, value in headers.items()),
        ]
        content = payload.encode("utf-8")
        error, kind = "no address to connect to", "no connection"
        for address in checked.addresses:  # the next address only if this one refuses
            try:
                status = await self._connections.post(
                    address,
                    destination.port,
                    tls=tls,
                    tls_name=None if destination.host_is_address else destination.host,
                    target=_target(destination.target),
                    headers=head,
                    body=content,
                )
            except ConnectFailed as exc:
                error, kind = f"cannot connect to {address}: {exc.reason}", exc.kind
                continue
            except CallFailed as exc:
                return None, WebhookCall(ok=False, error=exc.reason, kind=exc.kind)
            return status, outcome_of(status)
        return None, WebhookCall(ok=False, error=error, kind=kind)


@functools.lru_cache(maxsize=1024)
def _target(path: str) -> bytes:
    """A URL's path and query as the request line carries them: percent-encoded as httpx
    encodes them (a name or a query may hold letters beyond ASCII)."""
    return httpx.URL("http://host" + path).raw_path


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
