"""E-mail: what the channel mails to people, and how it reaches their SMTP server.

Three kinds of event are mailed (``server/domain/outbox.py`` decides which deliveries an
event owes; docs/how-to/send-mail.md tells an admin how to set it up):

- ``notice.escalated``, to each operator it was escalated to (delivery target
  ``operator:<id>``): a notice is still undecided past its deadline. Not sent if the notice
  was decided or cancelled before the mail could go.
- ``check.missed``, to each operator the missed liveness check escalated to.
- ``notice.sent``, on a channel whose policy says ``mail_when_offline``, to the receiving
  party (target ``party:<id>``), some time after it was sent: then only if the notice is
  still unseen (not received, decided or cancelled) and nobody of that party is connected
  to the channel through any server process, as far as this one has heard (presence
  crosses processes on PostgreSQL, ``server/cluster.py``; SQLite runs one process); it goes
  to every operator of the party (role ``operator``) with an address.

A mail that has nobody to go to (no address set) is *skipped*, with the reason, and not
tried again. What a mail says is written in ``server/service/letters.py``: plain text with
an HTML alternative, a link to the notice in the web console, never a token. Its
``Message-ID`` is made from the delivery's id, so a retry of a mail whose first try did
arrive (the server died before it could record the success) has the same id, and mail
systems that drop repeats drop it.

The delivery worker (``server/service/deliveries.py``) hands :class:`MailSender` each mail
delivery it claims. SMTP's answers decide what happens next: a message or its recipients
refused with a permanent (5xx) reply is not tried again; anything else (a connection
refused, a timeout, a 4xx reply, a login or TLS failure, which an admin can fix) is tried
again later, until the worker gives up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from client.protocol import schemas
from client.protocol.vocabulary import EventType, Role, Status
from server.config import Settings
from server.domain.model import Notice
from server.fanout import Hub
from server.service.deliveries import Outgoing, Sent
from server.service.letters import (
    Letter,
    compose,
    escalation_letter,
    message_id,
    missed_check_letter,
    unseen_notice_letter,
)
from server.store.db import Database
from server.store.directory import Directory
from server.store.repository import Repository

__all__ = ["SMTP_TIMEOUT_SECONDS", "MailSender"]

SMTP_TIMEOUT_SECONDS = 30.0
"""The longest one SMTP exchange may wait for the server (and at most half the delivery's
lease, so that no other worker takes the delivery while it is being sent)."""


@dataclass(frozen=True, slots=True)
class _Addressed:
    """A letter and who it goes to; or why there is nothing to send."""

    letter: Letter | None = None
    to: tuple[str, ...] = ()
    skip: str | None = None
    fail: str | None = None


_UNSEEN = (Status.SENT, Status.OVERDUE)
"""Where a notice still is while nobody of its receiving party has received or decided it."""


class MailSender:
    """Sends the outbox's mail deliveries over SMTP, one message each.

    Args:
        db: the database, to read the event, the notice and the addresses.
        settings: ``smtp_*`` say where and how to send; ``base_url()`` where links point.
        hub: this process's hub, to tell whether a party is online through any server
            process, as far as this one has heard.
    """

    def __init__(self, db: Database, settings: Settings, hub: Hub) -> None:
        self.db = db
        self.settings = settings
        self.hub = hub

    async def send(self, delivery: Outgoing) -> Sent:
        """Compose and send one mail delivery; never raises for SMTP's or the mail's sake."""
        if self.settings.smtp_host is None:
            return Sent(ok=True, skipped=True, error="mail is off here (no HOTLINE_SMTP_HOST)")
        addressed = await self._address(delivery)
        if addressed.fail is not None:
            return Sent(ok=False, permanent=True, error=addressed.fail)
        if addressed.letter is None:
            return Sent(ok=True, skipped=True, error=addressed.skip)
        base_url = self.settings.base_url()
        message = compose(
            addressed.letter,
            sender=self.settings.smtp_from,
            to=addressed.to,
            message_id=message_id(delivery.id, base_url),
            date=self.db.clock.now(),
        )
        return await self._submit(message)

    async def _address(self, delivery: Outgoing) -> _Addressed:
        kind, _, whom = delivery.target.partition(":")
        async with self.db.session() as session:
            repository, directory = Repository(session), Directory(session)
            found = await repository.log(delivery.channel, after=delivery.seq - 1, limit=1)
            if not found or found[0].seq != delivery.seq:
                return _Addressed(fail=f"no event {delivery.seq} in channel {delivery.channel}")
            event = found[0]
            notice = None
            if "notice" in event.data:
                stored = await repository.notice(uuid.UUID(str(event.data["notice"])))
                notice = None if stored is None else stored[0]
            parties = _parties(event, notice) | ({whom} if kind == "party" else set())
            names = await directory.party_names(parties)
            if kind == "operator":
                return await self._to_operator(directory, whom, event, notice, names)
            if kind == "party" and event.type is EventType.NOTICE_SENT and notice is not None:
                return await self._to_party(directory, whom, event, notice, names)
        return _Addressed(fail=f"no mail for {event.type} to {delivery.target}")

    async def _to_operator(
        self,
        directory: Directory,
        operator_id: str,
        event: schemas.Event,
        notice: Notice | None,
        names: dict[str, str],
    ) -> _Addressed:
        base_url = self.settings.base_url()
        if event.type is EventType.CHECK_MISSED:
            letter = missed_check_letter(event, names=names, base_url=base_url)
        elif event.type is EventType.NOTICE_ESCALATED and notice is not None:
            if notice.decision is not None or notice.status is Status.CANCELLED:
                return _Addressed(skip=f"the notice is {notice.status} since")
            letter = escalation_letter(notice, event, names=names, base_url=base_url)
        else:
            return _Addressed(fail=f"no mail for {event.type} to operator:{operator_id}")
        operator = await directory.operator(operator_id)
        if operator is None:
            return _Addressed(skip=f"no operator {operator_id}")
        if operator.email is None:
            return _Addressed(skip=f"operator {operator_id} has no e-mail address")
        return _Addressed(letter, (operator.email,))

    async def _to_party(
        self,
        directory: Directory,
        party: str,
        event: schemas.Event,
        notice: Notice,
        names: dict[str, str],
    ) -> _Addressed:
        # Seen is seen, whoever saw it; and someone connected sees it come in live.
        if notice.status not in _UNSEEN or notice.received_at is not None:
            return _Addressed(skip=f"the notice is {notice.status}: seen already")
        online = self.hub.online(event.channel).get(party)
        if online:
            return _Addressed(skip=f"{party} is online ({', '.join(online)})")
        operators = await directory.operators_of(party, role=Role.OPERATOR)
        to = tuple(o.email for o in operators if o.email is not None)
        if not to:
            return _Addressed(skip=f"no operator of {party} has an e-mail address")
        letter = unseen_notice_letter(
            notice, event, party=party, names=names, base_url=self.settings.base_url()
        )
        return _Addressed(letter, to)

    async def _submit(self, message: EmailMessage) -> Sent:
        settings = self.settings
        password = settings.smtp_password
        try:
            refused, _ = await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=None if password is None else password.get_secret_value(),
                start_tls=settings.smtp_starttls,
                timeout=min(SMTP_TIMEOUT_SECONDS, settings.delivery_lease_seconds / 2),
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            return Sent(
                ok=False,
                status_code=codes[0] if codes else None,
                error=_short(f"every recipient refused: {exc.recipients[0].message}"),
                permanent=all(500 <= code < 600 for code in codes),
            )
        except aiosmtplib.SMTPSenderRefused as exc:
            # MAIL FROM refused (a login required, a From the relay will not relay for): our
            # settings, not the message, which an admin can put right. Tried again.
            return Sent(
                ok=False,
                status_code=exc.code,
                error=_short(f"sender refused: {exc.code} {exc.message}"),
            )
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as exc:
            # The server refused the message itself: a 5xx says it always will.
            return Sent(
                ok=False,
                status_code=exc.code,
                error=_short(f"refused: {exc.code} {exc.message}"),
                permanent=500 <= exc.code < 600,
            )
        except aiosmtplib.SMTPResponseException as exc:
            # The server refused us (greeting, login): a configuration an admin can fix.
            return Sent(ok=False, status_code=exc.code, error=_short(f"{exc.code} {exc.message}"))
        except (aiosmtplib.SMTPException, OSError) as exc:
            return Sent(ok=False, error=_short(f"{type(exc).__name__}: {exc}"))
        # 250: the only reply that accepts a message (RFC 5321 §4.2.5).
        if refused:
            # Some recipients took it: delivered, and the others are named for the log.
            names = ", ".join(sorted(refused))
            return Sent(ok=True, status_code=250, error=_short(f"refused by SMTP: {names}"))
        return Sent(ok=True, status_code=250)


def _parties(event: schemas.Event, notice: Notice | None) -> set[str]:
    parties = {str(event.data["party"])} if "party" in event.data else set()
    if notice is not None:
        parties.add(notice.sender_party)
    return parties


def _short(text: str, limit: int = 300) -> str:
    # What is recorded of a failure: one line, bounded, never the password (not in it).
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
