"""``hotline policy show|propose|accept|withdraw``: the channel's policy, agreed by both parties.

An admin of one party proposes a change; it takes effect when an admin of the other party
accepts it, and not before. The proposal's file is a policy in the JSON form that
``hotline policy show --json`` prints under ``in_force``; it may name only what changes,
and what it leaves out stays as in force::

    {"checks": {"every_seconds": 3600, "answer_within_seconds": 300},
     "chase": {"urgent": {"reminders": 2}}}

A flag says the one switch without a file: ``--mail-when-offline`` (or
``--no-mail-when-offline``) proposes the policy in force with notices mailed (or not) to
the receiving party's operators when none of them has seen one a while after it was sent;
given with a file, the flag wins.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.box import SIMPLE_HEAD
from rich.console import Group
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
    _Usage,
    out,
)
from client.protocol.schemas import PolicyOut, PolicyState, Proposal
from client.protocol.times import format_time
from client.protocol.vocabulary import Priority
from client.sdk import HotlineClient
from client.spans import format_span, parse_span
from client.terminal import markup

__all__ = ["accept", "merged", "policy_view", "propose", "register", "show", "withdraw"]

ProposalArg = Annotated[UUID, typer.Argument(help="The proposal's id.")]


# -- showing a policy ---------------------------------------------------------------------


def policy_view(policy: PolicyOut, *, title: str, before: PolicyOut | None = None) -> Group:
    """The policy as a table, a row per priority, then a line for each of its other rules.

    Args:
        policy: the policy to show.
        title: the table's title.
        before: the policy in force, when ``policy`` is a proposal: what differs is yellow.
    """
    table = Table(title=title, title_justify="left", box=SIMPLE_HEAD)
    # Two-line headings: the table fits in 80 columns.
    for heading in (
        "priority",
        "answer\nwithin",
        "advance\nnotice",
        "first\nreminder",
        "then\nevery",
        "reminders",
        "escalates\nafter",
    ):
        table.add_column(heading)
    for priority in Priority:
        table.add_row(
            *_changed(
                _priority_row(policy, priority),
                None if before is None else _priority_row(before, priority),
            )
        )
    rules = _changed(_rules(policy), None if before is None else _rules(before), pairs=True)
    return Group(table, *(f"{name:<12} {value}" for name, value in rules))


def _priority_row(policy: PolicyOut, priority: Priority) -> list[str]:
    chase = policy.chase.get(priority)
    row = [
        priority.value,
        format_span(policy.ack_deadline_seconds.get(priority, 0)),
        format_span(advance)
        if (advance := policy.min_advance_notice_seconds.get(priority))
        else "none",
    ]
    if chase is None:
        return [*row, "", "", "", ""]
    escalates = chase.escalate_after_seconds
    return [
        *row,
        f"+{format_span(chase.remind_after_seconds)}" if chase.reminders else "-",
        format_span(chase.remind_every_seconds) if chase.reminders > 1 else "-",
        str(chase.reminders),
        "never" if escalates is None else f"+{format_span(escalates)}",
    ]


def _rules(policy: PolicyOut) -> list[str]:
    checks = policy.checks
    on_duty = "; ".join(
        f"{party}: {', '.join(ops) or 'its admins'}"
        for party, ops in sorted(policy.escalate_to.items())
    )
    return [
        "required" if policy.require_signatures else "not required",
        "none"
        if checks is None
        else f"every {format_span(checks.every_seconds)}, "
        f"answered within {format_span(checks.answer_within_seconds)}",
        (f"{on_duty}; any other: its admins" if len(policy.escalate_to) < 2 else on_duty)
        if on_duty
        else "each party's admins",
        "a notice the receiving party has not seen is mailed to its operators"
        if policy.mail_when_offline
        else "no",
    ]


_RULE_NAMES = ("signatures", "checks", "escalate to", "mail unseen")


def _changed(now: list[str], before: list[str] | None, *, pairs: bool = False) -> list[Any]:
    """``now`` as markup, what differs from ``before`` in yellow; named rows if ``pairs``."""
    cells = [
        markup(cell) if before is None or cell == before[i] else f"[yellow]{markup(cell)}[/]"
        for i, cell in enumerate(now)
    ]
    return list(zip(_RULE_NAMES, cells, strict=True)) if pairs else cells


def _show_state(channel: str, state: PolicyState) -> None:
    since = (
        "since the channel began"
        if state.since_seq is None
        else f"since #{state.since_seq} (proposal {state.policy_id})"
    )
    out.print(policy_view(state.in_force, title=markup(f"Policy in force on {channel} {since}")))
    pending = state.pending
    if pending is None:
        out.print("No proposal waits.")
        return
    out.print()
    _show_proposal(pending, state.in_force, verb="Waiting:")


def _show_proposal(proposal: Proposal, in_force: PolicyOut, *, verb: str) -> None:
    title = (
        f"{verb} proposal {proposal.id} of {proposal.party}/{proposal.operator}, "
        f"lapses at {format_time(proposal.lapses_at)}"
    )
    out.print(policy_view(proposal.policy, title=markup(title), before=in_force))


# -- the proposal's file --------------------------------------------------------------------


_WHOLE = frozenset(PolicyOut.model_fields) - {"mail_when_offline"}
"""Members only a whole policy has all of: such a file is the policy, not changes to one.

