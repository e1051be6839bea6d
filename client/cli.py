"""An operator's commands of the ``hotline`` command line: send, listen, ack, object, inbox, status.

They talk to a server with the SDK, as any other client would. Where the server's URL,
the token and the channel come from, the first found wins:

1. the flags ``--url``, ``--token``, ``--channel``;
2. the environment: ``HOTLINE_URL``, ``HOTLINE_TOKEN``, ``HOTLINE_CHANNEL``;
3. a profile, a TOML file with the keys ``url``, ``token`` and ``channel``:
   ``~/.config/hotline/profile.toml``, or the file ``--profile`` or ``HOTLINE_PROFILE`` names.

With a signing key file (``HOTLINE_SIGNING_KEY_FILE``, or ``signing_key_file`` in the
profile; ``hotline keygen`` makes one), ``send``, ``ack`` and ``object`` are signed.

Without a channel from any of these, an operator whose party has exactly one channel
uses that one. The token is never printed, not even in errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import tomllib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from rich.table import Table

from client.attachments import guess_media_type
from client.errors import HotlineError, Unreachable
from client.event_lines import attachment_line, event_line
from client.keyfile import read_key_file
from client.protocol.schemas import ActivityWindow, Channel, Event, Me, NoticeOut
from client.protocol.times import format_time, parse_time, utc_now
from client.protocol.vocabulary import Priority
from client.sdk import HotlineClient
from client.terminal import PrintableFormatter, markup

__all__ = ["ClientSettings", "register"]

T = TypeVar("T")

# soft_wrap: a line longer than the terminal stays one line (an error, an id to copy).
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _default_profile() -> Path:
    return Path.home() / ".config" / "hotline" / "profile.toml"


class ClientSettings(BaseSettings):
    """Where the client connects, from ``HOTLINE_*`` variables; flags override them."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    url: str | None = Field(None, description="The server, such as http://127.0.0.1:8000.")
    token: SecretStr | None = Field(None, description="The operator's bearer token.")
    channel: str | None = Field(None, description="The channel to use.")
    signing_key_file: Path | None = Field(
        None, description="The operator's signing key file: what it sends is signed."
    )
    profile: Path = Field(default_factory=_default_profile, description="A TOML profile.")


class _Usage(HotlineError):
    """The command line was not told enough to do its work."""


@dataclass(frozen=True, slots=True)
class _Target:
    url: str
    token: str
    channel: str | None
    signing_key_file: Path | None = None


UrlOpt = Annotated[
    str | None, typer.Option("--url", help="Server URL (env HOTLINE_URL).", show_default=False)
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="Bearer token (env HOTLINE_TOKEN); safer in the environment or the profile.",
        show_default=False,
    ),
]
ProfileOpt = Annotated[
    Path | None,
    typer.Option(
        "--profile",
        help="TOML file with url, token, channel (env HOTLINE_PROFILE; "
        "default ~/.config/hotline/profile.toml).",
        dir_okay=False,
        show_default=False,
    ),
]
ChannelOpt = Annotated[
    str | None,
    typer.Option(
        "--channel",
        "-c",
        help="Channel id (env HOTLINE_CHANNEL, or the profile).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON, for scripts.")]


def _target(
    url: str | None, token: str | None, profile: Path | None, channel: str | None
) -> _Target:
    flags: dict[str, Any] = {"url": url, "token": token, "profile": profile, "channel": channel}
    settings = ClientSettings(**{key: value for key, value in flags.items() if value is not None})
    stored = _read_profile(settings.profile, required="profile" in settings.model_fields_set)
    found_url = settings.url or stored.get("url")
    found_token = settings.token.get_secret_value() if settings.token else stored.get("token")
    if not found_url:
        raise _Usage(
            f"no server URL: give --url, set HOTLINE_URL, or put url in {settings.profile}"
        )
    if not found_token:
        raise _Usage(
            f"no token: set HOTLINE_TOKEN, give --token, or put token in {settings.profile}"
        )
    key_file = settings.signing_key_file or stored.get("signing_key_file")
    return _Target(
        found_url,
        found_token,
        settings.channel or stored.get("channel"),
        None if key_file is None else Path(key_file).expanduser(),
    )


