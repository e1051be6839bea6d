"""The demo: a water utility and a roads department that dig up the same streets.

:func:`seed` makes the cast: two parties, an admin and two operators each, and their
channel. :func:`tell_story` then plays the opening of the story on a new channel, through
the same services a client's requests go through: the two admins agree a policy with
hourly liveness checks, and each party announces works in Mill Lane in the same week, so
that the log shows the clash (``conflict.detected``) for both to sort out.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from uuid import uuid4

from client.protocol.vocabulary import Priority, Role
from server.domain.errors import Conflict
from server.domain.model import ActivityWindow, Actor, Checks, NoticeContent, Policy
from server.domain.rules import SendNotice
from server.fanout import Fanout
from server.service import access, admin, commands, policy, queries
from server.store.db import Database

__all__ = ["CHANNEL", "OPERATORS", "PARTIES", "STORY_POLICY", "DemoOperator", "seed", "tell_story"]

PARTIES = {"water": "Riverside Water", "roads": "City Roads Department"}
CHANNEL = "water-roads"
OPERATORS = (
    ("ana", "water", "Ana Lopez", Role.OPERATOR),
    ("ben", "water", "Ben Okafor", Role.OPERATOR),
    ("carla", "roads", "Carla Rossi", Role.OPERATOR),
    ("dev", "roads", "Dev Sharma", Role.OPERATOR),
    ("wanda", "water", "Wanda Price", Role.ADMIN),
    ("raj", "roads", "Raj Mehta", Role.ADMIN),
)
DEMO_LABEL = "demo"

STORY_POLICY = Policy(checks=Checks(every=timedelta(hours=1), answer_within=timedelta(minutes=5)))
"""The policy the story's admins agree to: the defaults, and a check of the line every hour."""


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
    run revokes the previous demo tokens and prints new ones. The channel's log stays as
    it is (empty, on a new database): :func:`tell_story` writes the story's first events.
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


def _actor(operator_id: str) -> Actor:
    party, role = next((p, r) for o, p, _, r in OPERATORS if o == operator_id)
    return Actor(party=party, operator=operator_id, role=role)


async def tell_story(db: Database, *, fanout: Fanout | None = None) -> bool:
    """Play the story's opening on the demo channel, if its log is still empty.

    1. Wanda, Riverside Water's admin, proposes :data:`STORY_POLICY`
       (``channel.policy_proposed``); Raj, the roads department's admin, accepts it
       (``channel.policy_changed``): the first liveness check comes an hour later.
    2. Ana announces the renewal of the water main under Mill Lane, Monday to Friday of
       the week after next; Carla announces resurfacing of "Mill lane" from that Thursday:
       the labels name one street, the windows overlap, and the log says so
       (``conflict.detected``). Neither is decided: that is for whoever plays the demo.

    Run it after :func:`seed`. A channel that has events already is left alone, so a
    second run changes nothing.

    Returns:
        Whether the story was told (``False`` if the log had events already).
    """
    channel = await queries.channel(db, _actor("wanda"), CHANNEL)
    if channel.head:
        return False
    await policy.propose(
        db,
        STORY_POLICY,
        timedelta(days=7),
        proposal_id=(proposal := uuid4()),
        channel_id=CHANNEL,
        actor=_actor("wanda"),
        fanout=fanout,
    )
    await policy.accept(db, proposal, channel_id=CHANNEL, actor=_actor("raj"), fanout=fanout)

    monday = _monday_after_next(db.clock.now())
    water = NoticeContent(
        subject="Water main renewal, Mill Lane",
        body="Open trench on the north side, numbers 2 to 40; one lane closed, traffic lights.",
        priority=Priority.ROUTINE,
        activity=ActivityWindow(monday + timedelta(hours=7), monday + timedelta(days=4, hours=17)),
        area="Mill Lane",
    )
    roads = NoticeContent(
        subject="Resurfacing, Mill Lane",
        body="Planing and new surface along the whole street; closed to traffic.",
        priority=Priority.ROUTINE,
        activity=ActivityWindow(
            monday + timedelta(days=3, hours=7), monday + timedelta(days=5, hours=13)
        ),
        area="Mill lane",  # typed otherwise, and still one street: labels are normalised
    )
    await commands.execute(
        db, SendNotice(uuid4(), water), channel_id=CHANNEL, actor=_actor("ana"), fanout=fanout
    )
    await commands.execute(
        db, SendNotice(uuid4(), roads), channel_id=CHANNEL, actor=_actor("carla"), fanout=fanout
    )
    return True


def _monday_after_next(now: datetime) -> datetime:
    """Midnight UTC at the start of the Monday after next: far enough for routine notice."""
    today = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
    return today + timedelta(days=7 - today.weekday() + 7)
