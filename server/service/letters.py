"""What the channel's mail says: letters for each kind of event, composed as MIME messages.

Pure: no database, no network. :class:`~server.service.mail.MailSender` reads what a
letter needs (the event, the notice, the parties' names), picks the letter, and sends
what :func:`compose` makes of it.

Each letter is written once and rendered twice, as plain text and as an HTML alternative,
with every piece of text escaped in the HTML: a notice's subject and body are whatever its
sender wrote, and arrive as text, never as markup. Its link points at the notice in the
web console and never carries a token; the reader signs in to the console as usual.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import quote, urlsplit

from client.protocol import schemas
from client.protocol.times import parse_time
from server.domain.model import Notice

__all__ = [
    "Letter",
    "compose",
    "escalation_letter",
    "message_id",
    "missed_check_letter",
    "notice_link",
    "unseen_notice_letter",
]


@dataclass(frozen=True, slots=True)
class Letter:
    """What a mail says, before it is addressed: the same words in text and in HTML."""

    subject: str
    intro: str
    """The opening paragraph: what happened and why this reader is told."""
    facts: tuple[tuple[str, str], ...]
    """Labelled details (``("Priority", "urgent")``), in order."""
    link: str
    """Where to read and act on it: a page of the web console (never with a token)."""
    link_text: str
    footer: str
    """Why the reader gets this mail at all."""
    body: str = ""
    """The notice's own text, if the mail carries it."""


def notice_link(
    base_url: str, notice_id: uuid.UUID | str | None = None, *, channel: str | None = None
) -> str:
    """The web console's page of a notice on its channel, or the channel's inbox.

    The console opens the channel named in the query (``?channel=``) once its reader has
    signed in, and names its views in the address's fragment (``#notice/<id>``, see
    ``client/web/console/router.js``); the fragment never reaches a server. There is no
    token in it: the reader signs in to the console as usual.
    """
    page = f"{base_url}/" if channel is None else f"{base_url}/?channel={quote(channel, safe='')}"
    if notice_id is None:
        return f"{page}#inbox"
    return f"{page}#notice/{notice_id}"


def _when(moment: datetime) -> str:
    # Mail is read anywhere: an unambiguous UTC time, to the minute, as people write it.
    return moment.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")


def _notice_facts(notice: Notice, names: dict[str, str]) -> list[tuple[str, str]]:
    content = notice.content
    facts = [
        ("Subject", content.subject),
        ("From", names.get(notice.sender_party, notice.sender_party)),
        ("Priority", content.priority.value),
        ("Sent", _when(notice.sent_at)),
    ]
    if notice.ack_due_at is not None:
        facts.append(("Decision due", _when(notice.ack_due_at)))
    if content.activity is not None:
        window = f"{_when(content.activity.starts_at)} to {_when(content.activity.ends_at)}"
        facts.append(("Activity", window))
    if content.area is not None:
        facts.append(("Area", content.area))
    return facts


def escalation_letter(
    notice: Notice, event: schemas.Event, *, names: dict[str, str], base_url: str
) -> Letter:
    """The mail to one operator a notice was escalated to (``notice.escalated``)."""
    receiver = str(event.data.get("party", ""))
    return Letter(
        subject=f"[{event.channel}] Escalated: {notice.content.subject}",
        intro=(
            f"A notice to {names.get(receiver, receiver)} is still waiting for a decision "
            "past its deadline, and has been escalated to you."
        ),
        facts=tuple(_notice_facts(notice, names)),
        link=notice_link(base_url, notice.id, channel=event.channel),
        link_text="Open the notice in the Hotline console",
        footer=f"Hotline sent this for channel {event.channel}, which escalates to you.",
        body=notice.content.body,
    )