def _read_profile(path: Path, *, required: bool) -> dict[str, str]:
    try:
        with path.open("rb") as file:
            found = tomllib.load(file)
    except FileNotFoundError:
        if required:
            raise _Usage(f"no profile at {path}") from None
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise _Usage(f"cannot read the profile {path}: {exc}") from exc
    keys = ("url", "token", "channel", "signing_key_file")
    for key in keys:
        if key in found and not isinstance(found[key], str):
            raise _Usage(f"in the profile {path}, {key} must be a string")
    return {key: found[key] for key in keys if key in found}


async def _channel(client: HotlineClient, target: _Target) -> str:
    if target.channel:
        return target.channel
    ids = [channel.id for channel in await client.channels()]
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise _Usage("your party has no channel")
    raise _Usage(
        f"your party has {len(ids)} channels ({', '.join(ids)}): choose one with --channel"
    )


def _run(
    url: str | None,
    token: str | None,
    profile: Path | None,
    channel: str | None,
    work: Callable[[HotlineClient, _Target], Awaitable[T]],
) -> T:
    """Run ``work`` with a client; any Hotline error is one line on stderr and exit 1."""

    async def main() -> T:
        target = _target(url, token, profile, channel)
        key_file = target.signing_key_file
        signing_key = None if key_file is None else read_key_file(key_file)
        async with HotlineClient(target.url, target.token, signing_key=signing_key) as client:
            return await work(client, target)

    try:
        return asyncio.run(main())
    except HotlineError as error:
        hint = ""
        if isinstance(error, Unreachable) and error.notice_id is not None:
            # The send may or may not have arrived: the same id makes trying again safe.
            hint = f" (notice {error.notice_id}: retry with --id {error.notice_id})"
        err.print(f"[red]error:[/red] {markup(str(error))}{hint}")
        raise typer.Exit(1) from None


def _parse_time(text: str, flag: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{exc} (such as 2026-12-07T07:00:00Z)", param_hint=flag) from None


def _parse_bbox(text: str, area: str | None) -> tuple[float, float, float, float]:
    if area is None:
        raise typer.BadParameter(
            "a box needs --area too: the label names the place", param_hint="--bbox"
        )
    try:
        west, south, east, north = (float(part) for part in text.split(","))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not four numbers W,S,E,N (such as -1.2605,51.7519,-1.2571,51.7534)",
            param_hint="--bbox",
        ) from None
    return west, south, east, north


# -- output -------------------------------------------------------------------------------


def _show_notice(verb: str, notice: NoticeOut, as_json: bool) -> None:
    if as_json:
        print(notice.model_dump_json(), flush=True)
        return
    out.print(f"[bold]{verb}[/bold] {notice.id}  {markup(notice.subject)}")
    details = [notice.status.value, notice.priority.value, f"seq {notice.seq}"]
    if notice.ack_due_at is not None:
        details.append(f"answer due {format_time(notice.ack_due_at)}")
    if notice.decision is not None and notice.decision.reason:
        details.append(f"reason: {notice.decision.reason}")
    out.print("  " + markup(" · ".join(details)))
    for file in notice.attachments:
        out.print("  " + markup(attachment_line(file)))


def _show_event(event: Event) -> None:
    out.print(markup(event_line(event)))


# -- commands -----------------------------------------------------------------------------


