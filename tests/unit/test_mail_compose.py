"""What a mail says and how it is put together: headers, both parts, escaping, the link.

Pure: the letters are built from a notice the rules produced (``builders.sent``) and an
event as the API serves it; nothing is sent.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

from client.protocol import schemas
from client.protocol.times import format_time
from client.protocol.vocabulary import EventType
from server.domain.outbox import DeliveryKind, delivery_id
from server.service.letters import (
    Letter,
    compose,
    escalation_letter,
    message_id,
    missed_check_letter,
    notice_link,
    unseen_notice_letter,
)
from tests.unit.builders import DUE, NOTICE_ID, NOW, content, sent

BASE = "https://hotline.example.org"
NAMES = {"water": "Riverside Water", "roads": "City Roads Department"}
HOSTILE = 'Valve <script>alert("x")</script> & "quotes"'


def event(type_: EventType, data: Mapping[str, object], *, seq: int = 7) -> schemas.Event:
    return schemas.Event(
        channel="water-roads", seq=seq, type=type_, at=DUE, actor=None, data=dict(data)
    )


def escalated(notice_id: uuid.UUID = NOTICE_ID) -> schemas.Event:
    data = {"notice": str(notice_id), "due_at": format_time(DUE), "party": "roads", "to": ["raj"]}
    return event(EventType.NOTICE_ESCALATED, data)


def mail(letter: Letter, *, to: tuple[str, ...] = ("raj@roads.example",)) -> EmailMessage:
    """The letter composed, then parsed back from its bytes as a mail reader would."""
    composed = compose(
        letter,
        sender="Hotline <hotline@example.org>",
        to=to,
        message_id=message_id(uuid.UUID(int=1), BASE),
        date=NOW,
    )
    parsed = email.message_from_bytes(composed.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


def test_an_escalation_mail_has_the_headers_a_mail_reader_needs() -> None:
    message = mail(escalation_letter(sent(), escalated(), names=NAMES, base_url=BASE))
    assert message["From"] == "Hotline <hotline@example.org>"
    assert message["To"] == "raj@roads.example"
    assert message["Subject"] == "[water-roads] Escalated: Water main renewal, Mill Lane"
    assert message["Message-ID"] == f"<{uuid.UUID(int=1)}@hotline.example.org>"
    assert parsedate_to_datetime(message["Date"]) == NOW
    assert message["Auto-Submitted"] == "auto-generated"


def test_a_mail_is_plain_text_with_an_html_alternative_saying_the_same() -> None:
    message = mail(escalation_letter(sent(), escalated(), names=NAMES, base_url=BASE))
    assert message.get_content_type() == "multipart/alternative"
    text, html = parts(message)
    for said in (
        "City Roads Department",
        "Riverside Water",
        "Mill Lane, numbers 2 to 40",
        "We replace 120 m of main",
        "routine",
        "Tue 24 Nov 2026, 09:30 UTC",
    ):
        assert said in text
        assert said in html
    assert text.splitlines()[0].startswith("A notice to City Roads Department is still waiting")


def test_every_text_from_a_notice_is_escaped_in_the_html_and_left_as_it_is_in_the_text() -> None:
    notice = sent(content(subject=HOSTILE, body=f"Line one\n{HOSTILE}", area=HOSTILE))
    message = mail(escalation_letter(notice, escalated(), names=NAMES, base_url=BASE))
    text, html = parts(message)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in html
    assert text.count(HOSTILE) == 3  # subject, area and body, as written
    assert message["Subject"] == f"[water-roads] Escalated: {HOSTILE}"


def test_the_link_opens_the_notice_in_the_console_and_carries_no_token() -> None:
    link = f"{BASE}/?channel=water-roads#notice/{NOTICE_ID}"
    message = mail(escalation_letter(sent(), escalated(), names=NAMES, base_url=BASE))
    text, html = parts(message)
    assert link in text
    assert f'<a href="{link}">' in html
    whole = message.as_string()
    assert "token" not in whole
    assert "hl_" not in whole
    assert notice_link(BASE) == f"{BASE}/#inbox"
    assert notice_link(BASE, channel="a b/c") == f"{BASE}/?channel=a%20b%2Fc#inbox"


def test_the_message_id_is_the_delivery_id_so_every_try_sends_the_same_message() -> None:
    at = datetime(2026, 12, 3, 9, 0, 0, 412000, tzinfo=UTC)
    first = delivery_id("water-roads", 7, DeliveryKind.MAIL, "operator:raj", at=at)
    again = delivery_id("water-roads", 7, DeliveryKind.MAIL, "operator:raj", at=at)
    other = delivery_id("water-roads", 7, DeliveryKind.MAIL, "operator:dev", at=at)
    # The event of the same number in a database started afresh is another event.
    afresh = delivery_id(
        "water-roads", 7, DeliveryKind.MAIL, "operator:raj", at=at + timedelta(minutes=5)
    )
    assert message_id(afresh, BASE) != message_id(first, BASE)
    assert message_id(first, BASE) == message_id(again, BASE) == f"<{first}@hotline.example.org>"
    assert message_id(other, BASE) != message_id(first, BASE)
    assert message_id(first, "http://127.0.0.1:8000") == f"<{first}@127.0.0.1>"


def test_a_line_break_in_a_subject_cannot_start_a_new_header() -> None:
    letter = escalation_letter(sent(), escalated(), names=NAMES, base_url=BASE)
    forged = dataclasses.replace(letter, subject="Hello\r\nBcc: spy@example.com")
    message = mail(forged)
    assert message["Bcc"] is None
    assert message["Subject"] == "Hello Bcc: spy@example.com"


def test_a_mail_to_several_operators_names_them_all() -> None:
    letter = unseen_notice_letter(
        sent(),
        event(EventType.NOTICE_SENT, {"notice": str(NOTICE_ID)}, seq=3),
        party="roads",
        names=NAMES,
        base_url=BASE,
    )
    message = mail(letter, to=("carla@roads.example", "dev@roads.example"))
    assert message["To"] == "carla@roads.example, dev@roads.example"
    assert message["Subject"] == "[water-roads] New notice: Water main renewal, Mill Lane"
    text, _ = parts(message)
    assert "Riverside Water sent City Roads Department a notice that nobody of yours" in text


def test_a_missed_check_mail_names_the_party_that_did_not_answer() -> None:
    due = NOW + timedelta(hours=1)
    missed = event(
        EventType.CHECK_MISSED,
        {"check": str(uuid.uuid4()), "party": "roads", "due_at": format_time(due), "to": ["raj"]},
    )
    message = mail(missed_check_letter(missed, names=NAMES, base_url=BASE))
    assert message["Subject"] == "[water-roads] Missed liveness check: City Roads Department"
    text, html = parts(message)
    assert "Nobody of City Roads Department answered" in text
    assert "Sat 21 Nov 2026, 10:30 UTC" in text
    assert f"{BASE}/?channel=water-roads#inbox" in html


def test_non_ascii_text_arrives_intact() -> None:
    notice = sent(content(subject="Straßenbau — Mühlweg", body="Schieber für 2 Tage zu"))
    message = mail(escalation_letter(notice, escalated(), names=NAMES, base_url=BASE))
    text, html = parts(message)
    assert message["Subject"] == "[water-roads] Escalated: Straßenbau — Mühlweg"
    assert "Schieber für 2 Tage zu" in text
    assert "Schieber für 2 Tage zu" in html
