"""``hotline checks``, ``hotline checks answer`` and ``hotline availability``: the line tested.

When the policy schedules liveness checks, the server asks each party in turn to show that
somebody is listening. ``hotline listen --answer-checks`` answers for its party as the
checks come; these commands list them, answer one by hand, and sum up how each party did.
"""

from __future__ import annotations

import json
from typing import Annotated
from uuid import UUID

import typer
from rich.table import Table

from client.cli import (
    ChannelOpt,
    JsonOpt,
    ProfileOpt,
    TokenOpt,
    UrlOpt,
    _channel,
    _parse_time,
    _run,
    _Target,
    out,
)
from client.protocol.schemas import Availability, Check
from client.protocol.times import format_time
from client.sdk import HotlineClient
from client.spans import format_span
from client.terminal import markup

__all__ = ["answer", "availability", "checks", "register"]


def _standing(check: Check) -> str:
    """Where a check stands, in words (markup)."""
    if check.answered_at is not None:
        took = format_span((check.answered_in_ms or 0) / 1000)
        return f"[green]answered[/] by {markup(check.answered_by or '?')} in {took}"
    if check.missed_at is not None:
        return "[red]missed[/]"
    requested, answer_by = format_time(check.requested_at), format_time(check.answer_by)
    # On the day it was asked, the time of day says enough.
    by = answer_by[11:] if answer_by[:10] == requested[:10] else answer_by
    return f"[yellow]pending[/], answer by {by}"


def checks(
    ctx: typer.Context,
    party: Annotated[
        str | None, typer.Option(help="Only the checks that asked this party.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 20,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """List the channel's liveness checks, newest first: asked whom, when, and the answer."""
    if ctx.invoked_subcommand is not None:
        return

    async def work(client: HotlineClient, target: _Target) -> tuple[str, list[Check]]:
        chosen = await _channel(client, target)
        found: list[Check] = []
        async for check in client.checks(chosen, party=party, page_size=min(limit, 200)):
            found.append(check)
            if len(found) == limit:
                break
        return chosen, found

    chosen, found = _run(url, token, profile, channel, work)
    if as_json:
        print(json.dumps([c.model_dump(mode="json") for c in found]), flush=True)
        return
    if not found:
        out.print(markup(f"No liveness checks on {chosen} yet."))
        return
    table = Table(title=markup(f"Liveness checks on {chosen}"), title_justify="left")
    # The standing is what is read first: the id folds, the standing keeps its words.
    table.add_column("check", overflow="fold", min_width=8)
    table.add_column("asked", no_wrap=True)
    table.add_column("requested", no_wrap=True)
    table.add_column("standing", min_width=20)
    for check in found:
        table.add_row(
            str(check.id),
            markup(check.party),
            format_time(check.requested_at),
            _standing(check),
        )
    out.print(table)


def answer(
    check_id: Annotated[UUID, typer.Argument(help="The check's id.")],
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Answer a liveness check that asks your party: somebody is listening."""

    async def work(client: HotlineClient, target: _Target) -> Check:
        return await client.answer_check(await _channel(client, target), check_id)

    check = _run(url, token, profile, channel, work)
    if as_json:
        print(check.model_dump_json(), flush=True)
        return
    out.print(f"check {check.id} for {markup(check.party)}: {_standing(check)}")


def availability(
    since: Annotated[
        str | None,
        typer.Option(help="From this time (RFC 3339); default: the server's.", show_default=False),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Up to this time (RFC 3339); default: now.", show_default=False),
    ] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Show how each party answered its liveness checks: answered, missed, median time."""
    start = None if since is None else _parse_time(since, "--since")
    end = None if until is None else _parse_time(until, "--until")

    async def work(client: HotlineClient, target: _Target) -> tuple[str, Availability]:
        chosen = await _channel(client, target)
        return chosen, await client.availability(chosen, since=start, until=end)

    chosen, found = _run(url, token, profile, channel, work)
    if as_json:
        print(found.model_dump_json(), flush=True)
        return
    title = (
        f"Availability on {chosen} from {format_time(found.since)} to {format_time(found.until)}"
    )
    table = Table(title=markup(title), title_justify="left")
    for heading in ("party", "asked", "answered", "missed", "pending", "median answer"):
        table.add_column(heading, no_wrap=True, justify="left" if heading == "party" else "right")
    for record in found.parties:
        median = record.median_answer_ms
        missed = str(record.missed) if not record.missed else f"[red]{record.missed}[/]"
        table.add_row(
            markup(record.party),
            str(record.requested),
            str(record.answered),
            missed,
            str(record.pending),
            "-" if median is None else format_span(median / 1000),
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add ``hotline checks`` (with ``answer``) and ``hotline availability``."""
    checks_app = typer.Typer(help="Liveness checks: the line tested on a schedule.")
    checks_app.callback(invoke_without_command=True)(checks)
    checks_app.command("answer")(answer)
    app.add_typer(checks_app, name="checks")
    app.command("availability")(availability)
