"""The demo: a water utility and a roads department that dig up the same streets."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from client.protocol.vocabulary import Role
from server.domain.errors import Conflict
from server.service import access, admin
from server.store.db import Database

__all__ = ["CHANNEL", "OPERATORS", "PARTIES", "DemoOperator", "seed"]

PARTIES = {"water": "Riverside Water", "roads": "City Roads Department"}
CHANNEL = "water-roads"
OPERATORS = (
    ("ana", "water", "Ana Lopez", Role.OPERATOR),
    ("ben", "water", "Ben Okafor", Role.OPERATOR),
    ("carla", "roads", "Carla Rossi", Role.OPERATOR),
    ("dev", "roads", "Dev Sharma", Role.OPERATOR),
)
DEMO_LABEL = "demo"


@dataclass(frozen=True, slots=True)
class DemoOperator:
    """An operator of the demo with a freshly issued token."""

    id: str
    party: str
    name: str
    token: str


async def seed(db: Database) -> list[DemoOperator]:
    """Create the demo's parties, operators and channel if missing, and issue fresh tokens.

    Running it again changes nothing but the tokens: a token is shown only once, so each
    run revokes the previous demo tokens and prints new ones.
    """
    # Conflict means an earlier run made it already.
    for party_id, name in PARTIES.items():
        with suppress(Conflict):
            await admin.create_party(db, party_id, name=name)
    for operator_id, party, name, role in OPERATORS:
        with suppress(Conflict):
            await admin.create_operator(db, operator_id, party=party, name=name, role=role)
    with suppress(Conflict):
        await admin.create_channel(db, CHANNEL, parties=("water", "roads"))
    await access.revoke(db, label=DEMO_LABEL)
    issued = []
    for operator_id, party, name, _ in OPERATORS:
        _, token = await access.issue_token(db, operator_id, label=DEMO_LABEL)
        issued.append(DemoOperator(id=operator_id, party=party, name=name, token=token))
    return issued
