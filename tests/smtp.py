"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, keeping every message it accepts.

The ``mailbox`` fixture (``tests/conftest.py``) starts one per test on a free port. It runs
on a thread of its own, with its own event loop, so a server process started by an e2e
test reaches it as it would any mail server, and a test waits for mail without polling::

    settings = Settings(**mailbox.settings(), ...)      # or env=mailbox.env() for a process
    ...
    [mail] = await mailbox.wait_for(1)
    assert mail.message["Subject"] == "[water-roads] Escalated: ..."

It can also refuse, as real servers do: :meth:`Mailbox.refuse` a recipient (550), or
:meth:`Mailbox.answer_next` a message with a reply of the test's choosing (451, 554); and
it can want a login (:meth:`Mailbox.require_login`, over plain SMTP, as only a test may).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = ["Mail", "Mailbox", "running_mailbox"]

WAIT_SECONDS = 10.0
"""How long a test waits for mail before it fails."""


@dataclass(frozen=True, slots=True)
class Mail:
    """One message the server accepted: its envelope and the message parsed."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    def text(self) -> str:
        """The plain-text part."""
        part = self.message.get_body(("plain",))
        assert part is not None, "no text/plain part"
        return str(part.get_content())

    def html(self) -> str:
        """The HTML part."""
        part = self.message.get_body(("html",))
        assert part is not None, "no text/html part"
        return str(part.get_content())


class Mailbox:
    """aiosmtpd's handler: accepts, refuses and records, and lets tests wait for mail.

    The handler's methods run on the server's thread; the lists are guarded by a condition
    that :meth:`wait_for` waits on (in a worker thread, so the test's loop keeps running).
    """

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self._changed = threading.Condition()
        self._mail: list[Mail] = []
        self._refused: set[str] = set()
        self._answers: list[str] = []
        self._login: tuple[str, str] | None = None
        self.sessions = 0
        """SMTP conversations that reached DATA (accepted or not): one per try."""
        self.logins: list[str] = []
        """The user names that logged in, one per successful login."""

    # -- what tests call -------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """``Settings`` fields that send mail here (plain SMTP: no STARTTLS)."""
        return {"smtp_host": self.host, "smtp_port": self.port, "smtp_starttls": False}

    def env(self) -> dict[str, str]:
        """The same as ``HOTLINE_SMTP_*`` variables, for a server process."""
        return {
            "HOTLINE_SMTP_HOST": self.host,
            "HOTLINE_SMTP_PORT": str(self.port),
            "HOTLINE_SMTP_STARTTLS": "false",
        }

    def refuse(self, address: str) -> None:
        """Refuse this recipient for good (550), as for a mailbox that does not exist."""
        with self._changed:
            self._refused.add(address)

    def answer_next(self, *replies: str) -> None:
        """Answer the next messages with these replies (``"451 4.3.0 try later"``), in turn."""
        with self._changed:
            self._answers.extend(replies)

    def require_login(self, username: str, password: str) -> None:
        """Accept a login with these credentials only (any other gets 535)."""
        with self._changed:
            self._login = (username, password)

    @staticmethod
    @contextmanager
    def closed_port() -> Iterator[int]:
        """A port on 127.0.0.1 where nobody listens (connecting is refused), while it lasts."""
        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))  # bound, never listening: the port stays closed
            yield held.getsockname()[1]

    @property
    def mail(self) -> list[Mail]:
        """Every message accepted so far, in order."""
        with self._changed:
            return list(self._mail)

    async def wait_for(self, count: int, *, within: float = WAIT_SECONDS) -> list[Mail]:
        """The first ``count`` messages accepted, once there are that many.

        Raises:
            TimeoutError: fewer arrived within ``within`` seconds.
        """
        # The wait happens on a thread (the server's thread notifies it), which an asyncio
        # timeout could not stop: the thread's own wait carries the limit.
        return await asyncio.to_thread(self._wait, count, within)

    def _wait(self, count: int, timeout: float) -> list[Mail]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._mail) >= count, timeout):
                raise TimeoutError(f"{len(self._mail)} of {count} mails arrived in {timeout}s")
            return self._mail[:count]

    # -- aiosmtpd's hooks, named as it calls them (on the server's thread) ----------------

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """aiosmtpd's ``authenticator``: the one login :meth:`require_login` allows."""
        with self._changed:
            expected = self._login
            given = None
            if isinstance(data, LoginPassword):
                given = (data.login.decode(), data.password.decode())
            ok = expected is not None and given == expected
            if ok and given is not None:
                self.logins.append(given[0])
        return AuthResult(success=ok, handled=False)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        with self._changed:
            if address in self._refused:
                return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._changed:
            self.sessions += 1
            if self._answers:
                return self._answers.pop(0)
            content = envelope.original_content or b""
            message = email.message_from_bytes(content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            self._mail.append(
                Mail(str(envelope.mail_from), tuple(map(str, envelope.rcpt_tos)), message)
            )
            self._changed.notify_all()
        return "250 2.0.0 Message accepted"


class _AnyPortController(Controller):
    """aiosmtpd's threaded controller, on a port the system picks (``port=0``)."""

    def _trigger_server(self) -> None:
        # The controller connects to its own port once started; learn which one it got.
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@contextmanager
def running_mailbox() -> Iterator[Mailbox]:
    """An SMTP server on 127.0.0.1 and a free port, for as long as the block lasts."""
    mailbox = Mailbox()
    # server_hostname: without it, every connection asks DNS for this machine's name.
    controller = _AnyPortController(
        mailbox,
        hostname=mailbox.host,
        port=0,
        server_hostname="mailbox.test",
        authenticator=mailbox.authenticate,
        auth_require_tls=False,  # a test's login on 127.0.0.1; never do this for real
    )
    controller.start()
    mailbox.port = controller.port
    try:
        yield mailbox
    finally:
        controller.stop()
