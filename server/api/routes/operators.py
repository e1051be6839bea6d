"""Operators' own settings: their e-mail address."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["operators"])
