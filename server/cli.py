"""The ``hotline`` command line: serve, run the demo, and administer parties and tokens."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url

from client.cli import register as register_client_commands
from client.protocol.vocabulary import Role
from server.config import ANY_ORIGIN, Settings
from server.domain.errors import Refusal
from server.domain.model import Policy
from server.keys import KeyFileError, LogKeys, rotate
from server.service import access, admin, demo
from server.store.db import Database
from server.store.migrate import upgrade

__all__ = ["app", "main"]

T = TypeVar("T")

app = typer.Typer(
    help="Hotline: an auditable two-party notification channel.", no_args_is_help=True
)
admin_app = typer.Typer(
    help="Manage parties, operators, channels and tokens.", no_args_is_help=True
)
party_app = typer.Typer(
    help="Parties: the organisations at the ends of channels.", no_args_is_help=True
)
operator_app = typer.Typer(
    help="Operators: people or programs acting for a party.", no_args_is_help=True
)
channel_app = typer.Typer(help="Channels: two parties and their log.", no_args_is_help=True)
token_app = typer.Typer(
    help="Bearer tokens: shown once, stored as hashes, revocable.", no_args_is_help=True
)
log_key_app = typer.Typer(
    help="The key that signs checkpoints (HOTLINE_LOG_KEY_FILE).", no_args_is_help=True
)
app.add_typer(admin_app, name="admin")
for name, sub in (
    ("party", party_app),
    ("log-key", log_key_app),
    ("operator", operator_app),
    ("channel", channel_app),
    ("token", token_app),
):
    admin_app.add_typer(sub, name=name)

# soft_wrap: piped output is not cut to 80 columns (a token must come out whole).
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

HostOpt = Annotated[str | None, typer.Option(help="Address to listen on (env HOTLINE_HOST).")]
PortOpt = Annotated[int | None, typer.Option(help="Port; 0 picks a free one (env HOTLINE_PORT).")]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="sqlite:///file.db or postgresql://… (env HOTLINE_DATABASE_URL)."
    ),
]
LogOpt = Annotated[
    str | None, typer.Option("--log-format", help="text or json (env HOTLINE_LOG_FORMAT).")
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=64,
        help="Server processes sharing the port; more than 1 needs PostgreSQL "
        "(env HOTLINE_WORKERS).",
    ),
]


def _settings(**flags: Any) -> Settings:
    # Flags that were given override the environment; the rest come from HOTLINE_*.
    return Settings(**{key: value for key, value in flags.items() if value is not None})


def _run(work: Callable[[Database], Awaitable[T]], database_url: str | None) -> T:
    """Run ``work`` against a migrated database, turning a refusal into a clear exit."""

    async def go() -> T:
        db = Database(_settings(database_url=database_url).database_url)
        try:
            await upgrade(db)
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    except Refusal as refusal:
        err.print(f"[red]error:[/red] {escape(refusal.message)}")
        raise typer.Exit(1) from None


def _refuse_bad_workers(settings: Settings) -> None:
    """Stop here, before anything starts, if the settings cannot run their workers."""
    from server.supervisor import refusal

    reason = refusal(settings)
    if reason is not None:
        err.print(f"[red]error:[/red] {escape(reason)}")
        raise typer.Exit(2)


def _serve(
    settings: Settings,
    *,
    prepare: Callable[[Database], Awaitable[None]] | None = None,
    on_started: Callable[[str], None] | None = None,
) -> None:
    """Serve in this process, or with ``settings.workers`` worker processes and a supervisor."""
    # The web stack loads only when serving.
    if settings.workers == 1:
        from server.serve import run_loop, serve

        run_loop(serve(settings, prepare=prepare, on_started=on_started))
        return
    from server import supervisor

    status = supervisor.run(settings, prepare=prepare, on_started=on_started)
    if status:
        raise typer.Exit(status)


@app.command()
def serve(
    host: HostOpt = None,
    port: PortOpt = None,
    database_url: DbOpt = None,
    log_format: LogOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Run the server: apply migrations, then serve the API until stopped."""
    settings = _settings(
        host=host, port=port, database_url=database_url, log_format=log_format, workers=workers
    )
    _refuse_bad_workers(settings)
    _serve(settings)


