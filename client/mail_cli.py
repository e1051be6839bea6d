"""``hotline email set|clear``: where the server's mail to you goes.

The server mails an operator when a notice escalates to it, when its party misses a
liveness check, and, where the policy says so, when a notice waits unseen by its party.
Without an address, no mail. ``hotline status`` shows the address in force. An admin sets
another operator's of its party with ``--operator``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from client.cli import JsonOpt, ProfileOpt, TokenOpt, UrlOpt, _run, _Target, out
from client.protocol.schemas import OperatorEmail
from client.sdk import HotlineClient
from client.terminal import markup

__all__ = ["clear", "register", "set_"]

OperatorOpt = Annotated[
    str | None,
    typer.Option(
        "--operator",
        help="Another operator of your party (admins); yourself when left out.",
        show_default=False,
    ),
]


def _said(found: OperatorEmail, as_json: bool) -> None:
    if as_json:
        print(found.model_dump_json(), flush=True)
    elif found.email is None:
        out.print(markup(f"{found.operator} has no e-mail address now: no mail goes to it"))
    else:
        out.print(markup(f"mail for {found.operator} goes to {found.email}"))


def set_(
    address: Annotated[str, typer.Argument(help="Such as ana.lopez@water.example.")],
    operator: OperatorOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Set where your mail (or, for an admin, an operator's) goes."""

    async def work(client: HotlineClient, target: _Target) -> OperatorEmail:
        if operator is None:
            return await client.set_email(address)
        return await client.set_operator_email(operator, address)

    _said(_run(url, token, profile, None, work), as_json)


def clear(
    operator: OperatorOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Forget your e-mail address (or, for an admin, an operator's): no mail is sent."""

    async def work(client: HotlineClient, target: _Target) -> OperatorEmail:
        if operator is None:
            return await client.clear_email()
        return await client.set_operator_email(operator, None)

    _said(_run(url, token, profile, None, work), as_json)


def register(app: typer.Typer) -> None:
    """Add ``hotline email`` and its commands to the ``hotline`` command line."""
    email_app = typer.Typer(
        help="Where the server's mail to you goes: escalations, missed checks, unseen notices.",
        no_args_is_help=True,
    )
    email_app.command("set")(set_)
    email_app.command("clear")(clear)
    app.add_typer(email_app, name="email")
