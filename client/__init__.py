"""Hotline's client side: the wire protocol, the Python SDK and the command line.

The SDK's public names are importable from here::

    from client import HotlineClient, NotFound
"""

from client.errors import (
    ApiError,
    AttachmentMismatch,
    Closed,
    Conflict,
    ConnectionLost,
    Forbidden,
    HotlineError,
    Invalid,
    LogTampered,
    NotFound,
    SplitView,
    Unauthenticated,
    Unreachable,
)
from client.live import Backoff, Subscription
from client.sdk import HotlineClient

__all__ = [
    "ApiError",
    "AttachmentMismatch",
    "Backoff",
    "Closed",
    "Conflict",
    "ConnectionLost",
    "Forbidden",
    "HotlineClient",
    "HotlineError",
    "Invalid",
    "LogTampered",
    "NotFound",
    "SplitView",
    "Subscription",
    "Unauthenticated",
    "Unreachable",
]
