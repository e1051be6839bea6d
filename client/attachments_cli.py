"""``hotline attachment get``: a notice's file, downloaded and checked against the log.

The file is named by its SHA-256, as ``hotline listen`` and ``hotline send`` print it.
What the server sends is written only if its SHA-256 is that one (and its size the one
the notice lists): a file altered on the server, or on the way, is refused and nothing is
written. ``hotline send --attach FILE`` uploads (``client/cli.py``); ``hotline export
--attachments`` and ``hotline verify`` keep and check them beside an export
(``client/verify_cli.py``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from client.attachments import safe_file_name
from client.cli import ChannelOpt, ProfileOpt, TokenOpt, UrlOpt, _channel, _run, _Target, err
from client.errors import HotlineError
from client.event_lines import byte_size
from client.protocol.schemas import Attachment
from client.sdk import HotlineClient
from client.terminal import markup

__all__ = ["get", "register"]


class _Exists(HotlineError):
    """The file to write is there already."""


async def _listing(client: HotlineClient, channel: str, sha256: str) -> Attachment | None:
    """The listing of ``sha256`` in the channel's newest notice that lists it, if one does."""
    async for notice in client.notices(channel):
        for file in notice.attachments:
            if file.sha256 == sha256:
                return file
    return None


def get(
    sha256: Annotated[str, typer.Argument(help="The file's SHA-256, as the notice lists it.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write it ('-': standard output); default: the name the notice "
            "lists, in the current folder.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a file already there.")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Download a notice's file; it is written only if its SHA-256 is the one asked for."""
    wanted = sha256.strip().lower()
    if len(wanted) != 64 or any(c not in "0123456789abcdef" for c in wanted):
        raise typer.BadParameter(f"{sha256!r} is not a SHA-256 (64 hexadecimal digits)")

    async def work(client: HotlineClient, target: _Target) -> tuple[Path | None, bytes, str]:
        chosen = await _channel(client, target)
        listed = await _listing(client, chosen, wanted)
        path = output
        if path is None:
            path = Path(wanted if listed is None else safe_file_name(listed.name, wanted))
        if str(path) == "-":
            path = None
        elif path.exists() and not force:
            raise _Exists(f"{path} exists: give another --output, or --force to replace it")
        data = await client.download_attachment(chosen, listed or wanted)
        described = wanted if listed is None else f"{listed.name} ({listed.media_type})"
        return path, data, described

    path, data, described = _run(url, token, profile, channel, work)
    if path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    temporary = path.with_name(f".{path.name}.part")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    err.print(
        f"wrote {markup(described)}, {byte_size(len(data))}, to {markup(str(path))}: "
        f"[green]its SHA-256 is the one asked for[/green]"
    )


def register(app: typer.Typer) -> None:
    """Add ``hotline attachment`` and its commands to the ``hotline`` command line."""
    attachment_app = typer.Typer(
        help="Notices' files: downloaded and checked against the SHA-256 the log lists.",
        no_args_is_help=True,
    )
    attachment_app.command("get")(get)
    app.add_typer(attachment_app, name="attachment")
