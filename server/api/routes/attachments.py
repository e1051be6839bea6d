"""Files a notice carries: upload, download.

An upload is the request's raw body, typed by its ``Content-Type``; the answer is what a
notice lists (``sha256``, ``size``, ``media_type``, ``name``). A download is served as an
attachment that no browser will render in the page or guess the type of.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse

from client.protocol import schemas
from client.protocol.limits import FILE_NAME_PATTERN
from server.api.deps import ChannelId, CurrentOperator, DatabaseDep
from server.api.problems import problem, responses
from server.domain.attachments import GEOJSON_TYPES, MAX_NAME, MEDIA_TYPES, Attachment
from server.service import attachments
from server.store.attachments import Blobs, Corrupt

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/channels/{channel_id}/attachments", tags=["attachments"])

_BINARY = {"type": "string", "format": "binary", "minLength": 1}
# What a file may be, as far as a schema can say: it is not empty; a GeoJSON text is an
# object with one of GeoJSON's types; plain text is UTF-8 without a NUL. That a PDF, PNG
# or JPEG starts with its signature bytes only the server's check can say.
_FILES = {
    **{media_type: {"schema": _BINARY} for media_type in sorted(MEDIA_TYPES)},
    "application/geo+json": {
        "schema": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": sorted(GEOJSON_TYPES)}},
        }
    },
    "text/plain": {"schema": {"type": "string", "minLength": 1, "pattern": "^[^\\x00]*$"}},
}


def _blobs(request: Request) -> Blobs:
    return Blobs(request.app.state.settings.attachments_dir)


@router.put(
    "",
    summary="Upload a file",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Attachment,
    responses={
        200: {
            "description": "The caller's party uploaded these bytes to the channel before.",
            "model": schemas.Attachment,
        },
        **responses(403, 404, 413, 415, 422),
    },
    openapi_extra={"requestBody": {"required": True, "content": _FILES}},
)
async def upload(
    request: Request,
    db: DatabaseDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    name: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_NAME,
            description="The file's name, as notices will list it: 1 to 255 characters, "
            "no `/` or `\\`, no control characters, not `.` or `..`.",
            json_schema_extra={"pattern": FILE_NAME_PATTERN},
        ),
    ],
) -> JSONResponse:
    """Upload a file for a notice to carry: the body is the file, typed by `Content-Type`.

    Accepted: `application/pdf`, `image/png`, `image/jpeg`, `application/geo+json` and
    `text/plain` (UTF-8), up to `HOTLINE_MAX_ATTACHMENT_BYTES`; the bytes must be what
    the type says. The file is stored by its SHA-256: uploading the same bytes again is
    safe and answers 200. List the answer in a notice's `attachments` to send it.
    Operators and admins may upload; observers may not.
    """
    settings = request.app.state.settings
    uploaded = await attachments.upload(
        db,
        _blobs(request),
        actor,
        channel_id,
        name=name,
        content_type=request.headers.get("content-type"),
        chunks=request.stream(),
        limit=settings.max_attachment_bytes,
    )
    counter = getattr(request.app.state.metrics, "attachment_bytes", None)
    if uploaded.created and counter is not None:
        counter.inc(uploaded.attachment.size)
    return JSONResponse(
        uploaded.attachment.wire(),
        status_code=status.HTTP_201_CREATED if uploaded.created else status.HTTP_200_OK,
    )


@router.get(
    "/{sha256}",
    summary="Download a file",
    response_class=Response,
    responses={
        200: {"description": "The file's bytes, checked against its hash.", "content": _FILES},
        **responses(404, 422, 500),
    },
)
async def download(
    request: Request,
    db: DatabaseDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    sha256: Annotated[str, Path(description="The file's SHA-256, 64 lower-case hex digits.")],
) -> Response:
    """A file of the channel: one a notice of it lists, or one the caller's party uploaded.

    Anything else is 404, whether or not it exists. The bytes are hashed again before a
    byte is sent: a file altered on disk is refused with 500 `attachment-corrupt`.
    Check the hash yourself too, against the notice's `notice.sent` event.
    """
    try:
        found = await attachments.download(db, _blobs(request), actor, channel_id, sha256)
    except Corrupt:
        return problem(
            500,
            "attachment-corrupt",
            "the stored file no longer has the hash it was stored under: it is not served "
            "(the server's log says more)",
            instance=request.url.path,
        )
    return Response(
        found.content, media_type=found.attachment.media_type, headers=_headers(found.attachment)
    )


def _headers(attachment: Attachment) -> dict[str, Any]:
    """Serve a file as a download that nothing renders or sniffs."""
    return {
        "Content-Disposition": _disposition(attachment.name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }


def _disposition(name: str) -> str:
    """``attachment`` with the name in UTF-8 (RFC 6266, RFC 8187), and in ASCII for old agents."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\%' else "_" for c in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
