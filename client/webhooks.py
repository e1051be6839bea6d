"""The SDK's calls about webhooks: a party's subscriptions to a channel's events, and what was sent.

An admin subscribes a URL to the channel's events; the server then posts each event of the
chosen types to it, signed as the Standard Webhooks specification says (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``). The signing secret is in the answer that
makes the subscription, and in the answer to a rotation, and nowhere else: keep it then::

    made = await hotline.add_webhook("water-roads", "https://ops.water.example/hotline",
                                     types=["notice.sent", "notice.escalated"])
    store_in_your_vault(made.secret)          # the server will not show it again
    async for delivery in hotline.webhook_deliveries("water-roads", made.id):
        print(delivery.seq, delivery.status, len(delivery.attempts))

Only an admin of a party manages its subscriptions, and sees only its own party's. A
subscription whose deliveries are given up too often in a row is disabled by the server,
which logs ``webhook.disabled`` in the channel; ``update_webhook(…, enabled=True)``
starts it again.
See docs/how-to/receive-webhooks.md for the receiving side.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Literal
from uuid import UUID

from pydantic import TypeAdapter

from client.calls import Requester, channel_path
from client.drafts import to_uuid
from client.protocol.schemas import Delivery, DeliveryPage, RotatedSecret, Webhook, WebhookCreated

__all__ = ["DEFAULT_OVERLAP", "DeliveryKind", "WebhookCalls"]

DEFAULT_OVERLAP = timedelta(days=1)
"""How long a rotated-out secret goes on signing beside the new one, unless told otherwise."""

DeliveryKind = Literal["webhook", "mail"]
"""What a delivery is: a call to a webhook, or a mail to an operator."""

_webhook_list: TypeAdapter[list[Webhook]] = TypeAdapter(list[Webhook])


def _webhooks(channel: str, webhook: UUID | str | None = None) -> str:
    path = f"{channel_path(channel)}/webhooks"
    return path if webhook is None else f"{path}/{to_uuid(webhook)}"


class WebhookCalls:
    """Webhook calls of :class:`~client.sdk.HotlineClient` (a mixin); admins only."""

    async def webhooks(self: Requester, channel: str) -> list[Webhook]:
        """The operator's party's subscriptions on ``channel``, oldest first, without secrets.

        Raises:
            Forbidden: the operator is not an admin.
            NotFound: no such channel of the operator's party.
        """
        found = await self._request("GET", _webhooks(channel), retry=True)
        return _webhook_list.validate_python(found)

    async def webhook(self: Requester, channel: str, webhook: UUID | str) -> Webhook:
        """One subscription of the operator's party, without its secret.

        Raises:
            NotFound: no such subscription of this party (the other party's are not seen).
        """
        found = await self._request("GET", _webhooks(channel, webhook), retry=True)
        return Webhook.model_validate(found)

    async def add_webhook(
        self: Requester, channel: str, url: str, *, types: Sequence[str] = ()
    ) -> WebhookCreated:
        """Subscribe ``url`` to the channel's events for the operator's party.

        Not tried again by itself: a lost answer may have made the subscription, whose
        secret is then lost with it (list the subscriptions, remove it, add it again).

        Args:
            channel: the channel's id.
            url: where the server posts each event: ``https://`` (or ``http://``), a
                public address unless the server's ``HOTLINE_WEBHOOK_ALLOW_NETWORKS``
                allows others; no user name or password in it.
            types: the event types to send, such as ``["notice.sent"]``; none: all.

        Returns:
            The subscription and its signing secret, ``whsec_…``: shown this once.

        Raises:
            Invalid: code ``webhook-address-refused``: the URL is not one the server may
                call (a private address, a scheme other than http(s), a user name in it).
            Forbidden: the operator is not an admin.
        """
        found = await self._request(
            "POST", _webhooks(channel), json={"url": url, "types": list(types)}
        )
        return WebhookCreated.model_validate(found)

    async def update_webhook(
        self: Requester,
        channel: str,
        webhook: UUID | str,
        *,
        url: str | None = None,
        types: Sequence[str] | None = None,
        enabled: bool | None = None,
    ) -> Webhook:
        """Change a subscription: its URL, its event types, or whether it is called.

        Enabling a subscription the server disabled starts its count of deliveries given
        up afresh.
        What is left ``None`` stays as it is. The same change made twice is made once, so
        a lost answer is retried by itself.

        Raises:
            Invalid: code ``webhook-address-refused``: the new URL may not be called.
            NotFound: no such subscription of this party.
        """
        changes: dict[str, object] = {}
        if url is not None:
            changes["url"] = url
        if types is not None:
            changes["types"] = list(types)
        if enabled is not None:
            changes["enabled"] = enabled
        found = await self._request("PATCH", _webhooks(channel, webhook), json=changes, retry=True)
        return Webhook.model_validate(found)

    async def rotate_webhook_secret(
        self: Requester,
        channel: str,
        webhook: UUID | str,
        *,
        overlap: timedelta = DEFAULT_OVERLAP,
    ) -> RotatedSecret:
        """Give a subscription a new signing secret.

        For ``overlap`` the server signs each call with both the new and the old secret,
        so the receiver can switch when it likes; ``timedelta(0)``: the old one stops now.
        Not tried again by itself: a second rotation would retire the secret this one made.

        Returns:
            The new secret, shown this once, and when the old one stops signing.

        Raises:
            Invalid: the overlap is out of bounds.
            NotFound: no such subscription of this party.
        """
        seconds = int(overlap.total_seconds())
        found = await self._request(
            "POST", f"{_webhooks(channel, webhook)}/rotate", json={"overlap_seconds": seconds}
        )
        return RotatedSecret.model_validate(found)

    async def remove_webhook(self: Requester, channel: str, webhook: UUID | str) -> None:
        """Remove a subscription: it is called no more, and what still waited for it is
        given up. Its deliveries stay in the party's delivery log (:meth:`deliveries`,
        and :meth:`webhook_deliveries` by its id); nothing else finds it any more.

        Not tried again by itself: a second removal is refused.

        Raises:
            NotFound: no such subscription of this party (or it was removed already).
        """
        await self._exchange("DELETE", _webhooks(channel, webhook))

    def webhook_deliveries(
        self: Requester, channel: str, webhook: UUID | str, *, page_size: int = 50
    ) -> AsyncIterator[Delivery]:
        """The calls made, or still to make, to one subscription, newest event first,
        each with its attempts; fetched a page at a time. Removed, it still has them.

        Raises:
            NotFound: no such subscription of this party, nor one it removed.
        """
        return _pages(self, f"{_webhooks(channel, webhook)}/deliveries", {}, page_size)

    def deliveries(
        self: Requester,
        channel: str,
        *,
        kind: DeliveryKind | None = None,
        page_size: int = 50,
    ) -> AsyncIterator[Delivery]:
        """What the channel's events sent to the operator's party, newest event first:
        calls to its webhooks (those removed too), and mail to its operators; fetched a
        page at a time.

        Args:
            channel: the channel's id.
            kind: only ``"webhook"`` calls, or only ``"mail"``; both when ``None``.
            page_size: deliveries per request.
        """
        params: dict[str, str | int] = {} if kind is None else {"kind": kind}
        return _pages(self, f"{channel_path(channel)}/deliveries", params, page_size)


async def _pages(
    client: Requester, path: str, params: dict[str, str | int], page_size: int
) -> AsyncIterator[Delivery]:
    query: dict[str, str | int] = {**params, "limit": page_size}
    while True:
        found = await client._request("GET", path, params=query, retry=True)
        page = DeliveryPage.model_validate(found)
        for delivery in page.items:
            yield delivery
        if page.next_before is None:
            return
        query["before"] = page.next_before