def missed_check_letter(event: schemas.Event, *, names: dict[str, str], base_url: str) -> Letter:
    """The mail to one operator a missed liveness check escalated to (``check.missed``)."""
    asked = str(event.data.get("party", ""))
    due = event.data.get("due_at")
    facts = [("Party asked", names.get(asked, asked))]
    if isinstance(due, str):
        facts.append(("Answer was due", _when(parse_time(due))))
    return Letter(
        subject=f"[{event.channel}] Missed liveness check: {names.get(asked, asked)}",
        intro=(
            f"Nobody of {names.get(asked, asked)} answered the server's liveness check in "
            "time: notices on this channel may be going unseen. Please make sure somebody "
            "is watching it."
        ),
        facts=tuple(facts),
        link=notice_link(base_url, channel=event.channel),
        link_text="Open the Hotline console",
        footer=f"Hotline sent this for channel {event.channel}, which escalates to you.",
    )


def unseen_notice_letter(
    notice: Notice, event: schemas.Event, *, party: str, names: dict[str, str], base_url: str
) -> Letter:
    """The mail to a party's operators about a notice nobody of them has seen (``notice.sent``)."""
    sender = names.get(notice.sender_party, notice.sender_party)
    return Letter(
        subject=f"[{event.channel}] New notice: {notice.content.subject}",
        intro=(
            f"{sender} sent {names.get(party, party)} a notice that nobody of yours has seen "
            "yet: none of you was connected to Hotline."
        ),
        facts=tuple(_notice_facts(notice, names)),
        link=notice_link(base_url, notice.id, channel=event.channel),
        link_text="Open the notice in the Hotline console",
        footer=(
            f"Hotline sent this for channel {event.channel}, whose policy mails notices "
            "that go unseen, to the operators of the receiving party."
        ),
        body=notice.content.body,
    )


def _text(letter: Letter) -> str:
    width = max((len(label) for label, _ in letter.facts), default=0) + 1
    lines = [letter.intro, ""]
    lines += [f"{label + ':':<{width}} {value}" for label, value in letter.facts]
    if letter.body:
        lines += ["", letter.body]
    lines += ["", f"{letter.link_text}:", letter.link, "", "-- ", letter.footer]
    return "\n".join(lines) + "\n"


def _html(letter: Letter) -> str:
    # Every piece of text is escaped: a notice's subject or body is whatever its sender
    # wrote, and must arrive as text, never as markup.
    e = html.escape
    rows = "\n".join(
        f'<tr><th align="left" valign="top">{e(label)}</th><td>{e(value)}</td></tr>'
        for label, value in letter.facts
    )
    body = ""
    if letter.body:
        body = f'<p style="white-space: pre-wrap">{e(letter.body)}</p>'
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{e(letter.subject)}</title></head><body>\n"
        f"<p>{e(letter.intro)}</p>\n<table>{rows}</table>\n{body}\n"
        f'<p><a href="{e(letter.link)}">{e(letter.link_text)}</a></p>\n'
        f'<hr><p style="color: #555">{e(letter.footer)}</p>\n</body></html>\n'
    )


def message_id(delivery_id: uuid.UUID, base_url: str) -> str:
    """The ``Message-ID`` of a delivery's mail: the same on every try (RFC 5322 §3.6.4)."""
    host = urlsplit(base_url).hostname or "localhost"
    return f"<{delivery_id}@{host}>"


def compose(
    letter: Letter, *, sender: str, to: Sequence[str], message_id: str, date: datetime
) -> EmailMessage:
    """A MIME message: the letter in plain text, with an HTML alternative.

    Args:
        letter: what it says.
        sender: the ``From`` address (``HOTLINE_SMTP_FROM``).
        to: the recipients' addresses.
        message_id: its ``Message-ID``, from :func:`message_id`.
        date: its ``Date``.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    # One line, whatever it was given: a line break in a header would start a new header.
    message["Subject"] = " ".join(letter.subject.split())
    message["Date"] = format_datetime(date.astimezone(UTC))
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    message.set_content(_text(letter))
    message.add_alternative(_html(letter), subtype="html")
    return message
