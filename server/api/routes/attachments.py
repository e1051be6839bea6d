"""Files a notice carries: upload, download."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["attachments"])
