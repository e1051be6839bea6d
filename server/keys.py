"""The server's signing key: made on first start, kept in a file only its owner can read.

The key signs checkpoints (see ``server/service/log.py``). It lives outside the database
on purpose: a copy or backup of the database alone cannot sign anything. It does not stop
someone who can write to the database of a *running* server: the server signs whatever
tree it holds, so a rewritten history (events and tree together) gets signed too. That is
caught by every client and verifier that kept an earlier checkpoint (a split view), and by
nobody who did not: docs/explanation/verifiable-log.md says so.

The file holds one line, the signer key in the signed-note format
(``PRIVATE+KEY+<name>+<key ID>+<base64>``); it is created with mode 0600, whole, by
whichever worker starts first (``server/keyfile.py``), and refused if anyone but its owner
can read it, as ssh refuses a private key.

Rotation (docs/how-to/rotate-the-log-key.md): ``hotline admin log-key rotate`` moves the
current key to ``<file>.previous`` and writes a new one. While the previous file exists
the server signs every checkpoint with both keys, so that clients who trust either can
open it; once clients have the new verifier key, delete the previous file.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from client.protocol.note import NoteError, Signer, generate_key
from server.keyfile import make_key_file

__all__ = ["KeyFileError", "LogKeys", "previous_path", "rotate"]


class KeyFileError(Exception):
    """The key file cannot be used: unreadable, open to others, or not a signer key."""


def previous_path(path: Path) -> Path:
    """Where the key that ``rotate`` replaced is kept."""
    return path.with_name(path.name + ".previous")


def _read(path: Path) -> Signer:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"{path} can be read by others (mode {stat.filemode(mode)}); "
            f"run `chmod 600 {path}` if no one else has seen it, else rotate the key"
        )
    try:
        return Signer.parse(path.read_text(encoding="ascii").strip())
    except (OSError, UnicodeDecodeError, NoteError) as exc:
        raise KeyFileError(f"{path} does not hold a signer key: {exc}") from exc


@dataclass(frozen=True)
class LogKeys:
    """The key that signs checkpoints, and the one it replaced, if still kept.

    Attributes:
        signer: The current key.
        previous: The key before the last rotation, while its file is kept.
    """

    signer: Signer
    previous: Signer | None = None

    @property
    def name(self) -> str:
        """The key's name, which is also the log name in every origin."""
        return self.signer.name

    @property
    def signers(self) -> list[Signer]:
        """Every key a checkpoint is signed with: the current one first."""
        return [self.signer] if self.previous is None else [self.signer, self.previous]

    @property
    def verifier_key(self) -> str:
        """The current verifier key, ``<name>+<key ID>+<base64>``: public."""
        return str(self.signer.verifier())

    @classmethod
    def load_or_create(cls, path: Path, *, name: str) -> LogKeys:
        """Read the key file at ``path``, creating it with a new key named ``name`` if absent.

        Raises:
            KeyFileError: the file is open to others, is not a signer key, or holds a key
                with another name than ``name``.
        """
        if not path.exists():
            # Workers starting at once each offer a key; one wins, and all read the winner's.
            secret, _ = generate_key(name)
            make_key_file(path, secret)
        signer = _read(path)
        if signer.name != name:
            raise KeyFileError(
                f"{path} holds a key named {signer.name!r}, but the log name is {name!r}: "
                "set HOTLINE_LOG_NAME to the key's name, or rotate to a key with the new name"
            )
        old = previous_path(path)
        return cls(signer, _read(old) if old.exists() else None)


def rotate(path: Path, *, name: str) -> LogKeys:
    """Replace the key at ``path`` with a new one named ``name``, keeping the old beside it.

    Raises:
        KeyFileError: there is no key to rotate, or an earlier rotation is still in
            progress (its previous file still exists).
    """
    old = previous_path(path)
    if not path.exists():
        raise KeyFileError(f"there is no key at {path} to rotate")
    if old.exists():
        raise KeyFileError(
            f"{old} still exists: finish the last rotation (delete it) before starting another"
        )
    _read(path)  # refuse to keep a key file that is open to others
    path.rename(old)
    secret, _ = generate_key(name)
    # A server started between the rename and this made a new key already: it stands.
    make_key_file(path, secret)
    return LogKeys(_read(path), _read(old))
