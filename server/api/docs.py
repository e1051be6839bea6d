"""The API's documentation pages, /docs (Swagger UI) and /redoc (ReDoc), with no internet.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so without the internet they
are blank. Here their scripts and styles are the files that the ``fastapi-offline``
package ships (kept current with Swagger UI 5 and ReDoc 2), served by this server at
``/docs/assets/``.

Each page also carries a Content-Security-Policy that lets the browser fetch from this
server only. The viewers' own code may still name other hosts (ReDoc's footer shows a
logo from its maker's CDN); the browser refuses those requests before they leave the
machine, and the page works without them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS_DIR", "ASSETS_URL", "install"]

ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"  # where the package keeps them
ASSETS_URL = "/docs/assets"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _policy(html: str) -> str:
    """A Content-Security-Policy for one page: this server only, and its own inline script.

    The inline script that starts Swagger UI is allowed by its hash rather than by
    ``'unsafe-inline'``; styles may be inline, as both viewers write them at run time.
    """
    digests = [hashlib.sha256(script.encode()).digest() for script in _INLINE_SCRIPT.findall(html)]
    hashes = [f"'sha256-{base64.b64encode(digest).decode()}'" for digest in digests]
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *hashes]),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "worker-src 'self' blob:",  # ReDoc searches in a worker it makes from a blob
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _page(html: str) -> Callable[[Request], Awaitable[HTMLResponse]]:
    """An endpoint that answers with ``html`` under its policy."""
    headers = {"Content-Security-Policy": _policy(html), "X-Content-Type-Options": "nosniff"}

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(html, headers=headers)

    return page


def install(app: FastAPI) -> None:
    """Serve /docs, /redoc and their assets; ``app`` must be made with both URLs ``None``."""
    assert app.openapi_url is not None, "the pages show the OpenAPI document"
    swagger = get_swagger_ui_html(
        openapi_url=app.openapi_url,
        title=f"{app.title}: Swagger UI",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        oauth2_redirect_url=None,  # tokens are pasted, there is no OAuth flow to return from
        # Swagger UI would otherwise send the document's URL to validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    redoc = get_redoc_html(
        openapi_url=app.openapi_url,
        title=f"{app.title}: ReDoc",
        redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
        with_google_fonts=False,
    )
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    for path, page in (("/docs", swagger), ("/redoc", redoc)):
        endpoint = _page(bytes(page.body).decode())
        app.add_route(path, endpoint, methods=["GET"], include_in_schema=False)