Not ``mail_when_offline``: a policy printed before mail existed is whole without it (and
a file without it keeps the switch as in force)."""

_REPLACED = frozenset({"escalate_to"})
"""Objects a file gives whole: a party left out of ``escalate_to`` escalates to its admins."""


def merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` laid over it, object by object; lists and values replace.

    A whole policy (one with every part: ``policy show --json`` prints one) replaces
    ``base``, and so does an ``escalate_to`` object, so that what a file leaves out of
    either is gone rather than kept from the policy in force. Only a switch newer than
    the file (``mail_when_offline``) is kept from ``base`` when the file does not say it.
    """
    if changes.keys() >= _WHOLE:
        newer = {key: value for key, value in base.items() if key not in _WHOLE}
        return {**newer, **changes}
    return _laid_over(base, changes)


def _laid_over(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in changes.items():
        here = result.get(key)
        if isinstance(value, Mapping) and isinstance(here, Mapping) and key not in _REPLACED:
            result[key] = _laid_over(here, value)
        else:
            result[key] = value
    return result


def _read_policy_file(path: Path) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
        found = json.loads(text)
    except OSError as exc:
        raise _Usage(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise _Usage(f"{path} is not JSON: {exc}") from None
    if not isinstance(found, dict):
        raise _Usage(f"{path} must hold a JSON object: a policy, or what changes in one")
    in_force = found.get("in_force")
    if isinstance(in_force, dict):  # what `policy show --json` prints
        return in_force
    return found


# -- commands -----------------------------------------------------------------------------


def show(
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Show the policy in force, per priority, and the proposal waiting, if any."""

    async def work(client: HotlineClient, target: _Target) -> tuple[str, PolicyState]:
        chosen = await _channel(client, target)
        return chosen, await client.policy(chosen)

    chosen, state = _run(url, token, profile, channel, work)
    if as_json:
        print(state.model_dump_json(), flush=True)
        return
    _show_state(chosen, state)


def propose(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="JSON: the policy, or only what changes in it; - reads standard input.",
            dir_okay=False,
            allow_dash=True,
            show_default=False,
        ),
    ] = None,
    mail_when_offline: Annotated[
        bool | None,
        typer.Option(
            "--mail-when-offline/--no-mail-when-offline",
            help="Mail a notice to the receiving party's operators when none of them has "
            "seen it a while after it was sent (or stop doing so).",
            show_default=False,
        ),
    ] = None,
    lapses_in: Annotated[
        str,
        typer.Option(help="How long the other party has to accept: 1m to 30d, such as 7d."),
    ] = "7d",
    proposal_id: Annotated[
        UUID | None,
        typer.Option("--id", help="The proposal's id, to retry safely.", show_default=False),
    ] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Propose a policy (admins): in force once an admin of the other party accepts it."""
    if file is None and mail_when_offline is None:
        raise typer.BadParameter(
            "say what to propose: a policy file, or --mail-when-offline / --no-mail-when-offline",
            param_hint="--file",
        )
    try:
        lapse = parse_span(lapses_in)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--lapses-in") from None

    async def work(client: HotlineClient, target: _Target) -> tuple[PolicyOut, Proposal]:
        # Read here, so that a bad file is reported like a refusal.
        changes = {} if file is None else _read_policy_file(file)
        if mail_when_offline is not None:
            changes = {**changes, "mail_when_offline": mail_when_offline}
        chosen = await _channel(client, target)
        in_force = (await client.policy(chosen)).in_force
        policy = merged(in_force.model_dump(mode="json"), changes)
        proposal = await client.propose_policy(
            chosen, policy, lapses_in=lapse, proposal_id=proposal_id
        )
        return in_force, proposal

    in_force, proposal = _run(url, token, profile, channel, work)
    if as_json:
        print(proposal.model_dump_json(), flush=True)
        return
    _show_proposal(proposal, in_force, verb="Proposed:")
    out.print(
        markup(f"An admin of the other party accepts it with: hotline policy accept {proposal.id}")
    )


def accept(
    proposal_id: ProposalArg,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Accept the other party's proposal (admins): its policy is in force from now."""

    async def work(client: HotlineClient, target: _Target) -> tuple[str, PolicyState]:
        chosen = await _channel(client, target)
        return chosen, await client.accept_policy(chosen, proposal_id)

    chosen, state = _run(url, token, profile, channel, work)
    if as_json:
        print(state.model_dump_json(), flush=True)
        return
    out.print(markup(f"accepted proposal {proposal_id}"))
    _show_state(chosen, state)


def withdraw(
    proposal_id: ProposalArg,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    profile: ProfileOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Withdraw your party's proposal (admins) before the other party accepts it."""

    async def work(client: HotlineClient, target: _Target) -> PolicyState:
        return await client.withdraw_policy(await _channel(client, target), proposal_id)

    state = _run(url, token, profile, channel, work)
    if as_json:
        print(state.model_dump_json(), flush=True)
        return
    out.print(markup(f"withdrew proposal {proposal_id}; the policy in force stays"))


def register(app: typer.Typer) -> None:
    """Add ``hotline policy`` and its commands to the ``hotline`` command line."""
    policy_app = typer.Typer(
        help="The channel's policy: both parties' admins agree to every change.",
        no_args_is_help=True,
    )
    policy_app.command("show")(show)
    policy_app.command("propose")(propose)
    policy_app.command("accept")(accept)
    policy_app.command("withdraw")(withdraw)
    app.add_typer(policy_app, name="policy")
