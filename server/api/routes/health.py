"""Liveness and readiness, for load balancers and orchestrators (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from server.api.deps import DatabaseDep

__all__ = ["router"]

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
    """Answers 200 when a trivial query succeeds, 503 when it does not."""
    try:
        await db.ping()
    except Exception:  # any failure to reach the database means "not ready"
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "reachable"})
