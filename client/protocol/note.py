"""Signed notes (https://c2sp.org/signed-note) with Ed25519 keys.

A signed note is a text, a blank line, and one or more signature lines::

    example.com/hotline/channel/7
    42
    u6ZlZu6nTQ6fyKr3SEVw1QBuOGpL1ppXlqtl8ZqJHnQ=

    — example.com/hotline oRn0KwAAsR4fS2dWzrWbvwF...

A signature line is an em dash (U+2014), a space, the key's name, a space, and the
base64 of the 4-byte key ID followed by the 64-byte Ed25519 signature of the text. The
text is everything up to the last blank line, its final newline included.

Keys travel as strings in the format of Go's ``golang.org/x/mod/sumdb/note``, so keys
made here work with the Go tools and the other way round::

    signer key    PRIVATE+KEY+<name>+<key ID>+<base64(0x01 || 32-byte private seed)>
    verifier key  <name>+<key ID>+<base64(0x01 || 32-byte public key)>

    key ID = SHA-256(name || 0x0A || 0x01 || public key)[:4], written as 8 hex digits

The 0x01 says "Ed25519"; hashing it into the key ID keeps a key used with another
algorithm from ever sharing an ID with this one.

Opening a note follows the spec: signatures by unknown keys are ignored (so that a log can
rotate its key and others can cosign), every signature by a known key must verify, and
at least one must be there. Base64 is read strictly: only the one canonical spelling of
any bytes is accepted.

Exceptions::

    ValueError
     └── NoteError                   a bad key or argument; the root of the others
          ├── MalformedNoteError     the note is not in the signed-note format
          ├── UnverifiedNoteError    no signature by a known key
          └── InvalidSignatureError  a signature by a known key does not verify
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

__all__ = [
    "InvalidSignatureError",
    "MalformedNoteError",
    "NoteError",
    "Signer",
    "UnverifiedNoteError",
    "Verifier",
    "generate_key",
    "open_note",
    "sign_note",
    "verifier_key",
]

_ED25519 = b"\x01"
_SIGNER_PREFIX = "PRIVATE+KEY+"
_SIGNATURE_PREFIX = "\N{EM DASH} "
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")
# The spec asks verifiers to accept at least 16 signatures; Go's limit is 100.
_MAX_SIGNATURES = 100


class NoteError(ValueError):
    """A note or key cannot be used; raised directly for bad keys and arguments."""


class MalformedNoteError(NoteError):
    """The note is not in the signed-note format."""


class UnverifiedNoteError(NoteError):
    """The note carries no signature by any of the known keys.

    Attributes:
        signers: The key names on the note's signature lines, all of them unknown.
    """

    def __init__(self, message: str, *, signers: tuple[str, ...]) -> None:
        super().__init__(message)
        self.signers = signers


class InvalidSignatureError(NoteError):
    """A signature by a known key does not verify: the note was altered, or forged.

    Attributes:
        name: The key's name.
        key_id: The key's 4-byte ID.
    """

    def __init__(self, message: str, *, name: str, key_id: bytes) -> None:
        super().__init__(message)
        self.name = name
        self.key_id = key_id


def _has_control_characters(text: str) -> bool:
    return any(char < " " and char != "\n" for char in text)


def _is_valid_utf8(text: str) -> bool:
    # A Python str can hold lone surrogates, which have no UTF-8 spelling.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_name(name: str) -> None:
    if (
        not name
        or "+" in name
        or any(char.isspace() for char in name)
        or _has_control_characters(name)
        or not _is_valid_utf8(name)
    ):
        raise NoteError(f"{name!r} is not a key name: it must be non-empty, without spaces or +")


def _decode_base64(text: str) -> bytes | None:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    # b64decode lets through spellings with stray low bits; accept only the canonical one.
    return data if base64.b64encode(data).decode("ascii") == text else None


def _encode_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + _ED25519 + public_key).digest()[:4]


def _split_key(key: str, what: str) -> tuple[str, bytes, bytes]:
    """Split ``<name>+<key ID>+<base64(0x01 || key)>``; the caller checks name and ID."""
    # Neither a name nor a key ID holds a '+'; base64 can, so the key comes last.
    parts = key.split("+", 2)
    if len(parts) != 3:
        raise NoteError(f"malformed {what}: expected <name>+<key ID>+<key>")
    name, key_id_hex, key_base64 = parts
    if not _KEY_ID_HEX.fullmatch(key_id_hex):
        raise NoteError(f"malformed {what}: the key ID is not 8 lower-case hex digits")
    data = _decode_base64(key_base64)
    if data is None or len(data) != 1 + 32:
        raise NoteError(f"malformed {what}: the key is not base64 of 33 bytes")
    if data[:1] != _ED25519:
        raise NoteError(f"unsupported {what}: algorithm {data[0]:#04x} is not Ed25519")
    return name, bytes.fromhex(key_id_hex), data[1:]


def _format_key(name: str, key_id: bytes, key: bytes) -> str:
    return f"{name}+{key_id.hex()}+{_encode_base64(_ED25519 + key)}"


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 public key and its name: what opens the notes its signer signs.

    Raises:
        NoteError: The name is not a key name, or the key does not have 32 bytes.
    """

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.public_key) != 32:
            raise NoteError("an Ed25519 public key has 32 bytes")

    @classmethod
    def parse(cls, verifier_key: str) -> Verifier:
        """Read a verifier key string, checking that its key ID matches its key.

        Raises:
            NoteError: The string is not a well-formed Ed25519 verifier key.
        """
        name, key_id, public_key = _split_key(verifier_key, "verifier key")
        verifier = cls(name, public_key)
        if key_id != verifier.key_id:
            raise NoteError("malformed verifier key: the key ID does not match the key")
        return verifier

    def __reduce__(self) -> tuple[type[Verifier], tuple[str, bytes]]:
        # Pickled as its fields: the cached key object below cannot be.
        return (type(self), (self.name, self.public_key))

    # Derived once per key, not once per signature: a server checks and signs many.
    @cached_property
    def key_id(self) -> bytes:
        """The 4-byte ID that tells this key's signatures from others of the same name."""
        return _key_id(self.name, self.public_key)

    @cached_property
    def _public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    def __str__(self) -> str:
        return _format_key(self.name, self.key_id, self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            self._public_key.verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """An Ed25519 private key and its name: what signs notes.

    Raises:
        NoteError: The name is not a key name, or the seed does not have 32 bytes.
    """

    name: str
    seed: bytes = field(repr=False)  # the private key itself: keep it out of logs

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.seed) != 32:
            raise NoteError("an Ed25519 private key has 32 bytes")

    @classmethod
    def parse(cls, signer_key: str) -> Signer:
        """Read a signer key string, checking that its key ID matches its key.

        Raises:
            NoteError: The string is not a well-formed Ed25519 signer key.
        """
        if not signer_key.startswith(_SIGNER_PREFIX):
            raise NoteError(f"malformed signer key: it must start with {_SIGNER_PREFIX}")
        name, key_id, seed = _split_key(signer_key.removeprefix(_SIGNER_PREFIX), "signer key")
        signer = cls(name, seed)
        if key_id != signer.key_id:
            raise NoteError("malformed signer key: the key ID does not match the key")
        return signer

    @property
    def key_id(self) -> bytes:
        """The 4-byte ID of this key, as its signature lines carry it."""
        return self.verifier().key_id

    def verifier(self) -> Verifier:
        """The verifier for this signer's signatures."""
        return self._verifier

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self._private_key.sign(message)

    def __reduce__(self) -> tuple[type[Signer], tuple[str, bytes]]:
        # Pickled as its fields: the cached key objects below cannot be.
        return (type(self), (self.name, self.seed))

    # Derived once per key, not once per signature (the server signs every batch it pushes).
    @cached_property
    def _private_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @cached_property
    def _verifier(self) -> Verifier:
        public = self._private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return Verifier(self.name, public)


