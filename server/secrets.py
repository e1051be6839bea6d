"""Secrets at rest: webhook signing secrets, encrypted in the database with a key kept outside it.

A webhook's secret must be stored in a form the server can use again (it signs every
call with it), unlike a bearer token, whose hash is enough. So it is encrypted, with
AES-256-GCM, under a key that lives in a file beside the log key
(``HOTLINE_SECRETS_KEY_FILE``), not in the database: a copy or a backup of the database
alone reveals no secret. The key file is made on first start with mode 0600, whole, by
whichever worker starts first (``server/keyfile.py``), and refused if anyone but its
owner can read it, as ``server/keys.py`` does for the log key.

Each sealed secret is bound to the row it belongs to: the webhook's id is GCM's
*associated data*, so a sealed secret copied onto another subscription does not open.
The stored form is ``aesgcm.<base64 of the 12-byte nonce and the ciphertext>``, the
prefix leaving room for another scheme later.

Nothing here logs a secret, and :class:`SecretBox` shows no key in its ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server.keyfile import make_key_file

__all__ = ["SCHEME", "SecretBox", "SecretsError"]

SCHEME = "aesgcm"
"""The prefix of a sealed secret: the cipher that sealed it."""

_NONCE_BYTES = 12


class SecretsError(Exception):
    """The secrets key cannot be used, or a sealed secret does not open with it."""


def _read(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(
            f"{path} can be read by others (mode {stat.filemode(mode)}); run `chmod 600 "
            f"{path}` if no one else has seen it, else make every webhook secret anew"
        )
    try:
        key = base64.b64decode(path.read_text(encoding="ascii").strip(), validate=True)
    except (OSError, UnicodeDecodeError, binascii.Error) as exc:
        raise SecretsError(f"{path} does not hold a secrets key: {exc}") from exc
    if len(key) != 32:
        raise SecretsError(f"{path} does not hold a 256-bit key")
    return key


class SecretBox:
    """Seals and opens secrets with one AES-256-GCM key.

    Args:
        key: 32 bytes.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise SecretsError("a secrets key is 32 bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    @classmethod
    def load_or_create(cls, path: Path) -> SecretBox:
        """Read the key file at ``path``, making it (mode 0600) with a new key if absent.

        Raises:
            SecretsError: the file is open to others or does not hold a key.
        """
        if not path.exists():
            # Never overwritten (every sealed secret would be lost); workers starting at
            # once each offer a key, one wins, and all read the winner's.
            make_key_file(path, base64.b64encode(AESGCM.generate_key(bit_length=256)).decode())
        return cls(_read(path))

    def seal(self, secret: str, *, bound_to: str) -> str:
        """Encrypt ``secret`` for storage, bound to ``bound_to`` (the webhook's id)."""
        nonce = os.urandom(_NONCE_BYTES)  # random 96-bit nonces: safe far beyond 2**32 seals
        sealed = self._aead.encrypt(nonce, secret.encode("utf-8"), bound_to.encode("utf-8"))
        return f"{SCHEME}.{base64.b64encode(nonce + sealed).decode('ascii')}"

    def open(self, stored: str, *, bound_to: str) -> str:
        """Decrypt a secret sealed by :meth:`seal` for the same ``bound_to``.

        Raises:
            SecretsError: not sealed by this key for this row, or altered.
        """
        scheme, _, rest = stored.partition(".")
        if scheme != SCHEME:
            raise SecretsError(f"a sealed secret starts with {SCHEME}.")
        try:
            raw = base64.b64decode(rest, validate=True)
            plain = self._aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], bound_to.encode("utf-8")
            )
        except (binascii.Error, InvalidTag, ValueError):
            # No detail: which of key, row or bytes is wrong is not for a log line.
            raise SecretsError("a sealed secret does not open with this key for this row") from None
        return plain.decode("utf-8")
