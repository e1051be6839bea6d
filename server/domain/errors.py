"""Why the domain refuses a command.

Every refusal is a :class:`Refusal`; the API maps each class to an HTTP status and a
problem type in one place (``server/api/problems.py``)::

    Refusal
    ├── NotFound              the notice or channel does not exist for this caller
    ├── Forbidden             the caller's role or party may not do this
    ├── TooLarge              an upload beyond the size the server accepts
    ├── UnsupportedType       an upload of a media type notices cannot carry
    ├── Conflict
    │   ├── IdempotencyConflict   a notice id reused with other content
    │   │   └── ProposalIdConflict    a proposal id reused
    │   ├── AlreadyDecided        a second acknowledgement or objection
    │   ├── NoticeClosed          acting on a notice that is cancelled or decided
    │   ├── ProposalClosed        accepting or withdrawing a proposal no longer waiting
    │   └── CheckClosed           answering a check after its window closed
    └── Invalid               the command itself is malformed or breaks the policy
        ├── BadSignature          a signature that does not verify with the key in force
        ├── SignatureRequired     an unsigned notice or decision where policy wants one
        ├── BadKey                a malformed key, or one not named after its operator
        ├── TypeMismatch          an upload whose content is not of its declared type
        └── UnknownAttachment     a notice listing a file its party never uploaded here
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from server.domain.model import Notice

__all__ = [
    "AlreadyDecided",
    "BadKey",
    "BadSignature",
    "CheckClosed",
    "Conflict",
    "Forbidden",
    "IdempotencyConflict",
    "Invalid",
    "NotFound",
    "NoticeClosed",
    "ProposalClosed",
    "ProposalIdConflict",
    "Refusal",
    "SignatureRequired",
    "TooLarge",
    "TypeMismatch",
    "UnknownAttachment",
    "UnsupportedType",
]


class Refusal(Exception):
    """The root of every refusal; ``code`` is a stable, machine-readable slug."""

    code = "refused"

    def __init__(self, message: str, *, notice_id: UUID | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.notice_id = notice_id


class NotFound(Refusal):
    """The thing does not exist, or belongs to a channel the caller cannot see."""

    code = "not-found"


class Forbidden(Refusal):
    """The caller is known but its role or party may not do this."""

    code = "forbidden"


class TooLarge(Refusal):
    """An upload larger than the server accepts; ``limit`` is that size in bytes."""

    code = "content-too-large"

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class UnsupportedType(Refusal):
    """An upload of a media type a notice cannot carry (see ``server/domain/attachments.py``)."""

    code = "attachment-type-unsupported"


class Conflict(Refusal):
    """The command clashes with what the log already holds."""

    code = "conflict"


class IdempotencyConflict(Conflict):
    """A notice id was sent before with other content (ids are unique for ever)."""

    code = "notice-id-conflict"


class ProposalIdConflict(IdempotencyConflict):
    """A policy proposal id was used before for another policy, or is no longer waiting."""

    code = "proposal-id-conflict"


class AlreadyDecided(Conflict):
    """The notice was already acknowledged or objected to; the first decision stands."""

    code = "already-decided"

    def __init__(self, message: str, *, notice: Notice) -> None:
        super().__init__(message, notice_id=notice.id)
        self.notice = notice


class NoticeClosed(Conflict):
    """The notice is cancelled (or decided) and can no longer change this way."""

    code = "notice-closed"


class ProposalClosed(Conflict):
    """The policy proposal lapsed, was withdrawn, replaced or accepted: it waits no more."""

    code = "proposal-closed"


class CheckClosed(Conflict):
    """The liveness check's answer window has closed (it is, or will be, logged missed)."""

    code = "check-closed"


class Invalid(Refusal):
    """The command is malformed or breaks the channel policy."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class BadSignature(Invalid):
    """The signature is malformed, by a key other than the operator's key in force, or false."""

    code = "bad-signature"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="signature")


class SignatureRequired(Invalid):
    """The channel policy requires signed notices and decisions, and this one is not."""

    code = "signature-required"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="signature")


class BadKey(Invalid):
    """A verifier key that is malformed, or not named after the operator registering it."""

    code = "bad-key"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="verifier_key")


class TypeMismatch(Invalid):
    """An upload whose bytes are not what its ``Content-Type`` says (a PNG that is no PNG)."""

    code = "attachment-type-mismatch"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="body")


class UnknownAttachment(Invalid):
    """A notice lists a file that its party did not upload to the channel, as listed."""

    code = "attachment-unknown"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="attachments")