def generate_key(name: str) -> tuple[str, str]:
    """Make a new Ed25519 key pair called ``name``.

    Args:
        name: The key's name, best a schema-less URL such as ``example.com/hotline``.

    Returns:
        ``(signer_key, verifier_key)``. The signer key is a secret; the verifier key is
        what others need to open the notes it signs.

    Raises:
        NoteError: ``name`` is empty or holds spaces or ``+``.
    """
    seed = Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    signer = Signer(name, seed)
    return _SIGNER_PREFIX + _format_key(name, signer.key_id, seed), str(signer.verifier())


def verifier_key(signer_key: str) -> str:
    """The verifier key that opens notes signed with ``signer_key``.

    Raises:
        NoteError: ``signer_key`` is not a well-formed signer key.
    """
    return str(Signer.parse(signer_key).verifier())


def sign_note(text: str, signer_key: str | Signer | Iterable[str | Signer]) -> str:
    """Sign ``text`` and return the signed note.

    Args:
        text: The note text: non-empty, ending in a newline, without control characters
            other than newlines.
        signer_key: A signer key string or a parsed :class:`Signer`, or several of them:
            a log that rotates its key signs with the old and the new key for a while,
            so that readers who know either can open its notes.

    Raises:
        NoteError: The text or a key is not acceptable.
    """
    keys = [signer_key] if isinstance(signer_key, str | Signer) else list(signer_key)
    if not keys:
        raise NoteError("a note needs at least one signer")
    signers = [key if isinstance(key, Signer) else Signer.parse(key) for key in keys]
    if not text.endswith("\n"):
        raise NoteError("a note text must end with a newline")
    if _has_control_characters(text) or not _is_valid_utf8(text):
        raise NoteError("a note text must be UTF-8 without control characters but newline")
    message = text.encode("utf-8")
    lines = [
        f"{_SIGNATURE_PREFIX}{signer.name} {_encode_base64(signer.key_id + signer.sign(message))}\n"
        for signer in signers
    ]
    return f"{text}\n{''.join(lines)}"


