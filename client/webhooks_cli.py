"""``hotline webhooks``: a party's webhook subscriptions on a channel, and what was sent.

An admin subscribes a URL (``add``); the server posts each of the channel's events to it,
signed with a secret shown once, by ``add`` and by ``rotate``, and never again: the command
prints it and writes it nowhere, so copy it into the receiver's configuration then.
``list`` and ``show`` never show a secret. ``deliveries`` is the delivery log: every call
made, or still to make, with each attempt, and with ``--kind mail`` the mail sent to the
party's operators.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
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
    _run,
    _Target,
    err,
    out,
)
from client.protocol.schemas import Delivery, RotatedSecret, Webhook, WebhookCreated
from client.protocol.times import format_time
from client.sdk import HotlineClient
from client.spans import format_span, parse_span
from client.terminal import markup

__all__ = [
    "add",
    "deliveries",
    "disable",
    "enable",
    "list_",
    "register",
    "remove",
    "rotate",
    "show",
]

WebhookArg = Annotated[UUID, typer.Argument(help="The subscription's id.")]

KEEP_IT_WARNING = (
    "Keep this secret now: the server shows it only this once, and hotline writes it "
    "nowhere. Your receiver verifies each call's webhook-signature with it."
)


# -- output -------------------------------------------------------------------------------


def _types(types: Sequence[str]) -> str:
    return ", ".join(types) if types else "every event"


def _standing(webhook: Webhook) -> str:
    """Whether the server calls it, in words (markup)."""
    if webhook.enabled:
        failing = f", {webhook.failures} given up in a row" if webhook.failures else ""
        return f"[green]enabled[/]{failing}"
    reason = f": {markup(webhook.disabled_reason)}" if webhook.disabled_reason else ""
    return f"[red]disabled[/]{reason}"


def _show_webhook(webhook: Webhook) -> None:
    out.print(f"[bold]webhook[/bold] {webhook.id}  {markup(webhook.url)}")
    rows = [
        ("events", _types(webhook.types)),
        ("standing", _standing(webhook)),
        ("party", markup(webhook.party)),
        ("made", f"{format_time(webhook.created_at)} by {markup(webhook.created_by)}"),
    ]
    if webhook.previous_secret_until is not None:
        until = format_time(webhook.previous_secret_until)
        rows.append(("old secret", f"signs too until {until}"))
    for name, value in rows:
        out.print(f"  {name:<10} {value}")


def _show_secret(secret: str) -> None:
    out.print(f"  secret     {markup(secret)}")
    err.print(f"[yellow]{markup(KEEP_IT_WARNING)}[/yellow]")


def _status(delivery: Delivery) -> str:
    colour = {"delivered": "green", "failed": "red", "waiting": "yellow"}.get(delivery.status)
    return f"[{colour}]{delivery.status}[/]" if colour else markup(delivery.status)


def _last(delivery: Delivery) -> str:
    """What happened last, or what happens next (markup)."""
    if delivery.status == "waiting":
        after = f"; last: {markup(delivery.last_error)}" if delivery.last_error else ""
        return f"next try {format_time(delivery.next_attempt_at)}{after}"
    if delivery.status != "delivered" and delivery.last_error:  # why it was given up, skipped
        return markup(delivery.last_error)
    if delivery.attempts:
        last = delivery.attempts[-1]
        # The error names the status already ("HTTP 503"); a success has only its status.
        said = last.error or ("" if last.status_code is None else str(last.status_code))
        took = format_span(last.duration_ms / 1000)
        return markup(f"{said} ({took})" if said else f"took {took}")
    return markup(delivery.last_error or "")


def _json(value: object) -> None:
    print(json.dumps(value), flush=True)


# -- commands -----------------------------------------------------------------------------


def add(
    endpoint: Annotated[
        str, typer.Argument(help="The receiver's URL, where the server posts the events.")
    ],
    types: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            "-t",
            help="An event type to send, such as notice.sent; repeat for each. None: all.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Subscribe a URL to the channel's events (admins); prints its secret, once."""

    async def work(client: HotlineClient, target: _Target) -> WebhookCreated:
        return await client.add_webhook(await _channel(client, target), endpoint, types=types or ())

    made = _run(url, token, profile, channel, work)
    if as_json:
        print(made.model_dump_json(), flush=True)
        err.print(f"[yellow]{markup(KEEP_IT_WARNING)}[/yellow]")
        return
    _show_webhook(made)
    _show_secret(made.secret)