@app.command("demo")
def demo_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object, for scripts.")
    ] = False,
    host: HostOpt = None,
    port: PortOpt = None,
    database_url: DbOpt = None,
    log_format: LogOpt = None,
    story: Annotated[
        bool,
        typer.Option(
            "--story",
            help="On a new demo channel, tell the story: a policy with hourly liveness checks "
            "agreed by both admins, and two clashing plans in Mill Lane.",
        ),
    ] = False,
    workers: WorkersOpt = None,
) -> None:
    """Create the water-and-roads demo (idempotently), start the server and print its tokens.

    Pages on any origin may call the demo's API (HOTLINE_CORS_ORIGINS, when set, decides).
    """
    settings = _settings(
        host=host, port=port, database_url=database_url, log_format=log_format, workers=workers
    )
    _refuse_bad_workers(settings)
    if "cors_origins" not in settings.model_fields_set:
        settings = settings.model_copy(update={"cors_origins": [ANY_ORIGIN]})
    log_key = LogKeys.load_or_create(settings.log_key_file, name=settings.log_name).verifier_key
    issued: list[demo.DemoOperator] = []

    async def prepare(db: Database) -> None:
        issued.extend(await demo.seed(db))
        if story:
            await demo.tell_story(db)

    def announce(url: str) -> None:
        # Called once the server has started, after uvicorn's startup lines, so that this
        # is the last thing on the screen until the first request is logged.
        console = f"{url}/"
        if as_json:
            summary = {
                "url": url,
                "console_url": console,
                "channel": demo.CHANNEL,
                "database_url": make_url(settings.database_url).render_as_string(),
                "log_key": log_key,
                "operators": [
                    {
                        "id": o.id,
                        "party": o.party,
                        "name": o.name,
                        "token": o.token,
                        "console_link": sign_in_link(url, o.token),
                    }
                    for o in issued
                ],
            }
            print(json.dumps(summary), flush=True)
            return
        table = Table(title=f"Hotline demo on {url}  (channel {demo.CHANNEL})")
        for column in ("party", "operator", "name"):
            table.add_column(column)
        # A token is shown once: fold it onto more lines rather than cut it short.
        table.add_column("token", overflow="fold", min_width=len(issued[0].token) if issued else 0)
        for o in issued:
            table.add_row(escape(demo.PARTIES[o.party]), o.id, escape(o.name), o.token)
        out.print(table)
        out.print(f"Log key (checkpoints are signed with it): {log_key}")
        out.print(f"API docs: {escape(url)}/docs")
        # Each link on a line of its own, never folded: a terminal can then open it whole.
        out.print("Sign in to the web console (the token after # is never sent to the server):")
        width = max((len(o.id) for o in issued), default=0)
        for o in issued:
            party = escape(demo.PARTIES[o.party])
            out.print(f"  {o.id:<{width}}  {escape(sign_in_link(url, o.token))}  ({party})")
        out.print(f"Console: {escape(console)}    Stop with Ctrl+C.")

    _serve(settings, prepare=prepare, on_started=announce)


def sign_in_link(url: str, token: str) -> str:
    """A link to the console that signs in with ``token``.

    The token rides in the fragment (after ``#``), which browsers never send to a server:
    it stays out of access logs and proxies; the console reads it and clears it.
    """
    return f"{url}/#token={token}"


@party_app.command("create")
def party_create(
    party_id: str,
    name: Annotated[str, typer.Option(help="Display name.")],
    database_url: DbOpt = None,
) -> None:
    """Add a party."""
    _run(lambda db: admin.create_party(db, party_id, name=name), database_url)
    out.print(f"party {party_id} created")


