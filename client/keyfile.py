"""An operator's signing key in a file: made once, readable by its owner only, never shown.

The file holds one line, the signer key in the format of ``client/protocol/note.py``
(``PRIVATE+KEY+<operator id>+<key id>+<base64>``). Its public half, the verifier key, is
what the operator registers on a channel and what the other party checks with.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from client.errors import HotlineError
from client.protocol.limits import ID_PATTERN
from client.protocol.note import NoteError, Signer, generate_key

__all__ = ["KeyFileError", "create_key_file", "default_key_file", "read_key_file"]


class KeyFileError(HotlineError):
    """A key file cannot be made or read; the message never holds the key itself."""


def default_key_file(operator: str) -> Path:
    """Where ``hotline keygen`` writes an operator's key unless told otherwise."""
    return Path.home() / ".config" / "hotline" / f"{operator}.key"


def create_key_file(path: Path, operator: str) -> str:
    """Make a new signing key named after ``operator`` and write it to ``path``.

    The file is created with mode 0600, and never over an existing one: a key replaced by
    mistake could no longer sign for what its registration promises.

    Returns:
        The verifier key, to register on channels and give to the other party.

    Raises:
        KeyFileError: ``operator`` is not an operator id, ``path`` exists already, or it
            cannot be written.
    """
    if not re.fullmatch(ID_PATTERN, operator):
        raise KeyFileError(f"{operator!r} is not an operator id (lower-case, digits, . _ -)")
    signer_key, verifier_key = generate_key(operator)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # O_EXCL: refuse to overwrite; 0o600 from the first byte, not chmod-ed afterwards.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} exists already; a key file is never overwritten") from None
    except OSError as exc:
        raise KeyFileError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(signer_key + "\n")
    return verifier_key


def read_key_file(path: Path) -> str:
    """The signer key held in ``path``.

    Raises:
        KeyFileError: the file cannot be read, or does not hold a signer key.
    """
    try:
        text = path.expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise KeyFileError(f"cannot read the signing key file {path}: {reason}") from None
    try:
        Signer.parse(text)
    except NoteError:
        # Not the parser's message: it could quote part of what the file holds.
        raise KeyFileError(f"{path} does not hold a signing key (PRIVATE+KEY+…)") from None
    return text
