"""Cross-origin requests: which web pages, served from elsewhere, may call the REST API.

A browser lets a page read a response from another origin only when the response says
so (``Access-Control-Allow-Origin``), and asks first, with a preflight ``OPTIONS``,
before it sends a request with an ``Authorization`` header. Starlette's
``CORSMiddleware`` answers both from ``HOTLINE_CORS_ORIGINS``.

Allowing any origin is safe here because the API authenticates with a bearer token the
page itself puts in a header, never with a cookie: a foreign page cannot borrow a
signed-in user's session, since the browser has none to attach. docs/how-to/web-pages.md
says when that stops being true.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

__all__ = ["ALLOWED_HEADERS", "ALLOWED_METHODS", "EXPOSED_HEADERS", "install"]

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ALLOWED_HEADERS = ("authorization", "content-type", "x-request-id")
EXPOSED_HEADERS = ("x-request-id",)


def install(app: FastAPI, origins: Sequence[str]) -> None:
    """Answer preflights and label responses for ``origins`` (``*``: any), outermost.

    Outermost means outside even Starlette's server-error middleware, which
    ``add_middleware`` cannot reach: so a 500, a 413 from ``RequestContext`` and every
    other problem a page gets carries the headers that let the page read it, rather than
    failing as an opaque network error.
    """
    build_stack = app.build_middleware_stack

    def build_stack_with_cors() -> ASGIApp:
        return CORSMiddleware(
            build_stack(),
            allow_origins=origins,
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            allow_credentials=False,  # tokens travel in a header; cookies are never used
            expose_headers=EXPOSED_HEADERS,
        )

    app.build_middleware_stack = build_stack_with_cors  # type: ignore[method-assign]
