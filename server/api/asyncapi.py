"""The WebSocket protocol as an AsyncAPI 3 document, built from the message models.

Like the OpenAPI document, it is generated from the same Pydantic models the code uses
(``client/protocol/messages.py``), so it cannot drift from what the server speaks. It is
served at ``GET /asyncapi.json``.
"""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from client.protocol import messages

__all__ = ["asyncapi_document", "router"]

router = APIRouter(tags=["operations"])

CLIENT_MESSAGES: tuple[type[BaseModel], ...] = (
    messages.HelloMessage,
    messages.SubscribeMessage,
    messages.SendMessage,
    messages.ReceiptMessage,
    messages.DecideMessage,
    messages.CancelMessage,
    messages.AnswerCheckMessage,
)
SERVER_MESSAGES: tuple[type[BaseModel], ...] = (
    messages.WelcomeMessage,
    messages.SubscribedMessage,
    messages.EventMessage,
    messages.ResultMessage,
    messages.ErrorMessage,
    messages.PresenceMessage,
)


def _message_name(model: type[BaseModel]) -> str:
    return model.model_fields["type"].default  # type: ignore[no-any-return]


def _examples(schema: dict[str, Any]) -> dict[str, Any]:
    """A message's examples in AsyncAPI's form, from its schema's ``examples``."""
    found = schema.get("examples", [])
    if not found:
        return {}
    return {
        "examples": [
            {"name": _example_name(example, n), "payload": example}
            for n, example in enumerate(found, 1)
        ]
    }


def _example_name(example: Any, n: int) -> str:
    # An event's example is named after its type: ``check.requested`` and so on.
    event = example.get("event") if isinstance(example, dict) else None
    kind = event.get("type") if isinstance(event, dict) else None
    return str(kind) if kind else f"example-{n}"


@functools.cache
def asyncapi_document(*, version: str = "1") -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the ``/api/v1/ws`` endpoint."""
    models = CLIENT_MESSAGES + SERVER_MESSAGES
    _, schema = models_json_schema(
        [(model, "serialization") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    component_schemas: dict[str, Any] = schema.get("$defs", {})
    close_codes = "\n".join(
        f"- `{code.value}` {code.name.lower()}: {meaning}"
        for code, meaning in messages.CLOSE_CODE_MEANINGS.items()
    )
    channel_messages = {
        _message_name(model): {"$ref": f"#/components/messages/{_message_name(model)}"}
        for model in models
    }
    component_messages = {
        _message_name(model): {
            "name": _message_name(model),
            "title": model.__name__,
            "summary": (model.__doc__ or "").strip().splitlines()[0],
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
            **_examples(component_schemas.get(model.__name__, {})),
        }
        for model in models
    }

    def operation(action: str, listed: tuple[type[BaseModel], ...], summary: str) -> dict[str, Any]:
        return {
            "action": action,
            "channel": {"$ref": "#/channels/live"},
            "summary": summary,
            "messages": [
                {"$ref": f"#/channels/live/messages/{_message_name(model)}"} for model in listed
            ],
        }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Hotline live channel",
            "version": version,
            "description": (messages.__doc__ or "").strip() + "\n\nClose codes:\n\n" + close_codes,
        },
        "defaultContentType": "application/json",
        "channels": {
            "live": {
                "address": "/api/v1/ws",
                "title": "The live channel of one operator",
                "description": "Events of every subscribed channel, commands, presence.",
                "messages": channel_messages,
            }
        },
        "operations": {
            "clientSends": operation("receive", CLIENT_MESSAGES, "What a client may send."),
            "serverSends": operation("send", SERVER_MESSAGES, "What the server sends."),
        },
        "components": {"schemas": component_schemas, "messages": component_messages},
    }


@router.get("/asyncapi.json", summary="The WebSocket protocol (AsyncAPI 3)")
async def asyncapi(request: Request) -> dict[str, Any]:
    """The AsyncAPI 3 document of the WebSocket endpoint, beside `/openapi.json`."""
    return asyncapi_document(version=request.app.version)
