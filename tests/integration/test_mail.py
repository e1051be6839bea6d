"""The mail sender against a real SMTP server (aiosmtpd), on both databases.

The events are real: a notice sent through the service layer and chased by the clock
(``store_clock``) until it is escalated, or a liveness check missed. Each test then hands
:class:`~server.service.mail.MailSender` the delivery the outbox would hold for it (its
id made by ``delivery_id``, as the writer makes it) and reads what the SMTP server got.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from client.protocol import schemas
from client.protocol.note import Signer, generate_key
from client.protocol.vocabulary import Decision
from server.config import Settings
from server.domain import rules
from server.domain.model import Checks, Policy
from server.domain.outbox import DeliveryKind, delivery_id
from server.fanout import Hub
from server.keys import LogKeys
from server.service import admin, commands
from server.service.deliveries import Outgoing, Sent
from server.service.log import Checkpoints
from server.service.mail import MailSender
from server.store.db import Database
from tests.integration.store_clock import CARLA, CHANNEL, START, clocked_database, fire, send
from tests.smtp import Mailbox

HOUR = timedelta(hours=1)
ESCALATED_AT = START + 2 * HOUR
"""An urgent notice sent at ``START`` is due an hour later and escalated an hour after."""
BASE = "https://hotline.example.org"
POLICY = Policy(mail_when_offline=True, checks=Checks(every=HOUR, answer_within=HOUR / 12))
ADDRESSES = {
    "carla": "carla@roads.example",
    "dev": "dev@roads.example",
    "raj": "raj@roads.example",
}


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The demo channel, mailing unseen notices and checking hourly, on a hand-moved clock."""
    async with clocked_database(database_url, policy=POLICY) as database:
        for operator, address in ADDRESSES.items():
            await admin.set_email(database, operator, address)
        yield database


@pytest.fixture
def hub() -> Hub:
    return Hub(Checkpoints(LogKeys(Signer.parse(generate_key("test.example")[0]))))


@pytest.fixture
def sender(db: Database, mailbox: Mailbox, hub: Hub, tmp_path: Path) -> MailSender:
    settings = Settings(
        database_url="sqlite://",
        log_key_file=tmp_path / "log.key",
        public_url=BASE,
        smtp_from="Hotline <hotline@example.org>",
        **mailbox.settings(),
    )
    return MailSender(db, settings, hub)


@dataclasses.dataclass(eq=False)
class Watcher:
    """A connection as the hub sees it, that ignores what it is offered."""

    party: str
    operator: str
    token_id: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)

    def offer_event(self, event: schemas.Event, text: str) -> None:
        pass

    def offer_presence(self, text: str) -> None:
        pass

    def token_revoked(self) -> None:
        pass


def outgoing(event: schemas.Event, target: str, *, attempt: int = 1) -> Outgoing:
    """The mail delivery the outbox holds for ``event`` to ``target``."""
    return Outgoing(
        id=delivery_id(event.channel, event.seq, DeliveryKind.MAIL, target, at=event.at),
        kind="mail",
        channel=event.channel,
        seq=event.seq,
        event_type=str(event.type),
        target=target,
        attempt=attempt,
    )


async def escalation(db: Database) -> schemas.Event:
    """A notice sent by ana at ``START``, chased until it is escalated to raj."""
    await send(db)
    fired = await fire(db, ESCALATED_AT)
    [escalated] = [e for e in fired if str(e.type) == "notice.escalated"]
    assert escalated.data["to"] == ["raj"]
    return escalated


async def notice_sent(db: Database) -> schemas.Event:
    outcome = await send(db, subject="Valve closure, Mill Lane")
    [sent] = outcome.events
    return sent


async def test_an_escalation_is_mailed_to_the_operator_it_went_to(
    db: Database, sender: MailSender, mailbox: Mailbox
) -> None:
    escalated = await escalation(db)
    delivery = outgoing(escalated, "operator:raj")

    result = await sender.send(delivery)

    assert result == Sent(ok=True, status_code=250)
    [mail] = await mailbox.wait_for(1)
    assert mail.rcpt_tos == ("raj@roads.example",)
    assert mail.mail_from == "hotline@example.org"
    message = mail.message
    assert message["To"] == "raj@roads.example"
    assert message["Subject"] == "[water-roads] Escalated: Water main renewal, Mill Lane"
    assert message["Message-ID"] == f"<{delivery.id}@hotline.example.org>"
    notice = escalated.data["notice"]
    assert f"{BASE}/?channel={CHANNEL}#notice/{notice}" in mail.text()
    assert f'href="{BASE}/?channel={CHANNEL}#notice/{notice}"' in mail.html()


