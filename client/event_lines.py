"""One line of text per event, for people: what ``hotline listen`` prints.

Every line starts the same way, ``#seq time type by actor``, then says what matters for
the type: the notice and its subject, the reminder's number, whom an escalation reached,
the check and its deadline, the two notices of a conflict and their overlap, the proposal;
a notice's files, each with the SHA-256 that ``hotline attachment get`` takes.
The text comes from the server and the other party: print it through ``terminal.markup``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from client.protocol.schemas import Attachment, Event
from client.protocol.times import format_time, parse_time
from client.protocol.vocabulary import EventType
from client.spans import format_span

__all__ = ["attachment_line", "byte_size", "event_line"]

_LATE = 1.0
"""Seconds after its due time past which a clock event says when it was due."""


def event_line(event: Event) -> str:
    """The event as one line of plain text (not markup)."""
    actor = "server" if event.actor is None else f"{event.actor.party}/{event.actor.operator}"
    line = f"#{event.seq} {format_time(event.at)} {event.type} by {actor}"
    describe = _DESCRIBE.get(event.type)
    if describe is not None:
        return f"{line}  {describe(event.data)}{_lateness(event)}"
    # Older types, and newer ones this client does not know yet: the notice, the reason.
    data = event.data
    if data.get("notice") is not None:
        line += f" {data['notice']}"
    if event.type is EventType.NOTICE_SENT:
        line += f'  "{data.get("subject")}" ({data.get("priority")})'
        files = data.get("attachments")
        if isinstance(files, list) and files:
            line += "  attached: " + "; ".join(_listed(file) for file in files)
    elif data.get("reason"):
        line += f"  reason: {data['reason']}"
    return line + _lateness(event)  # notice.overdue, fired by the clock, may be late too


def attachment_line(file: Attachment) -> str:
    """A notice's file in a few words: ``plan.pdf  application/pdf, 1.2 MiB, sha256 …``."""
    return f"{file.name}  {file.media_type}, {byte_size(file.size)}, sha256 {file.sha256}"


def byte_size(size: int) -> str:
    """A number of bytes for people: ``812 bytes``, ``14.2 KiB``, ``3.0 MiB``."""
    if size < 1024:
        return f"{size} byte{'' if size == 1 else 's'}"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def _listed(file: Any) -> str:
    if not isinstance(file, dict):
        return str(file)
    return f"{file.get('name')} (sha256 {file.get('sha256')})"


def _lateness(event: Event) -> str:
    """`` (due …)`` for a clock event that fired noticeably after it was due."""
    due = event.data.get("due_at")
    if event.actor is not None or not isinstance(due, str):
        return ""
    try:
        late = (event.at - parse_time(due)).total_seconds()
    except ValueError:
        return ""
    return f" (due {due}, {format_span(late)} late)" if late >= _LATE else ""


def _people(to: Any) -> str:
    return ", ".join(str(who) for who in to) if to else "nobody"


def _reminded(data: Mapping[str, Any]) -> str:
    return (
        f"{data.get('notice')}  reminder {data.get('reminder')} of {data.get('of')} "
        f"to {data.get('party')}"
    )


def _escalated(data: Mapping[str, Any]) -> str:
    who = _people(data.get("to"))
    return f"{data.get('notice')}  escalated for {data.get('party')} to {who}"


def _check_requested(data: Mapping[str, Any]) -> str:
    return f"check {data.get('check')}  asks {data.get('party')}, answer by {data.get('answer_by')}"


def _check_answered(data: Mapping[str, Any]) -> str:
    waited = data.get("answered_in_ms")
    took = f" in {format_span(waited / 1000)}" if isinstance(waited, int) else ""
    return f"check {data.get('check')}  answered for {data.get('party')}{took}"


def _check_missed(data: Mapping[str, Any]) -> str:
    return (
        f"check {data.get('check')}  missed by {data.get('party')}; "
        f"escalated to {_people(data.get('to'))}"
    )


def _pair(data: Mapping[str, Any]) -> str:
    notices = data.get("notices")
    if isinstance(notices, list) and len(notices) == 2:
        return f"{notices[0]} and {notices[1]}"
    return str(notices)


def _conflict_detected(data: Mapping[str, Any]) -> str:
    overlap = data.get("overlap")
    when = ""
    if isinstance(overlap, dict):
        when = f" from {overlap.get('starts_at')} to {overlap.get('ends_at')}"
    return (
        f"conflict {data.get('conflict')}  notices {_pair(data)} "
        f'overlap in "{data.get("area")}"{when}'
    )


def _conflict_resolved(data: Mapping[str, Any]) -> str:
    return (
        f"conflict {data.get('conflict')}  between {_pair(data)} resolved: "
        f"{data.get('by')} {data.get('reason')}"
    )


def _policy_proposed(data: Mapping[str, Any]) -> str:
    line = f"proposal {data.get('proposal')}  lapses at {data.get('lapses_at')}"
    if data.get("supersedes"):
        line += f", replacing {data['supersedes']}"
    return line


def _policy_changed(data: Mapping[str, Any]) -> str:
    by = data.get("proposed_by")
    who = f"{by.get('party')}/{by.get('operator')}" if isinstance(by, dict) else "?"
    return f"proposal {data.get('proposal')}  of {who} accepted: the policy in force"


def _policy_withdrawn(data: Mapping[str, Any]) -> str:
    return f"proposal {data.get('proposal')}  withdrawn"


def _webhook_disabled(data: Mapping[str, Any]) -> str:
    return (
        f"webhook {data.get('webhook')}  of {data.get('party')} disabled after "
        f"{data.get('failures')} given up in a row: {data.get('reason')}"
    )


_DESCRIBE: dict[EventType | str, Callable[[Mapping[str, Any]], str]] = {
    EventType.NOTICE_REMINDED: _reminded,
    EventType.NOTICE_ESCALATED: _escalated,
    EventType.CHECK_REQUESTED: _check_requested,
    EventType.CHECK_ANSWERED: _check_answered,
    EventType.CHECK_MISSED: _check_missed,
    EventType.CONFLICT_DETECTED: _conflict_detected,
    EventType.CONFLICT_RESOLVED: _conflict_resolved,
    EventType.CHANNEL_POLICY_PROPOSED: _policy_proposed,
    EventType.CHANNEL_POLICY_CHANGED: _policy_changed,
    EventType.CHANNEL_POLICY_WITHDRAWN: _policy_withdrawn,
    EventType.WEBHOOK_DISABLED: _webhook_disabled,
}
