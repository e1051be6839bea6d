"""The browser's files: the console at ``/`` and ``/console/``, the JavaScript SDK at ``/sdk/``.

Both are static files shipped in the ``client`` package (``client/web/``); no token is
needed to fetch them, as none is needed to read any other public code. Every response
says ``Cache-Control: no-cache`` and carries an ``ETag``: a browser keeps its copy but asks
each time whether it is still current (a ``304`` when it is), so a new SDK or console is
picked up on the next load, never a day later.

The SDK may be imported by a page on any origin, and a module script from another origin
loads only with ``Access-Control-Allow-Origin``; so the SDK says ``*`` whatever
``HOTLINE_CORS_ORIGINS`` is. That is safe: it is public code, sent to anyone who asks,
and no credential is involved in fetching it. The console gets a strict
Content-Security-Policy: its own scripts and styles only, no inline script, network
requests only to this server and WebSockets, and no framing by other pages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

import client

__all__ = ["CONSOLE_CSP", "CONSOLE_DIR", "SDK_DIR", "WEB_DIR", "install"]

WEB_DIR = Path(client.__file__).parent / "web"
SDK_DIR = WEB_DIR / "sdk"
CONSOLE_DIR = WEB_DIR / "console"

CONSOLE_CSP = "; ".join(
    [
        "default-src 'self'",
        # The REST API and the live socket of this server, and nothing else: under CSP
        # Level 3, 'self' covers this origin's ws:/wss: too (Chrome 71, Firefox, Safari 16).
        # Bare "ws: wss:" would let a script open a socket to any host in the world.
        "connect-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
"""The console's Content-Security-Policy: with no ``'unsafe-inline'``, no inline script runs."""

_ALWAYS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
_SDK_HEADERS = {**_ALWAYS, "Access-Control-Allow-Origin": "*"}
_CONSOLE_HEADERS = {
    **_ALWAYS,
    "Content-Security-Policy": CONSOLE_CSP,
    "Referrer-Policy": "no-referrer",
}
# Python's guess depends on the platform's MIME tables (older ones say
# application/javascript, some none for .mjs); browsers refuse a module script whose type
# is not a JavaScript one, so the type is not left to a guess.
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".map": "application/json"}


class _Files(StaticFiles):
    """Static files that always revalidate and carry fixed headers."""

    def __init__(self, directory: Path, headers: Mapping[str, str]) -> None:
        # check_dir=False: a checkout that lacks one of the directories still builds the
        # API (the docs build does); a request for its files is then answered 404.
        super().__init__(directory=directory, check_dir=False)
        self.headers = dict(headers)

    async def check_config(self) -> None:
        """Accept a missing directory: its files are simply not found."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """The file (or a 304), with this directory's headers and a JavaScript type for .js."""
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(self.headers)
        media_type = _TYPES.get(Path(full_path).suffix)
        if media_type is not None and response.status_code != 304:
            response.headers["Content-Type"] = f"{media_type}; charset=utf-8"
        return response


def install(app: FastAPI) -> None:
    """Serve the SDK at ``/sdk/``, the console at ``/console/``, and its page at ``/``."""
    console = _Files(CONSOLE_DIR, _CONSOLE_HEADERS)

    async def console_page(request: Request) -> Response:
        return await console.get_response("index.html", request.scope)

    app.add_route("/", console_page, methods=["GET"], name="console-page", include_in_schema=False)
    app.mount("/console", console, name="console")
    app.mount("/sdk", _Files(SDK_DIR, _SDK_HEADERS), name="sdk")