async def test_an_operator_without_an_address_is_skipped_and_nothing_is_sent(
    db: Database, sender: MailSender, mailbox: Mailbox
) -> None:
    await admin.set_email(db, "raj", None)
    escalated = await escalation(db)

    result = await sender.send(outgoing(escalated, "operator:raj"))

    assert result == Sent(ok=True, skipped=True, error="operator raj has no e-mail address")
    assert mailbox.sessions == 0


async def test_an_escalation_decided_before_its_mail_went_is_not_mailed(
    db: Database, sender: MailSender, mailbox: Mailbox
) -> None:
    escalated = await escalation(db)
    command = rules.Decide(uuid.UUID(escalated.data["notice"]), Decision.ACKNOWLEDGED)
    await commands.execute(db, command, channel_id=CHANNEL, actor=CARLA)

    result = await sender.send(outgoing(escalated, "operator:raj"))

    assert result.skipped
    assert result.error == "the notice is acknowledged since"
    assert mailbox.sessions == 0


async def test_a_missed_check_is_mailed_to_the_operators_it_escalated_to(
    db: Database, sender: MailSender, mailbox: Mailbox
) -> None:
    await fire(db, START + HOUR)  # asked
    fired = await fire(db, START + HOUR + HOUR / 12)  # not answered in time
    missed = [e for e in fired if str(e.type) == "check.missed" and e.data["party"] == "roads"]
    assert [e.data["to"] for e in missed] == [["raj"]]

    result = await sender.send(outgoing(missed[0], "operator:raj"))

    assert result.ok
    [mail] = await mailbox.wait_for(1)
    assert mail.message["Subject"] == ("[water-roads] Missed liveness check: City Roads Department")
    assert mail.rcpt_tos == ("raj@roads.example",)


async def test_an_unseen_notice_goes_to_every_operator_of_the_receiving_party_with_an_address(
    db: Database, sender: MailSender, mailbox: Mailbox, hub: Hub
) -> None:
    await admin.set_email(db, "dev", None)
    await admin.set_email(db, "ana", "ana@water.example")  # the sender's side: not mailed
    hub.subscribe(CHANNEL, Watcher("water", "ana"))  # the sender's side online: no matter
    sent = await notice_sent(db)

    result = await sender.send(outgoing(sent, "party:roads"))

    assert result == Sent(ok=True, status_code=250)
    [mail] = await mailbox.wait_for(1)
    # raj has an address too, but is an admin: unseen notices go to those who answer them.
    assert mail.rcpt_tos == ("carla@roads.example",)
    assert mail.message["Subject"] == "[water-roads] New notice: Valve closure, Mill Lane"
    assert "Riverside Water sent City Roads Department a notice" in mail.text()


async def test_an_unseen_notice_is_not_mailed_once_it_was_received(
    db: Database, sender: MailSender, mailbox: Mailbox
) -> None:
    sent = await notice_sent(db)
    receipt = rules.RecordReceipt(uuid.UUID(sent.data["notice"]))
    await commands.execute(db, receipt, channel_id=CHANNEL, actor=CARLA)

    result = await sender.send(outgoing(sent, "party:roads"))

    assert result == Sent(ok=True, skipped=True, error="the notice is delivered: seen already")
    assert mailbox.sessions == 0


async def test_an_unseen_notice_is_not_mailed_while_someone_of_the_party_is_connected(
    db: Database, sender: MailSender, mailbox: Mailbox, hub: Hub
) -> None:
    sent = await notice_sent(db)
    watcher = Watcher("roads", "dev")
    hub.subscribe(CHANNEL, watcher)

    online = await sender.send(outgoing(sent, "party:roads"))
    hub.unsubscribe(CHANNEL, watcher)
    offline = await sender.send(outgoing(sent, "party:roads", attempt=2))

    assert online == Sent(ok=True, skipped=True, error="roads is online (dev)")
    assert offline.ok
    assert not offline.skipped
    assert len(await mailbox.wait_for(1)) == 1


