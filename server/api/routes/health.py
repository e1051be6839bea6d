"""Liveness and readiness, for load balancers and orchestrators (no token needed)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from server.api.deps import DatabaseDep
from server.api.unavailable import RETRY_AFTER_S

__all__ = ["READY_TIMEOUT_S", "router"]

READY_TIMEOUT_S = 3.0
"""How long ``/readyz`` waits for the database: a database that does not answer within
it is not ready either (a connection attempt may otherwise wait 10 s)."""

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    """Answers as long as the process serves HTTP; touches nothing else."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The server can reach its database",
    responses={503: {"description": "The database cannot be reached."}},
)
async def readyz(db: DatabaseDep) -> JSONResponse:
    """Answers 200 when a trivial query succeeds in time, 503 when it does not."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await db.ping()
    except Exception:  # any failure to reach the database means "not ready"
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    return JSONResponse({"status": "ok", "database": "reachable"})
