"""``hotline keygen`` and ``hotline register-key``: an operator's own signing key.

Once the key file is configured (``HOTLINE_SIGNING_KEY_FILE`` or ``signing_key_file`` in
the profile), ``send``, ``ack`` and ``object`` sign what they say with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape as markup

from client.cli import (
    ChannelOpt,
    JsonOpt,
    ProfileOpt,
    TokenOpt,
    UrlOpt,
    _channel,
    _run,
    _Target,
    _Usage,
    err,
    out,
)
from client.keyfile import KeyFileError, create_key_file, default_key_file, read_key_file
from client.protocol.note import verifier_key
from client.protocol.schemas import KeyOut
from client.sdk import HotlineClient

__all__ = ["keygen", "register", "register_key"]


def keygen(
    operator: Annotated[str, typer.Argument(help="Your operator id: the key is named after it.")],
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where to write the key (default ~/.config/hotline/<operator>.key).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Make a signing key: the secret to a file only you can read, its public key to stdout."""
    path = out_file or default_key_file(operator)
    try:
        public = create_key_file(path, operator)
    except KeyFileError as error:
        err.print(f"[red]error:[/red] {markup(str(error))}")
        raise typer.Exit(1) from None
    err.print(markup(f"signing key written to {path} (mode 0600; keep it secret)."))
    err.print(
        markup(
            f"Use it: set HOTLINE_SIGNING_KEY_FILE={path} or put signing_key_file in your "
            "profile, then run hotline register-key. Its public key:"
        )
    )
    print(public, flush=True)


def register_key(
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="The signing key file (default: HOTLINE_SIGNING_KEY_FILE, or the profile's).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Register your signing key's public half on a channel, so that others can check you."""

    async def work(client: HotlineClient, target: _Target) -> KeyOut:
        path = key_file or target.signing_key_file
        if path is None:
            raise _Usage(
                "no signing key: give --key-file, set HOTLINE_SIGNING_KEY_FILE, or put "
                "signing_key_file in the profile (hotline keygen makes one)"
            )
        public = verifier_key(read_key_file(path))
        return await client.register_key(await _channel(client, target), public)

    registered = _run(url, token, profile, channel, work)
    if as_json:
        print(json.dumps(registered.model_dump(mode="json")), flush=True)
        return
    out.print(
        markup(
            f"key of {registered.operator} in force on {registered.channel} "
            f"since #{registered.seq}: {registered.verifier_key}"
        )
    )


def register(app: typer.Typer) -> None:
    """Add ``keygen`` and ``register-key`` to the ``hotline`` command line."""
    app.command("keygen")(keygen)
    app.command("register-key")(register_key)