def send(
    subject: Annotated[str, typer.Argument(help="One line, 1 to 200 characters.")],
    body: Annotated[str, typer.Option(help="Free text.")] = "",
    priority: Annotated[Priority, typer.Option(help="Sets the answer deadline.")] = (
        Priority.ROUTINE
    ),
    starts: Annotated[
        str | None, typer.Option(help="When the activity starts (RFC 3339).", show_default=False)
    ] = None,
    ends: Annotated[
        str | None, typer.Option(help="When the activity ends (RFC 3339).", show_default=False)
    ] = None,
    area: Annotated[str | None, typer.Option(help="Where.", show_default=False)] = None,
    bbox: Annotated[
        str | None,
        typer.Option(
            help="Where, as a box of degrees W,S,E,N (with --area): plans whose boxes do "
            "not intersect do not conflict.",
            show_default=False,
        ),
    ] = None,
    ack: Annotated[bool, typer.Option("--ack/--no-ack", help="Whether an answer is required.")] = (
        True
    ),
    refers_to: Annotated[
        UUID | None, typer.Option(help="An earlier notice this one updates.", show_default=False)
    ] = None,
    notice_id: Annotated[
        UUID | None,
        typer.Option("--id", help="The notice's id, to retry a send safely.", show_default=False),
    ] = None,
    attach: Annotated[
        list[Path] | None,
        typer.Option(
            "--attach",
            help="A file to attach (.pdf .png .jpg .geojson .txt), uploaded first; repeat "
            "for each. The log lists its SHA-256.",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Send a notice to the other party."""
    if (starts is None) != (ends is None):
        raise typer.BadParameter("give both --starts and --ends, or neither")
    box = None if bbox is None else _parse_bbox(bbox, area)
    files = attach or []
    for file in files:  # a type that cannot be told is said before anything is uploaded
        try:
            guess_media_type(file.name)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--attach") from None
    activity = None
    if starts is not None and ends is not None:
        activity = ActivityWindow(
            starts_at=_parse_time(starts, "--starts"), ends_at=_parse_time(ends, "--ends")
        )

    async def work(client: HotlineClient, target: _Target) -> NoticeOut:
        chosen = await _channel(client, target)
        # Uploading again is safe (the same bytes are the same file), and so is sending
        # again with --id: a send that failed half-way is simply run again.
        listed = [await client.upload_attachment(chosen, file) for file in files]
        return await client.send(
            chosen,
            subject=subject,
            body=body,
            priority=priority,
            activity=activity,
            area=area,
            ack_required=ack,
            refers_to=refers_to,
            notice_id=notice_id,
            bbox=box,
            attachments=listed,
        )

    _show_notice("sent", _run(url, token, profile, channel, work), as_json)


def ack(
    notice_id: Annotated[UUID, typer.Argument(help="The notice's id.")],
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Acknowledge a notice from the other party."""

    async def work(client: HotlineClient, target: _Target) -> NoticeOut:
        return await client.acknowledge(await _channel(client, target), notice_id)

    _show_notice("acknowledged", _run(url, token, profile, channel, work), as_json)


def object_(
    notice_id: Annotated[UUID, typer.Argument(help="The notice's id.")],
    reason: Annotated[str, typer.Option(help="Why the notice cannot stand as it is.")],
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Object to a notice from the other party, saying why."""

    async def work(client: HotlineClient, target: _Target) -> NoticeOut:
        return await client.object(await _channel(client, target), notice_id, reason)

    _show_notice("objected", _run(url, token, profile, channel, work), as_json)


def inbox(
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """List the notices that wait for your party's decision, oldest deadline first."""

    async def work(client: HotlineClient, target: _Target) -> tuple[str, list[NoticeOut]]:
        chosen = await _channel(client, target)
        return chosen, await client.inbox(chosen)

    chosen, waiting = _run(url, token, profile, channel, work)
    waiting.sort(key=lambda n: (n.ack_due_at is None, n.ack_due_at or n.sent_at, n.seq))
    if as_json:
        print(json.dumps([n.model_dump(mode="json") for n in waiting]), flush=True)
        return
    if not waiting:
        out.print(f"Nothing waits for your decision on {markup(chosen)}.")
        return
    table = Table(title=f"Waiting for your decision on {markup(chosen)}")
    table.add_column("notice", no_wrap=True)
    table.add_column("from")
    table.add_column("priority")
    table.add_column("subject")
    table.add_column("status")
    table.add_column("answer due", no_wrap=True)
    now = utc_now()
    for notice in waiting:
        due = "" if notice.ack_due_at is None else format_time(notice.ack_due_at)
        if notice.ack_due_at is not None and notice.ack_due_at <= now:
            due = f"[red]{due}[/red]"
        table.add_row(
            str(notice.id),
            markup(f"{notice.sender.party}/{notice.sender.operator}"),
            notice.priority.value,
            markup(notice.subject),
            notice.status.value,
            due,
        )
    out.print(table)


def status(
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Show who you are, your party's channels and their heads, and whether the server answers."""

    async def work(client: HotlineClient, target: _Target) -> dict[str, Any]:
        if not await client.healthy():
            raise Unreachable(f"the server at {client.base_url} does not answer")
        me = await client.me()
        channels = await client.channels()
        return {"url": client.base_url, "reachable": True, "me": me, "channels": channels}

    found = _run(url, token, profile, channel, work)
    me: Me = found["me"]
    channels: list[Channel] = found["channels"]
    if as_json:
        summary = {
            "url": found["url"],
            "reachable": True,
            "me": me.model_dump(mode="json"),
            "channels": [c.model_dump(mode="json") for c in channels],
        }
        print(json.dumps(summary), flush=True)
        return
    out.print(f"server    {markup(found['url'])}  [green]reachable[/green]")
    out.print(
        f"operator  {markup(me.operator.name)} ({markup(me.operator.id)}), {me.role.value} "
        f"for {markup(me.party.name)} ({markup(me.party.id)})"
    )
    out.print(f"e-mail    {markup(me.email or 'none: the server mails you nothing')}")
    for c in channels:
        others = ", ".join(f"{p.name} ({p.id})" for p in c.parties if p.id != me.party.id)
        out.print(f"channel   {markup(c.id)}  with {markup(others)}  head {c.head}")


def listen(
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON event a line, for scripts.")
    ] = False,
    after: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Replay the events after this sequence number first; default: only new ones.",
            show_default=False,
        ),
    ] = None,
    resume_file: Annotated[
        Path | None,
        typer.Option(
            help="Remember the last event seen in this file, and carry on from it next time.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    receipts: Annotated[
        bool, typer.Option("--receipts/--no-receipts", help="Confirm receipt of new notices.")
    ] = True,
    answer_checks: Annotated[
        bool,
        typer.Option(
            "--answer-checks",
            help="Answer every liveness check that asks your party, as it comes.",
        ),
    ] = False,
    log_key: Annotated[
        str | None,
        typer.Option(
            "--log-key",
            help="The server's verifier key, as its operator published it; without it the "
            "server's own is trusted on first use (and kept in the resume file).",
            show_default=False,
        ),
    ] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Print the channel's events as they happen, each checked against the signed log."""
    warnings = logging.StreamHandler()  # on stderr; the SDK logs what the server said
    warnings.setFormatter(PrintableFormatter("%(levelname)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[warnings])

    async def work(client: HotlineClient, target: _Target) -> None:
        chosen = await _channel(client, target)
        start = after if after is not None else (await client.channel(chosen)).head
        if not as_json:
            where = f"after #{start}"
            if resume_file is not None and resume_file.exists():
                where = f"where {resume_file} left off"  # the file wins over --after
            err.print(markup(f"listening to {chosen} {where}; Ctrl+C to stop"))
        subscription = client.subscribe(
            [chosen],
            after=start,
            resume_file=resume_file,
            confirm_receipts=receipts,
            on_presence=None if as_json else _show_presence,
            log_key=log_key,
            answer_checks=answer_checks,
        )
        with _stopped_by_sigterm():
            async with subscription:
                async for event in subscription:
                    if as_json:
                        sys.stdout.write(event.model_dump_json() + "\n")
                        sys.stdout.flush()
                    else:
                        _show_event(event)

    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        _run(url, token, profile, channel, work)


@contextlib.contextmanager
def _stopped_by_sigterm() -> Iterator[None]:
    """Let SIGTERM end ``listen`` as Ctrl+C does: the socket closes, the resume file stays."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGTERM, lambda: task and task.cancel())
    except (NotImplementedError, RuntimeError):  # no signal handlers on this platform/thread
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _show_presence(channel: str, online: dict[str, list[str]]) -> None:
    who = "; ".join(f"{party}: {', '.join(ops)}" for party, ops in sorted(online.items()))
    err.print(f"online on {markup(channel)}: {markup(who or 'nobody')}")


def register(app: typer.Typer) -> None:
    """Add the operator's commands to the ``hotline`` command line.

    Args:
        app: the Typer application to extend (``server.cli.app``).
    """
    app.command("send")(send)
    app.command("listen")(listen)
    app.command("ack")(ack)
    app.command("object")(object_)
    app.command("inbox")(inbox)
    app.command("status")(status)
    from client import (  # they use these options
        attachments_cli,
        checks_cli,
        keys_cli,
        mail_cli,
        policy_cli,
        verify_cli,
        webhooks_cli,
    )

    verify_cli.register(app)
    attachments_cli.register(app)
    keys_cli.register(app)
    policy_cli.register(app)
    checks_cli.register(app)
    webhooks_cli.register(app)
    mail_cli.register(app)
