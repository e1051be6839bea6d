"""Queries: what an operator may read, always scoped to its own party's channels."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass

from client.protocol import schemas
from server.domain.errors import Invalid, NotFound
from server.domain.model import Actor, Notice
from server.store.db import Database
from server.store.plans import ConflictRecord
from server.store.repository import NoticeFilter, Repository
from server.store.watch import Watch

__all__ = [
    "NoticeHistory",
    "NoticeListing",
    "channel",
    "channels",
    "conflicts",
    "decode_cursor",
    "encode_cursor",
    "list_notices",
    "notice",
    "read_log",
]


@dataclass(frozen=True, slots=True)
class NoticeListing:
    """One page of notices, newest first."""

    notices: list[tuple[Notice, int]]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class NoticeHistory:
    """A notice with its own events."""

    notice: Notice
    seq: int
    history: list[schemas.Event]


def encode_cursor(seq: int) -> str:
    """An opaque cursor meaning "notices sent before sequence number ``seq``"."""
    return base64.urlsafe_b64encode(f"before:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Read a cursor made by :func:`encode_cursor`.

    Raises:
        Invalid: the cursor was not made by this server.
    """
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "before" or not number.isdigit() or int(number) > schemas.MAX_SEQ:
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Invalid("cursor is not one this server gave out", field="cursor") from exc


async def channels(db: Database, actor: Actor) -> list[schemas.Channel]:
    """The channels of the actor's party."""
    async with db.session() as session:
        return await Repository(session).channels_of(actor.party)


async def channel(db: Database, actor: Actor, channel_id: str) -> schemas.Channel:
    """One channel of the actor's party.

    Raises:
        NotFound: no such channel, or not one of the actor's party.
    """
    async with db.session() as session:
        found = await Repository(session).channels_of(actor.party, channel_id)
    if not found:
        raise NotFound(f"no channel {channel_id}")
    return found[0]


async def list_notices(
    db: Database,
    actor: Actor,
    channel_id: str,
    filters: NoticeFilter,
    *,
    cursor: str | None = None,
    limit: int = 50,
) -> NoticeListing:
    """A page of a channel's notices, newest first, and the cursor of the next page."""
    before = None if cursor is None else decode_cursor(cursor)
    async with db.session() as session:
        repo = Repository(session)
        if await repo.visible_head(actor.party, channel_id) is None:
            raise NotFound(f"no channel {channel_id}")
        # One more than asked tells whether there is a next page.
        found = await repo.notices(channel_id, filters, before_seq=before, limit=limit + 1)
    page = found[:limit]
    next_cursor = encode_cursor(page[-1][1]) if len(found) > limit else None
    return NoticeListing(notices=page, next_cursor=next_cursor)


async def notice(
    db: Database, actor: Actor, channel_id: str, notice_id: uuid.UUID
) -> NoticeHistory:
    """One notice of a channel, with its events.

    Raises:
        NotFound: no such notice in a channel of the actor's party.
    """
    async with db.session() as session:
        repo = Repository(session)
        stored = await repo.notice(notice_id)
        visible = stored is not None and stored[0].channel == channel_id
        if not visible or await repo.visible_head(actor.party, channel_id) is None:
            raise NotFound(f"no notice {notice_id} in channel {channel_id}", notice_id=notice_id)
        assert stored is not None
        history = await repo.events_of_notice(channel_id, notice_id)
    return NoticeHistory(notice=stored[0], seq=stored[1], history=history)


async def read_log(
    db: Database, actor: Actor, channel_id: str, *, after: int = 0, limit: int = 100
) -> schemas.EventPage:
    """A channel's events after sequence number ``after``, in order."""
    async with db.session() as session:
        repo = Repository(session)
        head = await repo.visible_head(actor.party, channel_id)
        if head is None:
            raise NotFound(f"no channel {channel_id}")
        events = await repo.log(channel_id, after=after, limit=limit)
    # The head was read a moment before the events; a commit in between can only raise it.
    head = max(head, events[-1].seq if events else 0)
    return schemas.EventPage(events=events, head=head)


async def conflicts(
    db: Database, actor: Actor, channel_id: str, *, open: bool | None = None, limit: int = 100
) -> list[schemas.Conflict]:
    """A channel's conflicting plans, newest first.

    Args:
        db: the database.
        actor: who asks; the channel must be its party's.
        channel_id: the channel.
        open: ``True`` for those not resolved yet, ``False`` for resolved ones, ``None`` all.
        limit: how many at most.

    Raises:
        NotFound: no such channel, or not one of the actor's party's.
    """
    async with db.session() as session:
        if await Repository(session).visible_head(actor.party, channel_id) is None:
            raise NotFound(f"no channel {channel_id}")
        resolved = None if open is None else not open
        found = await Watch(session).conflicts(channel_id, resolved=resolved, limit=limit)
    return [_conflict_out(record) for record in found]


def _conflict_out(record: ConflictRecord) -> schemas.Conflict:
    window = record.overlap
    return schemas.Conflict(
        id=record.id,
        channel=record.channel,
        notices=list(record.notices),
        area=record.area,
        overlap=schemas.ActivityWindow(starts_at=window.starts_at, ends_at=window.ends_at),
        detected_seq=record.detected_seq,
        detected_at=record.detected_at,
        resolved_seq=record.resolved_seq,
        resolved_at=record.resolved_at,
    )
