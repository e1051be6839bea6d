"""The SDK's calls about what the channel watches: liveness checks, availability, conflicts.

When the policy sets liveness checks, the server asks each party in turn
(``check.requested``); any of its operators answers within the policy's window
(``check.answered``), or the check is missed (``check.missed``) and escalates. A
subscription made with ``answer_checks=True`` answers for its party by itself; these calls
do it by hand, and read the record::

    async for check in hotline.checks("water-roads", party="roads"):
        if check.answered_at is None and check.missed_at is None:
            await hotline.answer_check("water-roads", check.id)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from uuid import UUID

from pydantic import TypeAdapter

from client.calls import Requester, channel_path
from client.drafts import to_uuid
from client.protocol.schemas import Availability, Check, CheckPage, Conflict
from client.protocol.times import format_time

__all__ = ["CheckCalls"]

_conflict_list: TypeAdapter[list[Conflict]] = TypeAdapter(list[Conflict])


class CheckCalls:
    """Check, availability and conflict calls of :class:`~client.sdk.HotlineClient` (a mixin)."""

    async def checks(
        self: Requester, channel: str, *, party: str | None = None, page_size: int = 100
    ) -> AsyncIterator[Check]:
        """The channel's liveness checks, newest first, fetched a page at a time.

        Args:
            channel: the channel's id.
            party: only the checks that asked this party.
            page_size: checks per request.
        """
        params: dict[str, str | int] = {"limit": page_size}
        if party is not None:
            params["party"] = party
        while True:
            found = await self._request(
                "GET", f"{channel_path(channel)}/checks", params=params, retry=True
            )
            page = CheckPage.model_validate(found)
            for check in page.items:
                yield check
            if page.next_cursor is None:
                return
            params["cursor"] = page.next_cursor

    async def answer_check(self: Requester, channel: str, check_id: UUID | str) -> Check:
        """Answer a check for the operator's party: somebody is listening.

        Answering again changes nothing, so a lost answer is retried by itself.

        Raises:
            Conflict: code ``check-closed``: the answer window has closed.
            Forbidden: the check asks the other party.
            NotFound: no such check on this channel.
        """
        path = f"{channel_path(channel)}/checks/{to_uuid(check_id)}/answer"
        return Check.model_validate(await self._request("POST", path, retry=True))

    async def availability(
        self: Requester,
        channel: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Availability:
        """Each party's record of checks from ``since`` to ``until``.

        For each party: how many checks it was asked, answered, missed and has pending,
        and the median time its answers took. The server picks the range left open.
        """
        params = {
            name: format_time(moment)
            for name, moment in (("since", since), ("until", until))
            if moment is not None
        }
        found = await self._request(
            "GET", f"{channel_path(channel)}/availability", params=params, retry=True
        )
        return Availability.model_validate(found)

    async def conflicts(
        self: Requester, channel: str, *, open_only: bool = True, limit: int = 100
    ) -> list[Conflict]:
        """The planned activities that clash on ``channel``, newest first: both notices,
        area and overlap.

        Args:
            channel: the channel's id.
            open_only: only the conflicts not resolved yet (the default); all when false.
            limit: at most this many (1 to 1,000), the newest.
        """
        params: dict[str, str | int] = {"limit": limit}
        if open_only:  # open=false would be resolved ones only
            params["open"] = "true"
        found = await self._request(
            "GET", f"{channel_path(channel)}/conflicts", params=params, retry=True
        )
        return _conflict_list.validate_python(found)