async def test_a_party_with_no_address_at_all_is_skipped(
    db: Database, sender: MailSender, mailbox: Mailbox
) -> None:
    for operator in ("carla", "dev"):
        await admin.set_email(db, operator, None)
    sent = await notice_sent(db)

    result = await sender.send(outgoing(sent, "party:roads"))

    assert result == Sent(ok=True, skipped=True, error="no operator of roads has an e-mail address")


async def test_a_temporary_refusal_is_retried_and_the_retry_is_the_same_message(
    db: Database, sender: MailSender, mailbox: Mailbox
) -> None:
    escalated = await escalation(db)
    mailbox.answer_next("451 4.3.0 Try again later")

    first = await sender.send(outgoing(escalated, "operator:raj"))
    second = await sender.send(outgoing(escalated, "operator:raj", attempt=2))

    assert first == Sent(ok=False, status_code=451, error="refused: 451 4.3.0 Try again later")
    assert second.ok
    [mail] = await mailbox.wait_for(1)
    expected = delivery_id(
        CHANNEL, escalated.seq, DeliveryKind.MAIL, "operator:raj", at=escalated.at
    )
    assert mail.message["Message-ID"] == f"<{expected}@hotline.example.org>"


async def test_a_permanent_refusal_is_not_retried(
    db: Database, sender: MailSender, mailbox: Mailbox
) -> None:
    escalated = await escalation(db)
    mailbox.refuse("raj@roads.example")

    result = await sender.send(outgoing(escalated, "operator:raj"))

    assert not result.ok
    assert result.permanent
    assert result.status_code == 550
    assert result.error is not None
    assert "No such mailbox" in result.error


async def test_a_message_refused_for_good_is_not_retried(
    db: Database, sender: MailSender, mailbox: Mailbox
) -> None:
    escalated = await escalation(db)
    mailbox.answer_next("554 5.7.1 Message rejected")

    result = await sender.send(outgoing(escalated, "operator:raj"))

    assert result == Sent(
        ok=False, status_code=554, error="refused: 554 5.7.1 Message rejected", permanent=True
    )


async def test_an_smtp_server_that_is_down_is_retried(
    db: Database, hub: Hub, tmp_path: Path
) -> None:
    with Mailbox.closed_port() as port:
        settings = Settings(
            database_url="sqlite://",
            log_key_file=tmp_path / "log.key",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_starttls=False,
        )
        escalated = await escalation(db)

        result = await MailSender(db, settings, hub).send(outgoing(escalated, "operator:raj"))

    assert not result.ok
    assert not result.permanent
    assert result.error is not None
    assert "SMTPConnectError" in result.error


async def test_the_sender_logs_in_with_the_configured_password(
    db: Database, mailbox: Mailbox, hub: Hub, tmp_path: Path
) -> None:
    mailbox.require_login("hotline", "s3cret-Passw0rd")
    settings = Settings(
        database_url="sqlite://",
        log_key_file=tmp_path / "log.key",
        smtp_username="hotline",
        smtp_password="s3cret-Passw0rd",  # pydantic makes it a SecretStr
        **mailbox.settings(),
    )
    escalated = await escalation(db)

    result = await MailSender(db, settings, hub).send(outgoing(escalated, "operator:raj"))

    assert result.ok
    assert mailbox.logins == ["hotline"]


async def test_a_refused_login_is_retried_and_the_password_is_not_in_the_error(
    db: Database, mailbox: Mailbox, hub: Hub, tmp_path: Path
) -> None:
    mailbox.require_login("hotline", "the-right-one")
    settings = Settings(
        database_url="sqlite://",
        log_key_file=tmp_path / "log.key",
        smtp_username="hotline",
        smtp_password="a-wrong-one",  # pydantic makes it a SecretStr
        **mailbox.settings(),
    )
    escalated = await escalation(db)

    result = await MailSender(db, settings, hub).send(outgoing(escalated, "operator:raj"))

    assert not result.ok
    assert not result.permanent  # an admin can fix the password: the mail waits for it
    assert result.status_code == 535
    assert result.error is not None
    assert "a-wrong-one" not in result.error
    assert mailbox.sessions == 0
