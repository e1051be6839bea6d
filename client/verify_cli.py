"""``hotline verify`` and ``hotline export``: a channel's log checked end to end."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape as markup
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from client.attachment_files import default_folder
from client.cli import ChannelOpt, ProfileOpt, TokenOpt, UrlOpt, _channel, _run, _Target, err, out
from client.errors import HotlineError
from client.protocol.note import NoteError, Verifier
from client.sdk import HotlineClient
from client.verify import Report, export_channel, verify_export, verify_online

__all__ = ["register"]

KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--log-key",
        help="The server's verifier key, as its operator published it (name+id+base64). "
        "Without it: the key remembered from an earlier run, else the server's own.",
        show_default=False,
    ),
]


OperatorKeyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--operator-key",
        help="An operator's verifier key (operator+id+base64) got from its party, not from "
        "the log; repeat for each. The log must register no other key for that operator.",
        show_default=False,
    ),
]


def _pinned(keys: list[str] | None) -> dict[str, list[str]] | None:
    """``--operator-key`` values by operator, or a usage error for a malformed one."""
    if not keys:
        return None
    pinned: dict[str, list[str]] = {}
    for key in keys:
        try:
            pinned.setdefault(Verifier.parse(key).name, []).append(key)
        except NoteError as exc:
            raise typer.BadParameter(f"{key!r}: {exc}", param_hint="--operator-key") from None
    return pinned


def _default_state() -> Path:
    return Path.home() / ".local" / "state" / "hotline" / "verified.json"


@contextlib.contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr, gone when done; yields the callback that moves it."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=err, transient=True) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _verdict(report: Report) -> None:
    """Print what was checked and the verdict; exit 1 when something failed."""
    sources = {
        "pinned": "the key you gave",
        "remembered": "the key remembered from an earlier run",
        "server": "the server's own key, trusted on first use: compare it with its operator",
        "export": "the key inside the export: compare it with the server's operator",
    }
    out.print(f"channel     {markup(report.channel)}")
    out.print(f"log key     {markup(report.log_key)}")
    out.print(f"            ({sources[report.key_source]})")
    out.print(f"checkpoint  {report.size} events")
    out.print(f"events      {report.events} checked")
    out.print(f"signatures  {report.signed} valid, {report.unsigned} unsigned")
    for seq, operator, key in report.registrations:
        out.print(f"key         #{seq} {markup(operator)}: {markup(key)}")
    files = report.files
    if files is not None:
        out.print(
            f"files       {files.checked} of {files.listed} listed checked against their SHA-256"
        )
        for missing in files.missing:
            out.print(f"[yellow]MISSING[/yellow]     {markup(missing)}")
    for failure in report.failures:
        out.print(f"[red]FAILED[/red]      {markup(failure)}")
    if report.ok:
        out.print("[green]VERIFIED[/green]    every event is in the signed log, in order")
        if files is not None and files.checked:
            out.print("            every file kept is the one the log lists")
        return
    raise typer.Exit(1)


def verify(
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            help="Verify this export file offline, with no server.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    log_key: KeyOpt = None,
    operator_key: OperatorKeyOpt = None,
    attachments: Annotated[
        Path | None,
        typer.Option(
            "--attachments",
            help="With --export: the folder of its files, if not the one beside it "
            "(EXPORT.attachments, checked when there).",
            exists=True,
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state",
            help="Where the last verified checkpoint of each log is kept, to tell a "
            "rewritten history next time (default ~/.local/state/hotline/verified.json).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Check a channel's log: the signed checkpoint, every event, every signature.

    An export's files, kept beside it, are checked against the SHA-256 the log lists.
    """
    pinned = _pinned(operator_key)
    if attachments is not None and export is None:
        raise typer.BadParameter(
            "an attachments folder goes with --export", param_hint="--attachments"
        )
    if export is not None:
        try:
            with _progress("hashing events") as progress:
                report = verify_export(
                    export,
                    log_key=log_key,
                    progress=progress,
                    operator_keys=pinned,
                    attachments=attachments,
                )
        except HotlineError as error:
            # A file that is not an export, or a checkpoint the key does not open.
            err.print(f"[red]error:[/red] {markup(str(error))}")
            raise typer.Exit(1) from None
        _verdict(report)
        return

    async def work(client: HotlineClient, target: _Target) -> Report:
        chosen = await _channel(client, target)
        with _progress("reading events") as progress:
            return await verify_online(
                client,
                chosen,
                log_key=log_key,
                state=state or _default_state(),
                progress=progress,
                operator_keys=pinned,
            )

    _verdict(_run(url, token, profile, channel, work))


def export(
    out_file: Annotated[
        Path, typer.Argument(help="The file to write (JSON lines).", dir_okay=False)
    ],
    log_key: KeyOpt = None,
    attachments: Annotated[
        bool,
        typer.Option(
            "--attachments",
            help="Also write every file the notices list, each checked against its SHA-256, "
            "to the folder OUT_FILE.attachments beside it.",
        ),
    ] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Write a channel's log, checkpoint and keys to one file for `hotline verify --export`."""

    async def work(client: HotlineClient, target: _Target) -> Report:
        chosen = await _channel(client, target)
        with _progress("exporting events") as progress:
            return await export_channel(
                client,
                chosen,
                out_file,
                log_key=log_key,
                progress=progress,
                attachments=attachments,
            )

    report = _run(url, token, profile, channel, work)
    out.print(
        f"wrote {report.events} events of {markup(report.channel)} to {markup(str(out_file))}"
    )
    if report.files is not None:
        out.print(
            f"wrote {report.files.checked} of {report.files.listed} files, each checked against "
            f"its SHA-256, to {markup(str(default_folder(out_file)))}"
        )
    if not report.ok:
        # Written all the same: an export of a log that fails its check is evidence too.
        for failure in report.failures:
            err.print(f"[red]FAILED[/red] {markup(failure)}")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``verify`` and ``export`` to the ``hotline`` command line."""
    app.command("verify")(verify)
    app.command("export")(export)
