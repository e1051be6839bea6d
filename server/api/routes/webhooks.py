"""A party's webhook subscriptions and the channel's delivery log."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["webhooks"])