@operator_app.command("create")
def operator_create(
    operator_id: str,
    party: Annotated[str, typer.Option(help="The party it acts for.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[Role, typer.Option(help="operator, observer or admin.")] = Role.OPERATOR,
    email: Annotated[
        str | None, typer.Option(help="Where its mail goes (escalations, unseen notices).")
    ] = None,
    database_url: DbOpt = None,
) -> None:
    """Add an operator to a party."""
    _run(
        lambda db: admin.create_operator(
            db, operator_id, party=party, name=name, role=role, email=email
        ),
        database_url,
    )
    mailed = f", mail to {escape(email.strip())}" if email else ""
    out.print(f"operator {operator_id} ({role}) created in party {party}{mailed}")


@operator_app.command("email")
def operator_email(
    operator_id: str,
    address: Annotated[
        str | None, typer.Argument(help="The address, such as ana@water.example.")
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Forget the address: no more mail to it.")
    ] = False,
    database_url: DbOpt = None,
) -> None:
    """Set the address an operator's mail goes to, or forget it with --clear.

    See docs/how-to/send-mail.md for what is mailed, and when.
    """
    if (address is None) == (not clear):
        err.print("[red]error:[/red] give an address, or --clear (not both)")
        raise typer.Exit(2)
    stored = _run(lambda db: admin.set_email(db, operator_id, address), database_url)
    if stored is None:
        out.print(f"operator {operator_id} has no e-mail address now: it gets no mail")
    else:
        out.print(f"mail for operator {operator_id} goes to {escape(stored)}")


@channel_app.command("create")
def channel_create(
    channel_id: str,
    parties: Annotated[list[str], typer.Option("--party", help="Give exactly two.")],
    require_signatures: Annotated[
        bool,
        typer.Option(
            "--require-signatures",
            help="Refuse notices and decisions not signed by their operator's key.",
        ),
    ] = False,
    database_url: DbOpt = None,
) -> None:
    """Add a channel between two parties, with the default deadlines."""
    if len(parties) != 2:
        err.print("[red]error:[/red] a channel joins exactly two parties: --party A --party B")
        raise typer.Exit(2)
    policy = Policy(require_signatures=require_signatures)
    _run(
        lambda db: admin.create_channel(
            db, channel_id, parties=(parties[0], parties[1]), policy=policy
        ),
        database_url,
    )
    signed = ", signatures required" if require_signatures else ""
    out.print(f"channel {channel_id} created between {parties[0]} and {parties[1]}{signed}")


@token_app.command("create")
def token_create(
    operator_id: str,
    label: Annotated[str, typer.Option(help="A note to recognise it by.")] = "",
    database_url: DbOpt = None,
) -> None:
    """Issue a token for an operator. It is printed once and cannot be shown again."""
    token_id, token = _run(
        lambda db: access.issue_token(db, operator_id, label=label), database_url
    )
    err.print(f"token {token_id} for {operator_id} (store it now; it is not kept):")
    print(token)


@token_app.command("list")
def token_list(
    operator: Annotated[str | None, typer.Option(help="Only this operator's.")] = None,
    database_url: DbOpt = None,
) -> None:
    """List tokens (ids and labels; the secrets are not kept)."""
    tokens = _run(lambda db: access.list_tokens(db, operator), database_url)
    table = Table()
    table.add_column("id", overflow="fold", min_width=36)  # needed whole, for revoke
    for column in ("operator", "label", "created", "revoked"):
        table.add_column(column)
    for t in tokens:
        table.add_row(
            str(t.id),
            t.operator,
            escape(t.label),
            t.created_at.isoformat(timespec="seconds"),
            "" if t.revoked_at is None else t.revoked_at.isoformat(timespec="seconds"),
        )
    out.print(table)


@token_app.command("revoke")
def token_revoke(token_id: uuid.UUID, database_url: DbOpt = None) -> None:
    """Revoke a token by its id; requests with it are refused from now on."""
    count = _run(lambda db: access.revoke(db, token_id=token_id), database_url)
    if not count:
        err.print(f"[red]error:[/red] no live token {token_id}")
        raise typer.Exit(1)
    out.print(f"token {token_id} revoked")


register_client_commands(app)  # send, listen, ack, object, inbox, status: client/cli.py


def main() -> None:
    """Entry point of the ``hotline`` console script."""
    app()


@log_key_app.command("show")
def log_key_show() -> None:
    """Print the verifier key clients check checkpoints with (made if there is none yet)."""
    settings = _settings()
    try:
        keys = LogKeys.load_or_create(settings.log_key_file, name=settings.log_name)
    except KeyFileError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    out.print(keys.verifier_key)
    if keys.previous is not None:
        out.print(f"{keys.previous.verifier()}  (previous: still signing until its file goes)")


@log_key_app.command("rotate")
def log_key_rotate() -> None:
    """Make a new signing key; the old one keeps co-signing until you delete its file.

    Restart the server to use it. See docs/how-to/rotate-the-log-key.md.
    """
    settings = _settings()
    try:
        keys = rotate(settings.log_key_file, name=settings.log_name)
    except KeyFileError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    assert keys.previous is not None
    out.print(f"new key       {keys.verifier_key}")
    out.print(f"previous key  {keys.previous.verifier()}")
    out.print(
        "Restart the server; publish the new key; once clients have it, delete "
        f"{settings.log_key_file}.previous and restart again."
    )