def _parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    """Split a signature line into key name, key ID and signature."""
    if not line.startswith(_SIGNATURE_PREFIX):
        raise MalformedNoteError("a signature line must start with an em dash and a space")
    name, space, signature_base64 = line.removeprefix(_SIGNATURE_PREFIX).partition(" ")
    if not space:
        raise MalformedNoteError("a signature line must be '— <name> <signature>'")
    try:
        _check_name(name)
    except NoteError as error:
        raise MalformedNoteError(f"bad signature line: {error}") from None
    signature = _decode_base64(signature_base64)
    if signature is None or len(signature) < 5:
        raise MalformedNoteError(f"the signature by {name} is not base64 of a key ID and more")
    return name, signature[:4], signature[4:]


def _verifiers(
    keys: str | Verifier | Iterable[str | Verifier],
) -> dict[tuple[str, bytes], Verifier]:
    # A lone string is also an iterable (of characters): take it as one key.
    if isinstance(keys, str | Verifier):
        keys = [keys]
    known: dict[tuple[str, bytes], Verifier] = {}
    for key in keys:
        verifier = key if isinstance(key, Verifier) else Verifier.parse(key)
        if known.setdefault((verifier.name, verifier.key_id), verifier) != verifier:
            raise NoteError(f"two different verifier keys share {verifier.name} and key ID")
    return known


def open_note(note: str, verifier_keys: str | Verifier | Iterable[str | Verifier]) -> str:
    """Check a signed note's signatures and return its text.

    Args:
        note: The signed note.
        verifier_keys: The keys to trust: one, or several, as strings or parsed
            :class:`Verifier`.

    Returns:
        The note text, ending in a newline: safe to use, because a known key signed it.

    Raises:
        MalformedNoteError: The note is not in the signed-note format.
        UnverifiedNoteError: No signature is by a known key.
        InvalidSignatureError: A signature by a known key does not verify.
        NoteError: A verifier key is malformed, or two of them are ambiguous.
    """
    known = _verifiers(verifier_keys)
    if _has_control_characters(note) or not _is_valid_utf8(note):
        raise MalformedNoteError("a note must be UTF-8 without control characters but newline")
    # The text may hold blank lines itself; the signatures begin after the last one.
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("a note needs a blank line between text and signatures")
    text, signature_block = note[: split + 1], note[split + 2 :]
    if not signature_block.endswith("\n"):
        raise MalformedNoteError("a note must end with a newline after its signatures")
    lines = signature_block.removesuffix("\n").split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise MalformedNoteError(f"a note may carry at most {_MAX_SIGNATURES} signatures")

    message = text.encode("utf-8")
    signers: list[str] = []
    verified = False
    for line in lines:
        name, key_id, signature = _parse_signature_line(line)
        signers.append(name)
        verifier = known.get((name, key_id))
        if verifier is None:
            continue
        if not verifier.verify(message, signature):
            raise InvalidSignatureError(
                f"the signature by {name} ({key_id.hex()}) does not verify",
                name=name,
                key_id=key_id,
            )
        verified = True
    if not verified:
        raise UnverifiedNoteError(
            f"no signature by a known key (signed by: {', '.join(signers)})",
            signers=tuple(signers),
        )
    return text
