"""FastAPI dependencies, as ``Annotated`` aliases that routes put in their signatures."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from client.protocol.limits import ID_PATTERN
from server.api.problems import Unauthenticated
from server.domain.model import Actor
from server.fanout import Fanout
from server.service import access
from server.service.log import Checkpoints
from server.store.db import Database
from server.store.repository import Identity

__all__ = [
    "ChannelId",
    "CheckpointsDep",
    "CurrentIdentity",
    "CurrentOperator",
    "DatabaseDep",
    "FanoutDep",
    "NoticeId",
]

ChannelId = Annotated[
    str, Path(description="The channel's id, such as `water-roads`.", pattern=ID_PATTERN)
]
"""A channel id taken from the path."""

NoticeId = Annotated[uuid.UUID, Path(description="The notice's id, chosen by its sender.")]
"""A notice id taken from the path."""

_bearer = HTTPBearer(auto_error=False, description="An operator's token: `hl_…`.")


# The dependencies are ``async def`` although they await nothing: FastAPI runs a plain
# ``def`` dependency in a worker thread, two thread hops on every request.
async def _database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


DatabaseDep = Annotated[Database, Depends(_database)]
"""The application's database."""


async def _fanout(request: Request) -> Fanout:
    fanout: Fanout = request.app.state.fanout
    return fanout


FanoutDep = Annotated[Fanout, Depends(_fanout)]
"""Where committed events are published."""


async def _checkpoints(request: Request) -> Checkpoints:
    checkpoints: Checkpoints = request.app.state.checkpoints
    return checkpoints


CheckpointsDep = Annotated[Checkpoints, Depends(_checkpoints)]
"""Signs checkpoints with the server's key."""


async def _identity(
    db: DatabaseDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    if credentials is None:
        raise Unauthenticated
    identity = await access.authenticate(db, credentials.credentials)
    if identity is None:
        raise Unauthenticated
    return identity


CurrentIdentity = Annotated[Identity, Depends(_identity)]
"""The authenticated operator, with display names."""


async def _actor(identity: CurrentIdentity) -> Actor:
    return identity.actor


CurrentOperator = Annotated[Actor, Depends(_actor)]
"""The authenticated operator as the domain sees it: party, operator id and role."""
