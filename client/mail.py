"""The SDK's calls about operators' e-mail: where the server's mail to an operator goes.

The server mails an operator when a notice escalates to it, when its party misses a
liveness check, and, where the channel's policy says ``mail_when_offline``, when a notice
waits unseen by its party. An operator without an address gets no mail. An operator sets
its own address; an admin those of its party's operators::

    await hotline.set_email("ana.lopez@water.example")
    await admin.set_operator_email("ben", "ben.okafor@water.example")
    await hotline.clear_email()

What was mailed, and whether it went, is in ``deliveries(channel, kind="mail")``
(:class:`~client.webhooks.WebhookCalls`, admins). See docs/how-to/send-mail.md.
"""

from __future__ import annotations

from urllib.parse import quote

from client.calls import Requester, checked
from client.protocol.schemas import EmailAddress, Me, OperatorEmail

__all__ = ["MailCalls"]


def _email_path(operator: str) -> str:
    return f"/operators/{quote(operator, safe='')}/email"


class MailCalls:
    """E-mail calls of :class:`~client.sdk.HotlineClient` (a mixin)."""

    async def set_email(self: Requester, address: str) -> OperatorEmail:
        """Where the signed-in operator's mail goes from now on.

        Raises:
            Invalid: ``address`` is not an e-mail address (``name@example.org``); the
                address in force stays.
        """
        return await MailCalls.set_operator_email(self, await _me(self), address)

    async def clear_email(self: Requester) -> OperatorEmail:
        """Forget the signed-in operator's address: no mail goes to it until one is set."""
        return await MailCalls.set_operator_email(self, await _me(self), None)

    async def set_operator_email(
        self: Requester, operator: str, address: str | None
    ) -> OperatorEmail:
        """Set, or with ``None`` clear, an operator's e-mail address.

        Setting the same address twice is setting it once, so a lost answer is retried
        by itself.

        Args:
            operator: the operator's id: one's own, or, for an admin, any of its party's.
            address: such as ``ana.lopez@water.example``; ``None`` clears it.

        Raises:
            Invalid: ``address`` is not an e-mail address.
            Forbidden: another operator's address, and the caller is not its admin.
            NotFound: no such operator of the caller's party.
        """
        path = _email_path(operator)
        if address is None:
            await self._exchange("DELETE", path, retry=True)
            return OperatorEmail(operator=operator, email=None)
        body = checked(EmailAddress, {"email": address})
        found = await self._request("PUT", path, json=body.model_dump(mode="json"), retry=True)
        return OperatorEmail.model_validate(found)


async def _me(client: Requester) -> str:
    """The signed-in operator's id."""
    me = Me.model_validate(await client._request("GET", "/me", retry=True))
    return me.operator.id
