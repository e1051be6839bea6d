"""Checkpoints (https://c2sp.org/tlog-checkpoint): the text a log signs about its tree.

A checkpoint says "the log called *origin* has *size* entries, and this is their Merkle
root". It is the text of a signed note (see :mod:`client.protocol.note`)::

    example.com/hotline/channel/7
    42
    u6ZlZu6nTQ6fyKr3SEVw1QBuOGpL1ppXlqtl8ZqJHnQ=

Line 1 is the origin, line 2 the tree size in decimal, line 3 the base64 of the 32-byte
root hash, and every line ends with a newline. Any further lines are *extension lines*:
opaque, non-empty, and kept here in order (the spec discourages them, as monitors cannot
audit them, but a reader must tolerate them).

Every checkpoint has one spelling: a size has no sign and no leading zeros and is at most
2**64 - 1 (as in the Go tools), and a root hash has only its canonical base64. So two
checkpoints are equal exactly when their texts are, and formatting a parsed checkpoint
gives back the very text that was signed.

:func:`sign_checkpoint` and :func:`open_checkpoint` put the two together. Opening also
checks the origin: a valid checkpoint of some other log, signed by the same key, must not
pass for one of this log.

Exceptions::

    ValueError
     └── CheckpointError    a checkpoint text or value is malformed
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

from client.protocol.note import Signer, Verifier, open_note, sign_note

__all__ = [
    "MAX_SIZE",
    "Checkpoint",
    "CheckpointError",
    "format",
    "open_checkpoint",
    "parse",
    "sign_checkpoint",
]

MAX_SIZE = 2**64 - 1
"""The largest tree size a checkpoint can state."""

_SIZE = re.compile(r"0|[1-9][0-9]*")
_HASH_SIZE = 32


class CheckpointError(ValueError):
    """A checkpoint text, or a value meant to become one, is malformed."""


def _check_line(what: str, line: str) -> None:
    # Signed notes refuse control characters, so a checkpoint holding one could never be
    # signed; and a newline inside a line would shift every line after it.
    if not line:
        raise CheckpointError(f"the {what} is empty")
    if any(char < " " for char in line):
        raise CheckpointError(f"the {what} holds a control character or newline")


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: its origin, its size, its root hash.

    Attributes:
        origin: The log's unique name, such as ``example.com/hotline/channel/7``.
        size: The number of entries in the log.
        root_hash: The RFC 6962 Merkle root of those entries, 32 bytes.
        extensions: Extension lines after the root hash, without their newlines.

    Raises:
        CheckpointError: A field cannot be written as a checkpoint.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("origin", self.origin)
        if not 0 <= self.size <= MAX_SIZE:
            raise CheckpointError(f"a tree size must be between 0 and 2**64 - 1, not {self.size}")
        if len(self.root_hash) != _HASH_SIZE:
            raise CheckpointError(f"a root hash has {_HASH_SIZE} bytes, not {len(self.root_hash)}")
        for extension in self.extensions:
            _check_line("extension line", extension)


# This `format` hides the builtin, which this module never needs; callers write
# `checkpoint.format(...)`, which reads as what it does.
def format(checkpoint: Checkpoint) -> str:
    """The checkpoint's note text, ending in a newline."""
    lines = [
        checkpoint.origin,
        str(checkpoint.size),
        base64.b64encode(checkpoint.root_hash).decode("ascii"),
        *checkpoint.extensions,
    ]
    return "".join(line + "\n" for line in lines)


def parse(text: str) -> Checkpoint:
    """Read a checkpoint's note text.

    Args:
        text: The text of the checkpoint note, after its signatures have been checked.

    Raises:
        CheckpointError: The text is not a well-formed checkpoint.
    """
    if not text.endswith("\n"):
        raise CheckpointError("a checkpoint must end with a newline")
    lines = text.removesuffix("\n").split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint needs an origin, a size and a root hash")
    origin, size, root, *extensions = lines

    if not _SIZE.fullmatch(size):
        raise CheckpointError(f"the tree size {size!r} is not a plain decimal number")
    # Checked before int() so that a huge number costs nothing to refuse.
    if len(size) > len(str(MAX_SIZE)):
        raise CheckpointError("the tree size does not fit in 64 bits")
    try:
        root_hash = base64.b64decode(root, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"the root hash {root!r} is not base64") from None
    if base64.b64encode(root_hash).decode("ascii") != root:
        raise CheckpointError(f"the root hash {root!r} is not canonical base64")
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(
    checkpoint: Checkpoint, signer_key: str | Signer | Iterable[str | Signer]
) -> str:
    """The checkpoint as a note signed with ``signer_key`` (one key, or several).

    Raises:
        NoteError: The signer key is malformed.
    """
    return sign_note(format(checkpoint), signer_key)


def open_checkpoint(
    signed: str,
    verifier_keys: str | Verifier | Iterable[str | Verifier],
    *,
    origin: str,
) -> Checkpoint:
    """Check a signed checkpoint of the log called ``origin`` and read it.

    Args:
        signed: The signed note holding the checkpoint.
        verifier_keys: The keys trusted to sign for the log (see
            :func:`client.protocol.note.open_note`).
        origin: The origin the checkpoint must state.

    Raises:
        NoteError: The note is malformed or not validly signed by a trusted key.
        CheckpointError: The note text is not a checkpoint, or is one of another log.
    """
    checkpoint = parse(open_note(signed, verifier_keys))
    if checkpoint.origin != origin:
        raise CheckpointError(f"the checkpoint is of {checkpoint.origin!r}, not of {origin!r}")
    return checkpoint
