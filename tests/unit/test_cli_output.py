"""What the command line prints: one readable line per event, and never the other party's
control characters."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console, Group
from rich.table import Table
from typer.testing import CliRunner

from client.event_lines import event_line
from client.policy_cli import merged, policy_view
from client.protocol.schemas import Actor, CheckSchedule, Event, PolicyOut
from client.protocol.times import parse_time
from client.protocol.vocabulary import EventType
from client.spans import format_span, parse_span
from client.terminal import PrintableFormatter, markup, printable
from server.cli import app

AT = "2026-11-21T09:30:00.000Z"
LATER = "2026-11-21T09:31:30.000Z"


@pytest.mark.parametrize(
    ("hostile", "shown"),
    [
        ("\x1b]0;pwned\x07Mill Lane", "]0;pwnedMill Lane"),  # retitles the window
        ("\x1b[2JMill Lane", "[2JMill Lane"),  # clears the screen
        ("Mill\rLane\x08\x7f", "MillLane"),  # rewrites what was printed
        ("\x9b2JMill Lane\x85", "2JMill Lane"),  # the same, with C1 controls
        ("\x00\x01\x1f", ""),
    ],
)
def test_control_characters_are_removed(hostile: str, shown: str) -> None:
    assert printable(hostile) == shown


def test_newlines_tabs_and_other_text_are_kept() -> None:
    text = "Water main renewal\n\tMill Lane, Straße 7 — 9 Dec [urgent] ✓"

    assert printable(text) == text


def test_markup_prints_as_the_text_itself_without_its_controls() -> None:
    printed = io.StringIO()
    console = Console(file=printed, width=200, highlight=False)

    console.print(markup("[bold]\x1b[2JMill Lane [/]"))

    assert printed.getvalue() == "[bold][2JMill Lane [/]\n"


def test_log_records_are_formatted_without_control_characters() -> None:
    formatter = PrintableFormatter("%(levelname)s: %(message)s")
    record = logging.LogRecord(
        "client.live", logging.WARNING, __file__, 1, "closed (%s)", ("\x1b]0;pwned",), None
    )

    assert formatter.format(record) == "WARNING: closed (]0;pwned)"


# -- one line per event, for `hotline listen` ------------------------------------------------

NOTICE_A = "6f1c3c1e-8a51-4a8e-9a57-3f0d2c4b9e10"
NOTICE_B = "853b00a3-59cd-4c7d-9a75-fe401e3d700e"
CHECK = "0c8f8b4e-5b7a-4d55-9a1e-2f4c6a1b3d20"
PROPOSAL = "b07af404-aa23-4dc3-a5cc-3acad78329f3"


def server_event(kind: EventType, data: dict[str, Any], *, at: str = AT) -> Event:
    return Event(channel="water-roads", seq=12, type=kind, at=parse_time(at), actor=None, data=data)


def admin_event(kind: EventType, data: dict[str, Any], *, party: str = "water") -> Event:
    operator = "ana" if party == "water" else "carla"
    return Event(
        channel="water-roads",
        seq=12,
        type=kind,
        at=parse_time(AT),
        actor=Actor(party=party, operator=operator),
        data=data,
    )


def test_a_reminder_says_which_of_how_many_and_to_whom() -> None:
    data = {"notice": NOTICE_A, "due_at": AT, "party": "roads", "reminder": 2, "of": 3}

    line = event_line(server_event(EventType.NOTICE_REMINDED, data))

    assert line == f"#12 {AT} notice.reminded by server  {NOTICE_A}  reminder 2 of 3 to roads"


def test_an_escalation_names_the_operators_it_reached() -> None:
    data = {"notice": NOTICE_A, "due_at": AT, "party": "roads", "to": ["dev", "erin"]}

    line = event_line(server_event(EventType.NOTICE_ESCALATED, data))

    assert line.endswith(f"{NOTICE_A}  escalated for roads to dev, erin")


def test_an_escalation_to_nobody_says_so() -> None:
    data = {"notice": NOTICE_A, "due_at": AT, "party": "roads", "to": []}

    assert event_line(server_event(EventType.NOTICE_ESCALATED, data)).endswith("to nobody")


def test_a_clock_event_that_fired_late_says_when_it_was_due() -> None:
    data = {"notice": NOTICE_A, "due_at": AT, "party": "roads", "reminder": 1, "of": 2}

    line = event_line(server_event(EventType.NOTICE_REMINDED, data, at=LATER))

    assert line.endswith(f"reminder 1 of 2 to roads (due {AT}, 1 min 30 s late)")


def test_a_check_request_names_the_party_asked_and_the_deadline() -> None:
    data = {"check": CHECK, "party": "roads", "due_at": AT, "answer_by": LATER}

    line = event_line(server_event(EventType.CHECK_REQUESTED, data))

    assert (
        line == f"#12 {AT} check.requested by server  check {CHECK}  asks roads, answer by {LATER}"
    )


def test_an_answered_check_says_how_long_the_answer_took() -> None:
    data = {"check": CHECK, "party": "roads", "requested_at": AT, "answered_in_ms": 1234}

    line = event_line(admin_event(EventType.CHECK_ANSWERED, data, party="roads"))

    assert line == (
        f"#12 {AT} check.answered by roads/carla  check {CHECK}  answered for roads in 1.2 s"
    )


def test_a_missed_check_names_whom_it_escalated_to() -> None:
    data = {"check": CHECK, "party": "roads", "due_at": AT, "to": ["dev"]}

    line = event_line(server_event(EventType.CHECK_MISSED, data))

    assert line.endswith(f"check {CHECK}  missed by roads; escalated to dev")


def test_a_conflict_names_both_notices_the_area_and_the_overlap() -> None:
    data = {
        "conflict": "c0",
        "notices": [NOTICE_A, NOTICE_B],
        "area": "mill lane",
        "overlap": {"starts_at": AT, "ends_at": LATER},
    }

    line = event_line(server_event(EventType.CONFLICT_DETECTED, data))

    assert line.endswith(
        f'conflict c0  notices {NOTICE_A} and {NOTICE_B} overlap in "mill lane" '
        f"from {AT} to {LATER}"
    )


def test_a_resolved_conflict_names_the_notice_that_resolved_it_and_how() -> None:
    data = {
        "conflict": "c0",
        "notices": [NOTICE_A, NOTICE_B],
        "by": NOTICE_B,
        "reason": "cancelled",
    }

    line = event_line(server_event(EventType.CONFLICT_RESOLVED, data))

    assert line.endswith(
        f"conflict c0  between {NOTICE_A} and {NOTICE_B} resolved: {NOTICE_B} cancelled"
    )


def test_policy_events_name_the_proposal_and_what_became_of_it() -> None:
    proposed = {"proposal": PROPOSAL, "policy": {}, "lapses_at": LATER, "supersedes": NOTICE_A}
    changed = {
        "proposal": PROPOSAL,
        "policy": {},
        "proposed_by": {"party": "water", "operator": "ana"},
    }

    lines = [
        event_line(admin_event(EventType.CHANNEL_POLICY_PROPOSED, proposed)),
        event_line(admin_event(EventType.CHANNEL_POLICY_CHANGED, changed, party="roads")),
        event_line(admin_event(EventType.CHANNEL_POLICY_WITHDRAWN, {"proposal": PROPOSAL})),
    ]

    assert lines == [
        f"#12 {AT} channel.policy_proposed by water/ana  proposal {PROPOSAL}  lapses at {LATER}, "
        f"replacing {NOTICE_A}",
        f"#12 {AT} channel.policy_changed by roads/carla  proposal {PROPOSAL}  of water/ana "
        "accepted: the policy in force",
        f"#12 {AT} channel.policy_withdrawn by water/ana  proposal {PROPOSAL}  withdrawn",
    ]


def test_notice_events_keep_their_line() -> None:
    sent = {"notice": NOTICE_A, "subject": "Mill Lane", "priority": "routine"}

    assert event_line(admin_event(EventType.NOTICE_SENT, sent)) == (
        f'#12 {AT} notice.sent by water/ana {NOTICE_A}  "Mill Lane" (routine)'
    )
    assert event_line(server_event(EventType.NOTICE_OVERDUE, {"notice": NOTICE_A})) == (
        f"#12 {AT} notice.overdue by server {NOTICE_A}"
    )


def test_a_notice_marked_overdue_late_says_when_it_was_due() -> None:
    late = {"notice": NOTICE_A, "due_at": "2026-11-21T03:30:00.000Z"}

    assert event_line(server_event(EventType.NOTICE_OVERDUE, late)) == (
        f"#12 {AT} notice.overdue by server {NOTICE_A} (due 2026-11-21T03:30:00.000Z, 6 h late)"
    )


def test_an_event_of_a_type_this_client_does_not_know_still_gets_a_line() -> None:
    event = Event(
        channel="water-roads", seq=3, type="notice.pondered", at=parse_time(AT), actor=None, data={}
    )

    assert event_line(event) == f"#3 {AT} notice.pondered by server"


# -- spans of time, as the command line reads and prints them ------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("7d", 604800), ("12h", 43200), ("30m", 1800), ("90s", 90), ("1d12h", 129600), ("45", 45)],
)
def test_spans_are_read_in_days_hours_minutes_and_seconds(text: str, seconds: int) -> None:
    assert parse_span(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "7 days", "d", "0s", "1w", "-5m"])
def test_what_is_no_span_of_time_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"span of time|no time"):
        parse_span(text)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0 s"),
        (0.018, "18 ms"),
        (1.234, "1.2 s"),
        (59, "59 s"),
        (90, "1 min 30 s"),
        (900, "15 min"),
        (5400, "1 h 30 min"),
        (86400, "1 d"),
        (129607, "1 d 12 h"),
        (0.9996, "1 s"),
        (59.96, "1 min"),
    ],
)
def test_spans_are_printed_in_their_two_largest_units(seconds: float, shown: str) -> None:
    assert format_span(seconds) == shown


# -- a policy as `hotline policy show` prints it ---------------------------------------------


def rendered(view: Group) -> str:
    printed = io.StringIO()
    Console(file=printed, width=200, highlight=False, color_system=None).print(view)
    return printed.getvalue()


def test_a_policy_is_a_row_per_priority_then_its_other_rules() -> None:
    policy = PolicyOut.model_validate(
        {
            "ack_deadline_seconds": {"routine": 259200, "important": 86400, "urgent": 3600},
            "min_advance_notice_seconds": {"routine": 172800, "important": 14400, "urgent": 0},
            "escalate_to": {"roads": ["dev", "erin"], "water": []},
        }
    )

    text = rendered(policy_view(policy, title="Policy in force"))

    rows = [" ".join(line.split()) for line in text.splitlines()]
    assert "routine 3 d 2 d +1 d 1 d 2 +3 d" in rows
    assert "urgent 1 h none +15 min 15 min 4 +1 h" in rows
    assert "signatures   not required" in text
    assert "checks       none" in text
    assert "escalate to  roads: dev, erin; water: its admins" in text
    assert "mail unseen  no" in text


def test_a_policy_that_mails_unseen_notices_says_so_and_a_proposal_of_it_is_yellow() -> None:
    before = PolicyOut.model_validate(
        {
            "ack_deadline_seconds": {"routine": 259200, "important": 86400, "urgent": 3600},
            "min_advance_notice_seconds": {"routine": 172800, "important": 14400, "urgent": 0},
        }
    )
    after = before.model_copy(update={"mail_when_offline": True})

    *_, mail = policy_view(after, title="Proposed", before=before).renderables

    assert mail == (
        "mail unseen  [yellow]a notice the receiving party has not seen is mailed to its "
        "operators[/]"
    )


def test_a_proposal_shows_what_it_changes_in_yellow() -> None:
    before = PolicyOut.model_validate(
        {
            "ack_deadline_seconds": {"routine": 259200, "important": 86400, "urgent": 3600},
            "min_advance_notice_seconds": {"routine": 172800, "important": 14400, "urgent": 0},
        }
    )
    after = before.model_copy(
        update={"checks": CheckSchedule(every_seconds=3600, answer_within_seconds=300)}
    )

    table, signatures, checks, escalate_to, mail = policy_view(
        after, title="Proposed", before=before
    ).renderables

    assert checks == "checks       [yellow]every 1 h, answered within 5 min[/]"
    assert "[yellow]" not in f"{signatures}{escalate_to}{mail}"
    assert isinstance(table, Table)
    assert "[yellow]" not in "".join(str(cell) for column in table.columns for cell in column.cells)


def test_a_proposal_file_names_only_what_changes_and_the_rest_stays() -> None:
    in_force = {
        "ack_deadline_seconds": {"routine": 259200, "important": 86400, "urgent": 3600},
        "chase": {"urgent": {"reminders": 4, "remind_every_seconds": 900}},
        "escalate_to": {"roads": ["dev", "erin"]},
        "checks": {"every_seconds": 3600, "answer_within_seconds": 300},
    }
    changes = {
        "ack_deadline_seconds": {"urgent": 1800},
        "chase": {"urgent": {"reminders": 2}},
        "escalate_to": {"roads": ["erin"]},
        "checks": None,
    }

    assert merged(in_force, changes) == {
        "ack_deadline_seconds": {"routine": 259200, "important": 86400, "urgent": 1800},
        "chase": {"urgent": {"reminders": 2, "remind_every_seconds": 900}},
        "escalate_to": {"roads": ["erin"]},
        "checks": None,
    }


def test_a_proposal_file_gives_escalate_to_whole_so_a_party_left_out_is_gone() -> None:
    in_force = {"escalate_to": {"roads": ["dev"], "water": ["ben"]}, "checks": None}

    assert merged(in_force, {"escalate_to": {}}) == {"escalate_to": {}, "checks": None}
    assert merged(in_force, {"escalate_to": {"water": ["ben"]}})["escalate_to"] == {
        "water": ["ben"]
    }


def test_a_whole_policy_in_a_file_replaces_the_policy_in_force() -> None:
    in_force = {
        "ack_deadline_seconds": {"urgent": 3600},
        "min_advance_notice_seconds": {"urgent": 0},
        "chase": {"urgent": {"reminders": 4}},
        "escalate_to": {"roads": ["dev"]},
        "checks": {"every_seconds": 3600, "answer_within_seconds": 300},
    }
    whole = {
        "ack_deadline_seconds": {"urgent": 1800},
        "min_advance_notice_seconds": {"urgent": 0},
        "chase": {"urgent": {"reminders": 2}},
        "escalate_to": {},
        "require_signatures": False,
        "checks": None,
    }

    assert merged(in_force, whole) == whole


def test_a_whole_policy_printed_before_mail_existed_keeps_the_mail_switch_in_force() -> None:
    in_force = {
        "ack_deadline_seconds": {"urgent": 3600},
        "min_advance_notice_seconds": {"urgent": 0},
        "chase": {"urgent": {"reminders": 4}},
        "escalate_to": {},
        "require_signatures": False,
        "checks": None,
        "mail_when_offline": True,
    }
    older = {key: value for key, value in in_force.items() if key != "mail_when_offline"}
    older["chase"] = {}

    assert merged(in_force, older) == {**older, "mail_when_offline": True}
    assert merged(in_force, {**older, "mail_when_offline": False})["mail_when_offline"] is False
    assert merged(in_force, {"mail_when_offline": False}) == {
        **in_force,
        "mail_when_offline": False,
    }


@pytest.mark.parametrize(
    ("escalate_to", "shown"),
    [
        ({}, "each party's admins"),
        ({"water": ["ben"]}, "water: ben; any other: its admins"),
        ({"water": ["ben"], "roads": []}, "roads: its admins; water: ben"),
    ],
)
def test_whom_escalations_go_to_is_said_for_every_party(
    escalate_to: dict[str, list[str]], shown: str
) -> None:
    policy = PolicyOut.model_validate(
        {
            "ack_deadline_seconds": {"routine": 259200, "important": 86400, "urgent": 3600},
            "min_advance_notice_seconds": {"routine": 172800, "important": 14400, "urgent": 0},
            "escalate_to": escalate_to,
        }
    )

    *_, line, _mail = policy_view(policy, title="Policy").renderables

    assert line == f"escalate to  {shown}"


@pytest.mark.parametrize(
    ("content", "said"),
    [(None, "cannot read {}"), ("not json", "{} is not JSON"), ("[1, 2]", "{} must hold")],
)
def test_a_proposal_file_that_cannot_be_read_is_one_line_of_error_and_status_1(
    tmp_path: Path, content: str | None, said: str
) -> None:
    policy_file = tmp_path / "policy.json"
    if content is not None:
        policy_file.write_text(content)
    nowhere = ["--url", "http://127.0.0.1:9", "--token", "hl_unused"]

    done = CliRunner().invoke(app, ["policy", "propose", "--file", str(policy_file), *nowhere])

    assert done.exit_code == 1
    assert done.output.startswith("error: " + said.format(policy_file))
    assert len(done.output.splitlines()) == 1
