"""ASGI middleware: a request id, an access log line, a cap on body size, and no caching.

The cap is ``max_body_bytes`` (JSON requests are small) but for the one route that takes
a file, ``PUT /api/v1/channels/{channel}/attachments``, whose cap is
``max_attachment_bytes``.

Every answer under ``/api/`` says ``Cache-Control: no-store`` unless its route said
otherwise: an answer is for the token that asked (a channel's notices, a webhook's
secret, a file), and a shared cache (a proxy, a CDN) must not keep it for the next
asker, nor a browser on disk. The console's and the SDK's files, outside ``/api/``, keep
their own ``no-cache`` (``server/api/web.py``).

Written as plain ASGI (not Starlette's ``BaseHTTPMiddleware``) because it sits on every
request's path and must not buffer bodies or add a task per request.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.api.problems import problem
from server.logs import request_id

__all__ = ["RequestContext"]

log = logging.getLogger("hotline.access")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_UPLOAD = re.compile(r"/api/v1/channels/[^/]+/attachments/?")
_API = "/api/"
_NO_STORE = (b"cache-control", b"no-store")


class RequestContext:
    """Tag each HTTP request with an id, log it once, refuse big bodies, keep API answers unstored.

    Args:
        app: the application.
        max_body_bytes: the largest body of any request but an upload.
        max_attachment_bytes: the largest body of an upload (``None``: ``max_body_bytes``).
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_attachment_bytes: int | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_attachment_bytes = (
            max_body_bytes if max_attachment_bytes is None else max_attachment_bytes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = given if _CLIENT_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        received = 0
        limit = self._limit(scope)
        api = scope["path"].startswith(_API)

        declared = headers.get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send, rid, limit, api=api)
            self._log(scope, 413, started)
            request_id.reset(token)
            return

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException passes through FastAPI's body parsing untouched
                    # and reaches the problem handler like any other.
                    raise HTTPException(413, _too_large_detail(limit))
            return message

        async def tagging_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                sent = [*message.get("headers", []), (b"x-request-id", rid.encode())]
                if api and not any(name.lower() == _NO_STORE[0] for name, _ in sent):
                    sent.append(_NO_STORE)  # a route that chose its own caching keeps it
                message["headers"] = sent
            await send(message)

        try:
            await self.app(scope, counting_receive, tagging_send)
        finally:
            self._log(scope, status, started)
            request_id.reset(token)

    def _limit(self, scope: Scope) -> int:
        if scope["method"] == "PUT" and _UPLOAD.fullmatch(scope["path"]):
            return self.max_attachment_bytes
        return self.max_body_bytes

    @staticmethod
    async def _too_large(
        scope: Scope, receive: Receive, send: Send, rid: str, limit: int, *, api: bool
    ) -> None:
        detail = _too_large_detail(limit)
        response = problem(413, "content-too-large", detail, instance=scope["path"])
        response.headers["x-request-id"] = rid
        if api:
            response.headers["cache-control"] = "no-store"
        await response(scope, receive, send)

    @staticmethod
    def _log(scope: Scope, status: int, started: float) -> None:
        extra: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],  # the query string is left out: it is never needed here
            "status": status,
            "ms": round((time.perf_counter() - started) * 1000, 2),
        }
        log.info("request", extra=extra)


def _too_large_detail(limit: int) -> str:
    return f"request bodies are limited to {limit} bytes"
