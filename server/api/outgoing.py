"""The webhook calls Hotline makes, in the OpenAPI document's ``webhooks`` section.

OpenAPI 3.1 describes the requests an API *sends* beside those it receives: what a
subscriber's receiver must accept. Nothing here serves a route; FastAPI only writes the
operation into ``/openapi.json`` (``docs/how-to/receive-webhooks.md`` tells the story).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Header
from pydantic import BaseModel, Field

from client.protocol import schemas

__all__ = ["WebhookCall", "install"]


class WebhookCall(BaseModel):
    """The body of a webhook call: one event of a channel's log (Standard Webhooks)."""

    type: str = Field(description="The event's type, such as `notice.sent`.")
    timestamp: schemas.Time = Field(description="When the event happened (its `at`).")
    data: schemas.Event = Field(
        description="The event exactly as the REST API serves it: check it against the "
        "channel's log and its proofs like any other copy."
    )


def install(app: FastAPI) -> None:
    """Describe the webhook call in ``app``'s OpenAPI document."""

    @app.webhooks.post(
        "channel-event",
        summary="An event of a channel the subscription is on",
        description="Sent once per event and subscription, after the event is committed; "
        "tried again with back-off until the receiver answers 2xx (a `410 Gone` ends the "
        "subscription). Verify the signature with the subscription's secret "
        "(`whsec_…`, [Standard Webhooks](https://www.standardwebhooks.com/)) and drop a "
        "repeat by `webhook-id`. Redirects are not followed; only 2xx counts.",
        status_code=204,
        tags=["webhooks"],
    )
    def channel_event(
        call: WebhookCall,
        webhook_id: Annotated[
            str,
            Header(
                alias="webhook-id",
                description="The delivery's id: the same on every try of it; drop repeats.",
            ),
        ],
        webhook_timestamp: Annotated[
            str,
            Header(
                alias="webhook-timestamp",
                description="When this try was signed, in whole seconds since 1970 (UTC).",
            ),
        ],
        webhook_signature: Annotated[
            str,
            Header(
                alias="webhook-signature",
                description="`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, one per secret "
                "in force, space-separated (two while a rotated secret overlaps).",
            ),
        ],
    ) -> None:
        """Never called: the operation documents what the receiver gets."""