def list_(
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """List your party's subscriptions on the channel (admins); never their secrets."""

    async def work(client: HotlineClient, target: _Target) -> tuple[str, list[Webhook]]:
        chosen = await _channel(client, target)
        return chosen, await client.webhooks(chosen)

    chosen, found = _run(url, token, profile, channel, work)
    if as_json:
        _json([webhook.model_dump(mode="json") for webhook in found])
        return
    if not found:
        out.print(markup(f"No webhooks on {chosen}: add one with hotline webhooks add URL"))
        return
    table = Table(title=markup(f"Webhooks on {chosen}"), title_justify="left")
    table.add_column("webhook", overflow="fold", min_width=8)
    table.add_column("url", overflow="fold")
    table.add_column("events", overflow="fold")
    table.add_column("standing", min_width=10)
    for webhook in found:
        table.add_row(
            str(webhook.id), markup(webhook.url), _types(webhook.types), _standing(webhook)
        )
    out.print(table)


def show(
    webhook: WebhookArg,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Show one subscription (admins): URL, events, whether it is called, and why not."""

    async def work(client: HotlineClient, target: _Target) -> Webhook:
        return await client.webhook(await _channel(client, target), webhook)

    found = _run(url, token, profile, channel, work)
    if as_json:
        print(found.model_dump_json(), flush=True)
        return
    _show_webhook(found)


def rotate(
    webhook: WebhookArg,
    overlap: Annotated[
        str,
        typer.Option(
            help="How long the old secret signs too, so the receiver can switch: such as "
            "1d, 12h, 3600 (seconds); 0: it stops now."
        ),
    ] = "1d",
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Give a subscription a new secret (admins); prints it, once."""
    try:
        span = timedelta(0) if overlap.strip() == "0" else parse_span(overlap)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--overlap") from None

    async def work(client: HotlineClient, target: _Target) -> RotatedSecret:
        chosen = await _channel(client, target)
        return await client.rotate_webhook_secret(chosen, webhook, overlap=span)

    rotated = _run(url, token, profile, channel, work)
    if as_json:
        print(rotated.model_dump_json(), flush=True)
        err.print(f"[yellow]{markup(KEEP_IT_WARNING)}[/yellow]")
        return
    until = rotated.previous_secret_until
    out.print(f"[bold]rotated[/bold] the secret of webhook {webhook}")
    out.print(
        "  old secret stops now"
        if until is None
        else f"  old secret signs too until {format_time(until)}"
    )
    _show_secret(rotated.secret)


def _switch(
    webhook: UUID,
    enabled: bool,
    as_json: bool,
    url: str | None,
    token: str | None,
    profile: Path | None,
    channel: str | None,
) -> None:
    async def work(client: HotlineClient, target: _Target) -> Webhook:
        return await client.update_webhook(await _channel(client, target), webhook, enabled=enabled)

    changed = _run(url, token, profile, channel, work)
    if as_json:
        print(changed.model_dump_json(), flush=True)
        return
    out.print(f"webhook {changed.id}: {_standing(changed)}")


def enable(
    webhook: WebhookArg,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Call a subscription again (admins), its deliveries given up counted afresh."""
    _switch(webhook, True, as_json, url, token, profile, channel)


def disable(
    webhook: WebhookArg,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Stop calling a subscription (admins), keeping it to enable later."""
    _switch(webhook, False, as_json, url, token, profile, channel)


def remove(
    webhook: WebhookArg,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Delete a subscription (admins); what still waited for it is not sent."""

    async def work(client: HotlineClient, target: _Target) -> None:
        await client.remove_webhook(await _channel(client, target), webhook)

    _run(url, token, profile, channel, work)
    out.print(f"removed webhook {webhook}")


def deliveries(
    webhook: Annotated[
        UUID | None,
        typer.Argument(help="Only the calls to this subscription.", show_default=False),
    ] = None,
    kind: Annotated[
        Literal["webhook", "mail"] | None,
        typer.Option(help="Only webhook calls, or only mail.", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 20,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Show what the channel's events sent your party (admins): calls, mail, their tries."""
    if webhook is not None and kind == "mail":
        raise typer.BadParameter("a webhook's deliveries are calls, not mail", param_hint="--kind")

    async def work(client: HotlineClient, target: _Target) -> tuple[str, list[Delivery]]:
        chosen = await _channel(client, target)
        size = min(limit, 200)
        pages = (
            client.deliveries(chosen, kind=kind, page_size=size)
            if webhook is None
            else client.webhook_deliveries(chosen, webhook, page_size=size)
        )
        found: list[Delivery] = []
        async for delivery in pages:
            found.append(delivery)
            if len(found) == limit:
                break
        return chosen, found

    chosen, found = _run(url, token, profile, channel, work)
    if as_json:
        _json([delivery.model_dump(mode="json") for delivery in found])
        return
    if not found:
        out.print(markup(f"Nothing sent from {chosen} to your party yet."))
        return
    table = Table(title=markup(f"Deliveries from {chosen}, newest first"), title_justify="left")
    table.add_column("event", no_wrap=True)
    table.add_column("to", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("tries", justify="right")
    table.add_column("last", overflow="fold")
    for delivery in found:
        table.add_row(
            markup(f"#{delivery.seq} {delivery.event_type}"),
            markup(delivery.target),
            _status(delivery),
            str(len(delivery.attempts)),
            _last(delivery),
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add ``hotline webhooks`` and its commands to the ``hotline`` command line."""
    webhooks_app = typer.Typer(
        help="Your party's webhooks on the channel (admins): events posted, signed, to a URL.",
        no_args_is_help=True,
    )
    webhooks_app.command("add")(add)
    webhooks_app.command("list")(list_)
    webhooks_app.command("show")(show)
    webhooks_app.command("rotate")(rotate)
    webhooks_app.command("enable")(enable)
    webhooks_app.command("disable")(disable)
    webhooks_app.command("remove")(remove)
    webhooks_app.command("deliveries")(deliveries)
    app.add_typer(webhooks_app, name="webhooks")
