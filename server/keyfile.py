"""A server key file made whole or not at all, by whichever process starts first.

The log key (``server/keys.py``) and the secrets key (``server/secrets.py``) are made on
first start. A server started with several workers starts them at once, and each finds no
key file: one key must win, and no worker may read a file before its key is in it (an
empty file is "not a key", and that worker would refuse to start).

So a worker never writes under the key file's name. It writes its key to a temporary file
of its own in the same directory (mode 0600 from the first byte, flushed to disk), then
links that file to the key file's name. ``link`` fails if the name exists: a key is never
overwritten, and the name appears with its whole content at once. The worker that loses
removes its temporary file and reads the winner's key, as a worker started later does.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["make_key_file"]


def make_key_file(path: Path, text: str) -> bool:
    """Make ``path`` (mode 0600) holding ``text`` and a newline, unless it exists already.

    Args:
        path: the key file; its directory is made if missing.
        text: the key, as the file holds it.

    Returns:
        Whether this call made the file; ``False``: another process (or an earlier start)
        made it, and its key is the one to read.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp opens with O_EXCL and mode 0600: no one else can read the key as it is written.
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(text + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        _sync_directory(path.parent)
        return True
    finally:
        os.unlink(temporary)


def _sync_directory(directory: Path) -> None:
    """Flush the directory entry to disk, so the new name survives a power cut."""
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
