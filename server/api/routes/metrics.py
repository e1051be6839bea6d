"""``GET /metrics`` for Prometheus; counts only, and still only for an admin's token."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from client.protocol.vocabulary import Role
from server.api.deps import CurrentOperator
from server.api.problems import responses
from server.domain.errors import Forbidden
from server.metrics import Metrics

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"description": "The Prometheus text format.", "content": {CONTENT_TYPE_LATEST: {}}},
        **responses(403),
    },
)
async def metrics(request: Request, actor: CurrentOperator) -> Response:
    """Connections, events pushed, send-to-delivery latency and slow-socket closes.

    Scrape it with an `admin` operator's token (Prometheus: `authorization: credentials`).
    """
    if actor.role is not Role.ADMIN:
        raise Forbidden("metrics are for operators with the admin role")
    registry: Metrics = request.app.state.metrics
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
